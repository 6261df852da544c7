"""``sklearn-elmo make-random-model``: a biLM with seeded random weights."""

from pathlib import Path

from ._errors import CliError


def add_parser(command):
    """Register ``make-random-model`` through ``command(name, help, description,
    epilog)``."""
    p = command(
        "make-random-model",
        "write a biLM with random weights (for tests and demos)",
        "Write a biLM with seeded random weights in the bilm-tf layout "
        "(options.json + weights.hdf5). Random weights carry no linguistic signal.",
        "example:\n  sklearn-elmo make-random-model /tmp/elmo-tiny --size tiny\n",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="new or empty directory")
    p.add_argument(
        "--size",
        default="tiny",
        choices=["tiny", "small", "medium", "original"],
        help="tiny: 32-wide test model; others: the published models' dimensions",
    )
    p.add_argument("--seed", type=int, default=0, help="same seed, same weights")
    p.set_defaults(func=run)


def run(args):
    from ..testing import make_random_bilm

    out = Path(args.out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out}: exists and is not an empty directory")
    path = make_random_bilm(out, size=args.size, seed=args.seed)
    print(
        f"wrote a '{args.size}' biLM with random weights (seed {args.seed}) to {path}; "
        "it has no linguistic signal (for tests, benchmarks and demos)"
    )
    return 0
