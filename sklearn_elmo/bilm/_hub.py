"""TF Hub ELMo modules (google/elmo and compatible) as a biLM backend.

A source is a TF Hub handle (``https://tfhub.dev/google/elmo/3``, a Kaggle
model URL) or a local directory holding a module. Handles resolve through
tensorflow_hub and its cache (``TFHUB_CACHE_DIR``); a handle that is neither
cached nor downloadable fails fast with a ValueError saying how to get the
module onto the machine. The module's ``"tokens"`` signature is called with
the package's own tokens; its outputs are stacked into the same
``(layers, mask)`` the native engine returns.

A TF Hub module runs its LSTM from a zero state and has no state input, so
``initial_state="auto"`` resolves to "zeros" for these sources, and "warm"
or "carry" are refused.
"""

import hashlib
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from ._protocol import batch_token_budget
from ._sources import is_hub_handle

# Seconds to wait for a handle's server before declaring it unreachable;
# the environment variable SKLEARN_ELMO_HUB_TIMEOUT overrides it.
CONNECT_TIMEOUT = 10.0
TIMEOUT_VARIABLE = "SKLEARN_ELMO_HUB_TIMEOUT"
TOKENS_SIGNATURE = "tokens"
_CHUNK = 1 << 20


def hub_cache_dir():
    """The folder tensorflow_hub caches downloaded modules in.

    ``TFHUB_CACHE_DIR`` (or tensorflow_hub's ``--tfhub_cache_dir`` flag), else
    ``<system temp>/tfhub_modules``, as tensorflow_hub itself decides.
    """
    from tensorflow_hub import resolver

    return resolver.tfhub_cache_dir(use_temp=True)


def cached_module_dir(handle):
    """Where tensorflow_hub keeps (or would keep) the module of ``handle``.

    tensorflow_hub stores a downloaded handle under the SHA-1 of the handle
    string, inside :func:`hub_cache_dir`.
    """
    return Path(hub_cache_dir()) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def _has_saved_model(path):
    return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()


def _offline_message(handle, reason):
    cache = cached_module_dir(handle)
    return (
        f"{handle}: cannot download this TF Hub module ({reason}), and it is not "
        f"in the TF Hub cache (looked for {cache}). sklearn-elmo does not fall back "
        "to another model. Either pre-download it on a machine with internet "
        "access into a cache folder, e.g. `TFHUB_CACHE_DIR=/path/to/cache python "
        f"-c \"import tensorflow_hub as hub; print(hub.resolve('{handle}'))\"`, "
        "copy that folder here and set TFHUB_CACHE_DIR=/path/to/cache before "
        "starting Python; or unpack the module (the folder holding "
        "saved_model.pb) anywhere and pass that local directory as the source."
    )


def _connect_timeout():
    raw = os.environ.get(TIMEOUT_VARIABLE)
    if raw is None:
        return CONNECT_TIMEOUT
    try:
        timeout = float(raw)
    except ValueError:
        timeout = -1.0
    if not timeout > 0:
        raise ValueError(
            f"{TIMEOUT_VARIABLE} must be a positive number of seconds, got {raw!r}"
        )
    return timeout


def _probe(url, timeout):
    """Reachability of ``url`` within ``timeout`` seconds.

    Returns ``None`` when the server answered (any HTTP status except 404),
    else a short reason. Runs in a daemon thread so that a stalled DNS lookup
    cannot outlive the timeout.
    """
    outcome = {}
    silent = f"no answer within {timeout:g} s"

    def attempt():
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                outcome["reason"] = "HTTP 404: no module at this address"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                outcome["reason"] = silent
            else:
                outcome["reason"] = str(reason) or type(reason).__name__

    thread = threading.Thread(target=attempt, name="sklearn-elmo-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return silent
    return outcome.get("reason")


def resolve_hub_source(source):
    """The local module directory for a TF Hub handle or module directory.

    A handle already in tensorflow_hub's cache resolves without the network.
    Otherwise its server is probed with a short timeout, then the module is
    downloaded into the cache by ``tensorflow_hub.resolve``.

    Raises
    ------
    ValueError
        If the directory holds no SavedModel, or the handle is neither cached
        nor downloadable (the message says how to pre-download it).
    """
    if not is_hub_handle(source):
        path = Path(os.path.expanduser(os.fspath(source))).resolve()
        if not path.is_dir() or not _has_saved_model(path):
            raise ValueError(
                f"{path}: not a TF Hub module directory (no saved_model.pb)"
            )
        return path
    handle = source
    from tensorflow_hub import resolver

    uncompressed = resolver.ModelLoadFormat.UNCOMPRESSED.value
    compressed = resolver.model_load_format() != uncompressed
    if compressed:
        cached = cached_module_dir(handle)
        if cached.is_dir() and any(cached.iterdir()):
            if not _has_saved_model(cached):
                raise ValueError(
                    f"{handle}: the TF Hub cache folder {cached} holds no "
                    "saved_model.pb; delete it and download the module again"
                )
            return cached
    scheme = urllib.parse.urlparse(handle).scheme.lower()
    if scheme in ("http", "https"):
        query = "tf-hub-format=" + ("compressed" if compressed else "uncompressed")
        url = handle + ("&" if "?" in handle else "?") + query
        reason = _probe(url, _connect_timeout())
        if reason is not None:
            raise ValueError(_offline_message(handle, reason))
    import tensorflow_hub as hub

    try:
        path = hub.resolve(handle)
    except Exception as exc:  # urllib, tf.errors, IOError: all mean "not here"
        reason = f"{type(exc).__name__}: {exc}"
        raise ValueError(_offline_message(handle, reason)) from exc
    path = Path(path)
    if not _has_saved_model(path):
        raise ValueError(f"{handle}: resolved to {path}, which holds no saved_model.pb")
    return path


def _module_files(path):
    return sorted(
        (p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file()
    )


def module_identity(path):
    """What changes when the module's files change (paths, sizes, mtimes)."""
    return ("tf-hub-module", str(path)) + tuple(
        (rel, p.stat().st_size, p.stat().st_mtime_ns) for rel, p in _module_files(path)
    )


def module_digest(path):
    """SHA-256 over the module's files: sorted relative paths and their bytes."""
    digest = hashlib.sha256(b"tf-hub-module\0")
    for rel, p in _module_files(path):
        digest.update(f"{rel}\0{p.stat().st_size}\0".encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


class HubBackend:
    """A google/elmo-style TF Hub module behind the backend protocol of ``Bilm``.

    Calls the module's ``"tokens"`` signature; layer 0 is ``word_emb``
    duplicated to the LSTM width, then ``lstm_outputs1``, ``lstm_outputs2``...
    The module keeps no state: ``zero_state`` is empty and ``run`` returns
    the state it was given.
    """

    initial_states = ("zeros",)

    def __init__(self, path, source):
        import tensorflow_hub as hub

        self.path = path
        self.source = source
        try:
            self.module = hub.load(str(path))
        except Exception as exc:
            raise ValueError(
                f"{source}: cannot load the TF Hub module in {path} ({exc})"
            ) from exc
        signatures = getattr(self.module, "signatures", {})
        if TOKENS_SIGNATURE not in signatures:
            raise ValueError(
                f"{source}: the module has no {TOKENS_SIGNATURE!r} signature "
                f"(has {sorted(signatures)}); expected a google/elmo-style module"
            )
        self._tokens = signatures[TOKENS_SIGNATURE]
        _, inputs = self._tokens.structured_input_signature
        missing = {"tokens", "sequence_len"} - set(inputs)
        if missing:
            raise ValueError(
                f"{source}: the {TOKENS_SIGNATURE!r} signature lacks the inputs "
                f"{sorted(missing)} (has {sorted(inputs)})"
            )
        self._length_dtype = inputs["sequence_len"].dtype
        outputs = self._tokens.structured_outputs
        self._layer_names = ["word_emb"]
        while f"lstm_outputs{len(self._layer_names)}" in outputs:
            self._layer_names.append(f"lstm_outputs{len(self._layer_names)}")
        if "word_emb" not in outputs or len(self._layer_names) < 2:
            raise ValueError(
                f"{source}: the {TOKENS_SIGNATURE!r} signature must return "
                f"'word_emb' and 'lstm_outputs1', ...; it returns {sorted(outputs)}"
            )
        self.n_layers = len(self._layer_names)
        dim = outputs["lstm_outputs1"].shape[-1]
        if dim is None:  # no static width: ask the module
            dim = self._call([["a"]])["lstm_outputs1"].shape[-1]
        self.dim = int(dim)
        # Published biLMs have LSTM cells 4x the output width: budget the
        # batch like the native engine does for the same model.
        self.max_batch_tokens = batch_token_budget(4 * self.dim)
        self.digest = module_digest(path)

    def _call(self, sentences):
        import tensorflow as tf

        width = max(len(s) for s in sentences)
        tokens = np.full((len(sentences), width), b"", dtype=object)
        for row, sentence in enumerate(sentences):
            tokens[row, : len(sentence)] = [
                t.encode("utf-8", errors="surrogatepass") for t in sentence
            ]
        lengths = np.array([len(s) for s in sentences])
        return self._tokens(
            tokens=tf.constant(tokens, tf.string),
            sequence_len=tf.constant(lengths, self._length_dtype),
        )

    def zero_state(self, n_rows):
        return ()

    def round_batch(self, n_rows):
        return n_rows  # the module runs any row count equally well

    def clear_token_cache(self):
        pass  # the module keeps no token embeddings between calls

    def embed_batches(self, batches, initial_state):
        if initial_state not in self.initial_states:
            raise ValueError(
                f"{self.source}: a TF Hub module has no initial-state input; use "
                'initial_state="auto" or "zeros"'
            )
        for batch in batches:
            yield self.run(batch, ())[0]

    def run(self, sentences, state):
        n = len(sentences)
        width = max((len(s) for s in sentences), default=0)
        layers = np.zeros((n, self.n_layers, width, self.dim), np.float32)
        if n == 0 or width == 0:
            return layers, state
        outputs = self._call(sentences)
        for k, name in enumerate(self._layer_names):
            value = outputs[name].numpy()
            if k == 0:
                value = np.concatenate([value, value], axis=-1)
            if value.shape != (n, width, self.dim):
                raise ValueError(
                    f"{self.source}: output {name!r} has shape {value.shape}, "
                    f"expected {(n, width, self.dim)} (word_emb: half the width)"
                )
            layers[:, k] = value
        lengths = np.array([len(s) for s in sentences])
        mask = np.arange(width)[None, :] < lengths[:, None]
        layers *= mask[:, None, :, None]
        return layers, state
