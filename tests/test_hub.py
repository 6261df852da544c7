"""TF Hub sources in load_bilm: the hub backend, handle resolution, offline errors."""

import hashlib
import http.server
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from sklearn_elmo import export_hub_module, load_bilm
from sklearn_elmo.bilm import _hub, clear_bilm_cache
from sklearn_elmo.testing import SIZES, make_random_bilm

tf = pytest.importorskip("tensorflow")
hub = pytest.importorskip("tensorflow_hub")

TFHUB_HANDLE = "https://tfhub.dev/google/elmo/3"
KAGGLE_HANDLE = "https://www.kaggle.com/models/google/elmo/TensorFlow1/elmo/3"

SENTENCES = [
    ["The", "cat", "sat", "on", "the", "mat", "."],
    ["Hello", "!"],
    [],
    ["naïve", "café", "x" * 60, "<S>", "</S>", "\udcff"],
    ["A"] * 23,
    ["short", "one"],
]


def _no_skip_options():
    options = {key: dict(value) for key, value in SIZES["tiny"].items()}
    options["lstm"]["use_skip_connections"] = False
    return options


@pytest.fixture(scope="module", params=["skip", "no_skip"])
def pair(request, tmp_path_factory):
    """(weights dir, module dir) of one tiny biLM, with / without skips."""
    root = tmp_path_factory.mktemp(f"hub-{request.param}")
    size = "tiny" if request.param == "skip" else _no_skip_options()
    bilm = make_random_bilm(root / "bilm", size=size, seed=5)
    return bilm, export_hub_module(bilm, root / "module")


@pytest.fixture()
def offline(monkeypatch):
    """No name resolves: the network is unreachable."""

    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", fail)


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "tfhub-cache"
    cache.mkdir()
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return cache


def test_hub_layers_equal_native(pair):
    native = load_bilm(pair[0], initial_state="zeros")
    from_hub = load_bilm(pair[1], initial_state="zeros")
    assert (from_hub.n_layers, from_hub.dim) == (native.n_layers, native.dim)
    expected, expected_mask = native.embed(SENTENCES, batch_size=2)
    layers, mask = from_hub.embed(SENTENCES, batch_size=2)
    assert layers.dtype == np.float32 and layers.shape == expected.shape
    np.testing.assert_array_equal(mask, expected_mask)
    assert np.max(np.abs(layers - expected)) <= 1e-5
    assert np.all(layers[~mask.astype(bool)[:, None, :].repeat(3, 1)] == 0)


def test_hub_bilm_is_shared_and_fingerprinted(pair, tmp_path):
    first = load_bilm(pair[1], initial_state="zeros")
    assert load_bilm(str(pair[1]), initial_state="zeros") is first
    assert first.fingerprint != load_bilm(pair[0], initial_state="zeros").fingerprint
    copy = shutil.copytree(pair[1], tmp_path / "copy")  # same bytes, other path
    assert load_bilm(copy, initial_state="zeros").fingerprint == first.fingerprint
    (copy / "extra.txt").write_text("changed")
    assert load_bilm(copy, initial_state="zeros").fingerprint != first.fingerprint


@pytest.mark.parametrize("initial_state", ["warm", "carry"])
def test_hub_takes_only_zero_state(pair, initial_state):
    with pytest.raises(
        ValueError, match=r'initial_state="auto" \(the default\) or "zeros"'
    ):
        load_bilm(pair[1], initial_state=initial_state)


def test_handle_resolves_from_tfhub_cache_offline(pair, empty_cache, offline):
    for handle in (TFHUB_HANDLE, KAGGLE_HANDLE):
        folder = hashlib.sha1(handle.encode()).hexdigest()  # tensorflow_hub's layout
        shutil.copytree(pair[1], empty_cache / folder)
        assert _hub.resolve_hub_source(handle) == empty_cache / folder
        bilm = load_bilm(handle, initial_state="zeros")
        layers, _ = bilm.embed(SENTENCES[:2])
        expected, _ = load_bilm(pair[0], initial_state="zeros").embed(SENTENCES[:2])
        assert np.max(np.abs(layers - expected)) <= 1e-5
        assert bilm.fingerprint == load_bilm(pair[1], initial_state="zeros").fingerprint


@pytest.mark.parametrize("handle", [TFHUB_HANDLE, KAGGLE_HANDLE])
def test_offline_handle_fails_fast_and_clearly(handle, empty_cache, offline):
    start = time.monotonic()
    with pytest.raises(ValueError) as info:
        load_bilm(handle, initial_state="zeros")
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert handle in message and "TFHUB_CACHE_DIR" in message
    assert "local directory" in message and "hub.resolve" in message
    assert str(empty_cache) in message
    assert list(empty_cache.iterdir()) == []  # nothing half-downloaded left


def test_silent_server_times_out(empty_cache, monkeypatch):
    monkeypatch.setenv("SKLEARN_ELMO_HUB_TIMEOUT", "1")
    with socket.socket() as server:  # accepts connections, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        handle = f"http://127.0.0.1:{server.getsockname()[1]}/google/elmo/3"
        start = time.monotonic()
        with pytest.raises(ValueError, match="no answer within 1 s"):
            load_bilm(handle, initial_state="zeros")
        assert time.monotonic() - start < 5


def test_bad_timeout_setting(empty_cache, monkeypatch):
    monkeypatch.setenv("SKLEARN_ELMO_HUB_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="SKLEARN_ELMO_HUB_TIMEOUT must be a positive"):
        load_bilm(TFHUB_HANDLE, initial_state="zeros")


def test_unresolvable_reply_is_wrapped(empty_cache):
    class NotAModule(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>not a tarball</html>")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotAModule)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        handle = f"http://127.0.0.1:{server.server_port}/google/elmo/3"
        with pytest.raises(ValueError, match="cannot download this TF Hub module"):
            load_bilm(handle, initial_state="zeros")
    finally:
        server.shutdown()
        server.server_close()


def test_directory_without_tokens_signature(tmp_path):
    tf.saved_model.save(tf.Module(), str(tmp_path / "other"))
    with pytest.raises(ValueError, match="no 'tokens' signature"):
        load_bilm(tmp_path / "other", initial_state="zeros")


def test_estimators_predict_the_same_with_either_source(pair):
    estimators = pytest.importorskip("sklearn_elmo.estimators")
    texts = [
        "the cat sat on the mat",
        "a dog barked",
        "cats purr softly",
        "dogs bark at night",
        "my cat sleeps",
        "that dog runs fast",
        "kittens are small cats",
        "puppies are dogs",
    ]
    y = [0, 1, 0, 1, 0, 1, 0, 1]
    results = []
    for model in pair:
        clf = estimators.ElmoClassifier(
            model=str(model), initial_state="zeros", epochs=3, random_state=0
        ).fit(texts, y)
        vectorizer = estimators.ElmoVectorizer(model=str(model), initial_state="zeros")
        vectors = vectorizer.fit_transform(texts)
        results.append((clf.predict(texts), clf.predict_proba(texts), vectors))
    (labels_a, proba_a, vectors_a), (labels_b, proba_b, vectors_b) = results
    np.testing.assert_array_equal(labels_a, labels_b)
    np.testing.assert_allclose(proba_a, proba_b, atol=1e-5)
    np.testing.assert_allclose(vectors_a, vectors_b, atol=1e-5)


def test_estimator_default_state_works_and_warm_is_refused(pair):
    estimators = pytest.importorskip("sklearn_elmo.estimators")
    clf = estimators.ElmoClassifier(model=str(pair[1]), epochs=1)
    clf.fit(["a b", "c d"], [0, 1])  # "auto": the module's own zero state
    assert clf.bilm_initial_state_ == "zeros"
    clf.set_params(initial_state="warm")
    with pytest.raises(ValueError, match='initial_state="auto" \\(the default\\)'):
        clf.fit(["a b", "c d"], [0, 1])


def teardown_module():
    clear_bilm_cache()
