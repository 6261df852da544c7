"""Atomic training checkpoints: everything a run needs to continue exactly.

One ``.npz`` file holds the variables (softmax included), Adagrad's
accumulators, the carried LSTM state, the step (which fixes the data
position and every random draw, see data.py) and a JSON record of the run
(its configuration, vocabulary and history). It is written beside its final
name and moved into place with ``os.replace``, so a run killed at any moment
leaves the previous checkpoint or the new one, never a torn file.
"""

import json
import os
from pathlib import Path

import numpy as np

FORMAT = "sklearn-elmo-bilm-checkpoint/1"
DIRNAME = "checkpoint"
FILENAME = "state.npz"


def checkpoint_path(out_dir):
    return Path(out_dir) / DIRNAME / FILENAME


def write_atomic(path, write):
    """Call ``write(tmp_path)``, fsync, then rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_checkpoint(
    out_dir, meta, variables, accumulators, state_c, state_h, vocab_tokens
):
    arrays = {f"var/{k}": v for k, v in variables.items()}
    arrays.update({f"acc/{k}": v for k, v in accumulators.items()})
    arrays["state_c"] = state_c
    arrays["state_h"] = state_h
    arrays["vocab"] = np.array("\n".join(vocab_tokens))
    arrays["meta"] = np.array(json.dumps(dict(meta, format=FORMAT)))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    write_atomic(checkpoint_path(out_dir), write)


def read_meta(out_dir):
    """The run record of ``out_dir``'s checkpoint, or None when there is none."""
    path = checkpoint_path(out_dir)
    if not path.is_file():
        return None
    with _open(path) as data:
        return json.loads(str(data["meta"]))


def _open(path):
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: cannot read the training checkpoint ({exc})"
        ) from None
    if "meta" not in data.files:
        raise ValueError(f"{path}: not a sklearn-elmo training checkpoint")
    return data


def load_checkpoint(out_dir):
    """Return ``(meta, variables, accumulators, state_c, state_h, vocab_tokens)``."""
    path = checkpoint_path(out_dir)
    with _open(path) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"{path}: unknown checkpoint format {meta.get('format')!r}"
            )
        variables = {k[4:]: data[k] for k in data.files if k.startswith("var/")}
        accumulators = {k[4:]: data[k] for k in data.files if k.startswith("acc/")}
        vocab = str(data["vocab"]).split("\n")
        return meta, variables, accumulators, data["state_c"], data["state_h"], vocab
