"""``sklearn-elmo export-hub``: a weight-file biLM -> a TF Hub module."""

import time

from .._tf_logging import quiet_tensorflow


def add_parser(command):
    """Register ``export-hub`` through ``command(name, help, description, epilog)``."""
    p = command(
        "export-hub",
        "write a weight-file biLM as a TF Hub module",
        "Write a biLM in bilm-tf weight files as a TF1 Hub format module with "
        "google/elmo/3's signatures ('default' on text, 'tokens' on tokens).",
        "example:\n  sklearn-elmo export-hub ~/elmo_small/ ~/elmo_small_hub/\n",
    )
    p.add_argument("source", metavar="SOURCE", help="weights directory or options file")
    p.add_argument("out_dir", metavar="OUT_DIR", help="new or empty directory")
    p.set_defaults(func=run)


def run(args):
    with quiet_tensorflow():
        from ..bilm._hub_export import export_hub_module

        start = time.perf_counter()
        path = export_hub_module(args.source, args.out_dir)
    print(f"wrote a TF Hub module to {path} in {time.perf_counter() - start:.1f} s")
    return 0
