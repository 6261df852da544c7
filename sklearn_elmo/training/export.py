"""Write a trained biLM in the files every ELMo reader loads.

``options.json`` (with ``n_characters`` 262, the inference value) and
``weights.hdf5`` with bilm-tf's dataset names, exactly what ``load_bilm``,
bilm-tf, AllenNLP and simple_elmo read; plus ``vocab.txt`` and
``history.json``. Each file is replaced atomically.
"""

import json

import h5py

from ..bilm._weights import expected_shapes
from .checkpoint import write_atomic
from .model import to_file_weights


def write_bilm_files(out_dir, options_dict, opts, values, vocab, history):
    weights = to_file_weights(values, opts)
    shapes = expected_shapes(opts)
    if set(weights) != set(shapes):
        raise RuntimeError(
            f"weights {sorted(set(weights) ^ set(shapes))} do not match the layout"
        )

    def write_weights(tmp):
        with h5py.File(tmp, "w") as fh:
            for name, shape in shapes.items():
                value = weights[name]
                assert value.shape == shape, (name, value.shape, shape)
                fh.create_dataset(name, data=value)

    def write_text(text):
        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)

        return write

    write_atomic(out_dir / "weights.hdf5", write_weights)
    write_atomic(
        out_dir / "options.json", write_text(json.dumps(options_dict, indent=2) + "\n")
    )
    write_atomic(out_dir / "vocab.txt", write_text("\n".join(vocab.tokens) + "\n"))
    write_atomic(
        out_dir / "history.json", write_text(json.dumps(history, indent=2) + "\n")
    )
