"""``train_bilm`` and ``evaluate_perplexity``: the trainer's public entry points."""

import math
import shutil
import time
from pathlib import Path

import numpy as np

from .._validation import check_int
from ..bilm import is_hub_source
from ..bilm._options import parse_options
from ..bilm._sources import resolve_weight_files
from ..bilm._weights import read_weight_files
from .checkpoint import checkpoint_path, load_checkpoint, read_meta
from .corpus import check_paths, read_corpus
from .presets import resolve_options
from .vocabulary import Vocabulary

_OUR_FILES = {"options.json", "weights.hdf5", "vocab.txt", "history.json", "checkpoint"}
_DEFAULT_NEGATIVES = 8192


def _load_runner():
    from . import _runner  # TensorFlow from here on

    return _runner


def _float(value, name, low, high, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if (
        not math.isfinite(value)
        or value > high
        or value < low
        or (low_open and value == low)
    ):
        bound = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bound}{low}, {high}], got {value}")
    return value


def _init_source(init):
    """Options and biLM weights (file layout) of an ``init`` source."""
    if is_hub_source(init):
        raise ValueError(
            f"init={init!r}: TF Hub modules cannot be trained further (they are "
            "TF1-format SavedModels that TF2 loads frozen, without their "
            "variables' names); use bilm-tf weight files (options.json + .hdf5)"
        )
    files = resolve_weight_files(init)
    opts, weights = read_weight_files(files)
    return files, opts, weights


def _same_architecture(a, b):
    da, db = a.to_dict(), b.to_dict()
    da["char_cnn"]["n_characters"] = db["char_cnn"]["n_characters"] = 262
    return da == db


def _check_out_dir(out_dir, resume):
    """Return the existing run's record (resume), or None for a fresh start."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir}: exists and is not a directory")
    if not out_dir.exists():
        return None
    entries = {p.name for p in out_dir.iterdir()}
    meta = read_meta(out_dir)
    if meta is None:
        if entries:
            raise ValueError(
                f"out_dir {out_dir}: holds files ({', '.join(sorted(entries)[:5])}) "
                "but no training checkpoint; choose an empty or new directory"
            )
        return None
    others = entries - _OUR_FILES
    if others:
        raise ValueError(
            f"out_dir {out_dir}: holds files that are not part of a training run: "
            f"{', '.join(sorted(others)[:5])}"
        )
    if not resume:
        for name in entries:
            path = out_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return None
    return meta


def _differences(old, new):
    return [k for k in new if old.get(k) != new[k]]


def train_bilm(
    corpus,
    out_dir,
    options="tiny",
    vocab=None,
    init=None,
    max_tokens=None,
    epochs=1,
    batch_size=64,
    unroll_steps=20,
    n_negative_samples=None,
    learning_rate=0.2,
    dropout=0.1,
    tokenizer=None,
    validation=None,
    random_state=0,
    resume=True,
    verbose=1,
    *,
    max_vocab=None,
    min_count=1,
    softmax_only_tokens=0,
    checkpoint_every=600.0,
):
    """Train (or adapt) an ELMo biLM with the original recipe, on CPU.

    Stateful windows of ``unroll_steps`` tokens, a character CNN and softmax
    shared by two LSTM stacks, sampled softmax with log-uniform negatives,
    Adagrad with gradients clipped by global norm 10, dropout. See
    docs/training.md.

    Parameters
    ----------
    corpus : str, path-like, list of paths, or iterable of str
        Text files (``.gz`` allowed) with one sentence per line, or the
        sentences themselves. Blank lines are skipped. A list is taken as
        paths when its first item is a path-like object, names an existing
        file, or looks like a path (no spaces, and a ``/`` or a ``.txt`` /
        ``.gz`` suffix); then every item must be one.
    out_dir : str or path-like
        Receives ``options.json`` + ``weights.hdf5`` (load with
        :func:`~sklearn_elmo.load_bilm`), ``vocab.txt``, ``history.json`` and
        ``checkpoint/state.npz`` (what training needs beyond the published
        files: softmax, optimiser state, data position). Must be new, empty,
        or hold a run of this function.
    options : str or dict, default="tiny"
        "tiny" (tests), "mini" (512 cells, 512 filters: the size shipped
        pretrained), "small", "medium", "original" (the published English
        sizes), or a bilm-tf options dict. With ``init``, leave the default
        (the source's options are used) or give matching options.
    vocab : str or path-like, optional
        A vocabulary file in the bilm-tf format (one token per line, with
        ``<S>``, ``</S>``, ``<UNK>``, then by descending frequency). Default:
        built from the corpus with ``max_vocab`` and ``min_count``.
    init : str or path-like, optional
        Domain adaptation: start from this biLM's weights (a directory or
        options file, as :func:`~sklearn_elmo.load_bilm` takes; not TF Hub
        modules). The softmax is new, for the corpus vocabulary.
    max_tokens : int, optional
        Training budget in tokens (predicted positions per direction, one
        sentence boundary per sentence included), cycling over the corpus as
        often as needed; overrides ``epochs``. A finished run given a larger
        ``max_tokens`` continues where it stopped.
    epochs : int, default=1
        Passes over the corpus when ``max_tokens`` is None.
    batch_size, unroll_steps : int, default=64, 20
        Rows of the batch and tokens per row per step.
    n_negative_samples : int, optional
        Negatives of the sampled softmax (default 8192, as the original);
        the full softmax when it is >= the vocabulary size.
    learning_rate : float, default=0.2
        Adagrad's learning rate (initial accumulator 1.0).
    dropout : float, default=0.1
    tokenizer : callable, optional
        Text to tokens; default :func:`~sklearn_elmo.default_tokenizer`
        (``str.split`` for pre-tokenized files).
    validation : same kinds as ``corpus``, optional
        Held-out text scored with the full softmax at every checkpoint.
    random_state : int, default=0
        Seeds the initial weights, the shuffling, dropout and negatives.
    resume : bool, default=True
        Continue the run in ``out_dir`` if there is one (it must have the
        same corpus and settings). False starts over, replacing it.
    verbose : int, default=1
        0 silent; 1 a progress line every 10 s; 2 every step.
    max_vocab : int, optional
        Largest vocabulary built from the corpus (the specials included).
    min_count : int, default=1
        Fewest occurrences of a token to enter the built vocabulary.
    softmax_only_tokens : int, default=0
        With ``init``: train the new softmax alone (biLM frozen) for this
        many tokens first.
    checkpoint_every : float, default=600.0
        Seconds between checkpoints (one is always written at the end, and
        when training is interrupted with Ctrl-C).

    Returns
    -------
    result : dict
        ``out_dir``, ``tokens`` and ``steps`` done, ``tokens_per_second``
        and ``tokens_per_cpu_second`` of this call (steps after the first,
        which compiles; None if there were none), and ``history``: one record per checkpoint with
        ``tokens``, ``train_perplexity`` (sampled softmax, since the previous
        record) and ``validation_perplexity``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import train_bilm, load_bilm
    >>> texts = ["the cat sat on the mat", "a dog sat on a log"] * 40
    >>> out = train_bilm(texts, tempfile.mkdtemp(), batch_size=4, unroll_steps=5,
    ...                  max_tokens=200, tokenizer=str.split, verbose=0)
    >>> out["tokens"]
    200
    >>> load_bilm(out["out_dir"]).dim
    32
    """
    # -- every check that needs no long work ---------------------------------
    batch_size = check_int(batch_size, "batch_size")
    unroll_steps = check_int(unroll_steps, "unroll_steps")
    epochs = check_int(epochs, "epochs")
    max_tokens = check_int(max_tokens, "max_tokens", allow_none=True)
    n_negative_samples = check_int(
        n_negative_samples, "n_negative_samples", allow_none=True
    )
    max_vocab = check_int(max_vocab, "max_vocab", minimum=4, allow_none=True)
    min_count = check_int(min_count, "min_count")
    softmax_only_tokens = check_int(
        softmax_only_tokens, "softmax_only_tokens", minimum=0
    )
    random_state = check_int(random_state, "random_state", minimum=0)
    verbose = check_int(verbose, "verbose", minimum=0)
    learning_rate = _float(learning_rate, "learning_rate", 0.0, 1e6, low_open=True)
    dropout = _float(dropout, "dropout", 0.0, 0.99)
    checkpoint_every = _float(checkpoint_every, "checkpoint_every", 0.0, 1e9)
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if tokenizer is not None and not callable(tokenizer):
        raise TypeError(
            f"tokenizer must be callable or None, got {type(tokenizer).__name__}"
        )
    if softmax_only_tokens and init is None:
        raise ValueError("softmax_only_tokens needs init (a biLM to freeze)")

    init_files = init_weights = None
    if init is not None:
        init_files, opts, init_weights = _init_source(init)
        if options is not None and options != "tiny":
            _, asked = resolve_options(options)
            if not _same_architecture(asked, opts):
                raise ValueError(
                    f"options do not fit init's weights ({init_files.options}): "
                    f"options give {asked.to_dict()['lstm']} / filters "
                    f"{[list(f) for f in asked.filters]}, init has "
                    f"{opts.to_dict()['lstm']} / filters {[list(f) for f in opts.filters]}"
                )
        options_dict = opts.to_dict()
        options_dict["char_cnn"]["n_characters"] = 262
    else:
        options_dict, opts = resolve_options("tiny" if options is None else options)

    vocab_file = None
    if vocab is not None:
        vocab_file = Vocabulary.read(vocab)
    checked_corpus = check_paths(corpus, "corpus")
    checked_validation = (
        None if validation is None else check_paths(validation, "validation")
    )

    out_dir = Path(out_dir).expanduser()
    previous = _check_out_dir(out_dir, resume)

    # -- the data ------------------------------------------------------------
    progress_start = time.monotonic()
    train = read_corpus(corpus, tokenizer, "corpus", checked_corpus)
    if vocab_file is None:
        vocabulary = Vocabulary.from_counts(
            dict(zip(train.types, train.counts.tolist())), max_vocab, min_count
        )
    else:
        vocabulary = vocab_file
    if train.n_pairs < batch_size * unroll_steps:
        raise ValueError(
            f"corpus: {train.where} has {train.n_pairs:,} tokens (one boundary per "
            f"sentence included), fewer than one batch of batch_size x unroll_steps "
            f"= {batch_size * unroll_steps:,}; lower batch_size or unroll_steps"
        )
    if n_negative_samples is None:
        n_negative_samples = _DEFAULT_NEGATIVES
    heldout = (
        None
        if validation is None
        else read_corpus(validation, tokenizer, "validation", checked_validation)
    )

    config = {
        "options": options_dict,
        "vocab": vocabulary.digest(),
        "corpus": train.digest(),
        "batch_size": batch_size,
        "unroll_steps": unroll_steps,
        "n_negative_samples": n_negative_samples,
        "learning_rate": learning_rate,
        "dropout": dropout,
        "random_state": random_state,
        "init": None if init_files is None else str(init_files.weights),
        "softmax_only_tokens": softmax_only_tokens,
    }
    if previous is not None:
        changed = _differences(previous.get("config", {}), config)
        if changed:
            raise ValueError(
                f"out_dir {out_dir}: holds another run (its {', '.join(changed)} "
                "differ from this call's); use another out_dir, or resume=False "
                "to replace it"
            )

    return _load_runner().run(
        out_dir=out_dir,
        config=config,
        opts=opts,
        options_dict=options_dict,
        vocabulary=vocabulary,
        train=train,
        heldout=heldout,
        init_weights=init_weights,
        resume_meta=previous,
        max_tokens=max_tokens,
        epochs=epochs,
        checkpoint_every=checkpoint_every,
        verbose=verbose,
        started=progress_start,
    )


def evaluate_perplexity(
    out_dir, heldout, tokenizer=None, batch_size=64, unroll_steps=20
):
    """Perplexity of a trained biLM on held-out text, with the full softmax.

    Parameters
    ----------
    out_dir : str or path-like
        A directory written by :func:`train_bilm` (its checkpoint holds the
        softmax, which published weight files lack).
    heldout : same kinds as ``corpus`` of :func:`train_bilm`
    tokenizer : callable, optional
        As in training (default :func:`~sklearn_elmo.default_tokenizer`).
    batch_size, unroll_steps : int, default=64, 20
        How the held-out stream is cut (state carried across windows).

    Returns
    -------
    perplexity : dict
        ``forward``, ``backward`` (exp of each direction's mean loss per
        token) and ``average`` (exp of the mean of the two losses).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import train_bilm, evaluate_perplexity
    >>> texts = ["the cat sat on the mat", "a dog sat on a log"] * 40
    >>> out = train_bilm(texts, tempfile.mkdtemp(), batch_size=4, unroll_steps=5,
    ...                  max_tokens=200, tokenizer=str.split, verbose=0)
    >>> ppl = evaluate_perplexity(out["out_dir"], texts[:4], tokenizer=str.split)
    >>> sorted(ppl)
    ['average', 'backward', 'forward']
    """
    batch_size = check_int(batch_size, "batch_size")
    unroll_steps = check_int(unroll_steps, "unroll_steps")
    out_dir = Path(out_dir).expanduser()
    if not out_dir.exists():
        raise ValueError(f"{out_dir}: no such directory")
    if not checkpoint_path(out_dir).is_file():
        raise ValueError(
            f"{out_dir}: no training checkpoint ({checkpoint_path(out_dir)}); "
            "perplexity needs the softmax, which only train_bilm's checkpoint "
            "holds (published weight files do not)"
        )
    checked = check_paths(heldout, "heldout")
    meta, values, _, _, _, tokens = load_checkpoint(out_dir)
    opts = parse_options(meta["config"]["options"], str(checkpoint_path(out_dir)))
    vocabulary = Vocabulary(tokens, where=str(checkpoint_path(out_dir)))
    corpus = read_corpus(heldout, tokenizer, "heldout", checked)

    return _load_runner().perplexity(
        opts, values, vocabulary, corpus, batch_size, unroll_steps
    )
