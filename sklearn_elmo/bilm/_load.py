"""``load_bilm``: a user's source and initial state -> a shared :class:`Bilm`."""

from .._threads import apply_thread_setting
from ._native import WeightFilesBackend
from ._protocol import INITIAL_STATES
from ._registry import shared_bilm
from ._sources import is_hub_source, resolve_weight_files

# What ``initial_state`` accepts: a state, or "auto" (see resolve_initial_state).
INITIAL_STATE_OPTIONS = ("auto",) + INITIAL_STATES


def resolve_initial_state(source, initial_state="auto"):
    """The initial state ``load_bilm(source, initial_state)`` runs with.

    "auto" is "zeros" for TF Hub modules (the only state they take: they
    have no state input) and "warm" for weight files; other values are
    returned unchanged after validation.

    Examples
    --------
    >>> from sklearn_elmo.bilm import resolve_initial_state
    >>> resolve_initial_state("https://tfhub.dev/google/elmo/3")
    'zeros'
    >>> resolve_initial_state("path/to/elmo"), resolve_initial_state("x", "carry")
    ('warm', 'carry')
    """
    if not isinstance(initial_state, str) or initial_state not in INITIAL_STATE_OPTIONS:
        raise ValueError(
            f"initial_state must be one of {INITIAL_STATE_OPTIONS}, got "
            f"{initial_state!r}"
        )
    if initial_state != "auto":
        return initial_state
    return "zeros" if is_hub_source(source) else "warm"


def load_bilm(source, initial_state="auto"):
    """Load an ELMo biLM, sharing one copy per process per source.

    Parameters
    ----------
    source : str or path-like
        A directory holding a bilm-tf ``options.json`` and a weights
        ``.hdf5`` file (the AllenNLP and NLPL published layouts; among several
        ``.hdf5`` files the one holding biLM weights is used), the path of the
        options or weights file, or an NLPL repository ``.zip`` archive (read
        in place, without unpacking). Or a TF Hub ELMo module: a handle
        (``https://tfhub.dev/google/elmo/3``, a Kaggle URL; cached in
        ``TFHUB_CACHE_DIR``) or a local module directory (see docs/hub.md).
    initial_state : {"auto", "warm", "zeros", "carry"}, default="auto"
        LSTM state each sentence starts from. "auto": "warm" for weight
        files, "zeros" for TF Hub modules (their own, and only, state).
        "warm": a fixed state per model, left by reading a bundled warm-up
        text with carried state (outputs are a pure function of each
        sentence). "zeros": a zero state (also pure). "carry": the original
        implementation's behaviour; each call is one batch and row k
        continues from row k's state after the previous call. A TF Hub
        module takes "auto" or "zeros" only.

    Returns
    -------
    Bilm
        Its ``initial_state`` is the resolved state ("auto" never remains).
        Shared for "warm" and "zeros"; a new object (sharing the weights) for
        "carry", whose state belongs to its caller.

    Raises
    ------
    ValueError
        If the source is missing, ambiguous or malformed; the message names
        the file and the problem.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import load_bilm
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> bilm = load_bilm(make_random_bilm(tempfile.mkdtemp()))
    >>> bilm.n_layers, bilm.dim, bilm.initial_state
    (3, 32, 'warm')
    """
    initial_state = resolve_initial_state(source, initial_state)
    apply_thread_setting()  # SKLEARN_ELMO_NUM_THREADS, before TensorFlow starts
    if is_hub_source(source):
        from . import _hub  # keeps tensorflow_hub out of import time

        if initial_state not in _hub.HubBackend.initial_states:
            raise ValueError(
                f"{source}: initial_state={initial_state!r} is not available for a "
                "TF Hub module: the module runs its LSTM from a zero state and takes "
                'no initial state. Pass initial_state="auto" (the default) or "zeros".'
            )
        path = _hub.resolve_hub_source(source)
        key = _hub.module_identity(path)
        return shared_bilm(
            key, lambda: _hub.HubBackend(path, str(source)), initial_state, source
        )
    files = resolve_weight_files(source)
    return shared_bilm(
        files.identity(), lambda: WeightFilesBackend(files), initial_state, source
    )
