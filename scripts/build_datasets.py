#!/usr/bin/env python
"""Build labelled text-classification datasets from package registry text.

Two real datasets that nobody in the project wrote, for comparing ELMo
features with TF-IDF; each is a UTF-8 CSV with columns ``text``, ``label``
and ``id`` (the package or synset it came from), rows shuffled with a fixed
seed, written into ``--out`` (default ``~/.cache/sklearn-elmo/datasets``):

``debian-sections.csv``
    Debian package descriptions (the short description, a period, the long
    description) labelled by the package's archive section: editors, fonts,
    games, graphics, mail, math, science, sound; ``--per-class`` (250) each.
    Packages whose first long-description paragraph repeats another's are
    kept once, and only if all of them are in the same section.

``wordnet-lexnames.csv``
    WordNet 3.0 noun glosses (definition and examples) labelled by
    lexicographer file: noun.act, noun.animal, noun.artifact, noun.body,
    noun.communication, noun.food, noun.location, noun.person, noun.plant,
    noun.substance; ``--per-class`` (300) each, drawn from a fixed 20 % pool
    of those synsets.

``build_corpus.py`` leaves these texts out of the en-mini pretraining corpus:
no package of the eight sections, no synset of the WordNet pool, and no
sentence that also occurs in them. Also written: ``SOURCES.json`` (versions,
licenses, class counts) and ``LICENSES.md``.
"""

import argparse
import collections
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus_lib as cl


def wordnet_dir(fetcher):
    root, version = fetcher.deb("wordnet-base")
    return root / "usr" / "share" / "wordnet", version


def pool_exclusions(fetcher):
    """What the pretraining corpus must leave out: the Debian sections and
    the WordNet synset ids of the datasets' pools."""
    directory, _ = wordnet_dir(fetcher)
    return {
        "debian_sections": cl.DEBIAN_DATASET_SECTIONS,
        "wordnet_ids": cl.wordnet_pool_ids(directory),
    }


def pool_texts(fetcher, exclusions):
    """Every text of the datasets' pools, as lists of paragraphs."""
    fetcher.apt_update()
    sections = set(exclusions["debian_sections"])
    for _name, section, short, paragraphs in cl.debian_records(fetcher):
        if section in sections:
            yield [short, *paragraphs]
    directory, _ = wordnet_dir(fetcher)
    for sid, _lexname, _words, definitions, examples in cl.wordnet_synsets(directory):
        if sid in exclusions["wordnet_ids"]:
            yield definitions + examples


def _sample(rows_by_label, per_class, salt):
    """``per_class`` rows of each label, chosen by a hash of their id."""
    rows = []
    for label in sorted(rows_by_label):
        candidates = sorted(
            rows_by_label[label], key=lambda r: cl.hash_fraction(r[2], salt)
        )
        rows.extend(candidates[:per_class])
    return rows


def debian_dataset(fetcher, per_class):
    """Rows (text, label, package) of the Debian sections dataset."""
    fetcher.apt_update()
    wanted = set(cl.DEBIAN_DATASET_SECTIONS)
    by_first = collections.defaultdict(list)
    for name, section, short, paragraphs in cl.debian_records(fetcher):
        if section in wanted and paragraphs:
            by_first[cl.clean_text(paragraphs[0]).lower()].append(
                (name, section, short, paragraphs)
            )
    by_label = collections.defaultdict(list)
    for group in by_first.values():
        if len({section for _, section, _, _ in group}) != 1:
            continue  # the same text under two labels
        name, section, short, paragraphs = min(group)
        text = cl.clean_text(short.rstrip(".") + ". " + " ".join(paragraphs))
        by_label[section].append((text, section, name))
    return _sample(by_label, per_class, "debian-dataset"), by_label


def wordnet_dataset(fetcher, per_class):
    """Rows (gloss, lexicographer file, synset id) of the WordNet dataset."""
    directory, _ = wordnet_dir(fetcher)
    by_label = collections.defaultdict(list)
    seen = set()
    for sid, lexname, _words, definitions, examples in cl.wordnet_synsets(directory):
        if not cl.in_wordnet_pool(sid, lexname) or not definitions:
            continue
        text = "; ".join(definitions)
        if examples:
            text += "; " + "; ".join(f'"{e}"' for e in examples)
        text = cl.clean_text(text, strip_markup=False)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        by_label[lexname].append((text, lexname, sid))
    return _sample(by_label, per_class, "wordnet-dataset"), by_label


def write_csv(path, rows, seed):
    rows = cl.shuffled(rows, seed)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "id"])
        writer.writerows(rows)
    tmp.replace(path)
    return rows


DATASETS = {
    "debian-sections": {
        "build": debian_dataset,
        "per_class": 250,
        "source": "apt: Debian package descriptions (Translation-en) and sections "
        "(Packages)",
        "license": "each package's own DFSG-free license (descriptions come from "
        "the packages' debian/control files)",
        "labels": "archive section of the package",
    },
    "wordnet-lexnames": {
        "build": wordnet_dataset,
        "per_class": 300,
        "source": "apt: wordnet-base (WordNet 3.0)",
        "license": "WordNet 3.0 license (permissive, BSD-like); see the "
        "wordnet-base copyright file",
        "labels": "WordNet lexicographer file of the noun synset",
    },
}


def main(argv=None):
    root = cl.default_cache_root()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        default=str(root / "datasets"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--downloads",
        default=str(root / "corpus" / "downloads"),
        help="download cache shared with build_corpus.py (default: %(default)s)",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=sorted(DATASETS),
        default=sorted(DATASETS),
        help="which datasets to build (default: all)",
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=0,
        help="examples per class (default: 250 for debian-sections, 300 for "
        "wordnet-lexnames; at most the pool's size)",
    )
    parser.add_argument("--seed", type=int, default=0, help="row shuffle seed")
    parser.add_argument("--offline", action="store_true", help="cached downloads only")
    args = parser.parse_args(argv)
    if args.per_class < 0:
        parser.error("--per-class must be positive")

    started = time.perf_counter()
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    fetcher = cl.Fetcher(args.downloads, offline=args.offline)
    summary_path = out / "SOURCES.json"
    summary = (
        json.loads(summary_path.read_text("utf-8")) if summary_path.is_file() else {}
    )
    for name in args.datasets:
        spec = DATASETS[name]
        per_class = args.per_class or spec["per_class"]
        rows, pool = spec["build"](fetcher, per_class)
        write_csv(out / f"{name}.csv", rows, args.seed)
        counts = collections.Counter(label for _, label, _ in rows)
        summary[name] = {
            "file": f"{name}.csv",
            "columns": ["text", "label", "id"],
            "rows": len(rows),
            "classes": dict(sorted(counts.items())),
            "pool_sizes": {k: len(v) for k, v in sorted(pool.items())},
            "source": spec["source"],
            "license": spec["license"],
            "labels": spec["labels"],
            "seed": args.seed,
            "excluded_from_en_mini_corpus": True,
        }
        words = sum(len(t.split()) for t, _, _ in rows) / max(len(rows), 1)
        print(
            f"{name}: {len(rows)} rows, {len(counts)} classes "
            f"({min(counts.values())}-{max(counts.values())} each), "
            f"{words:.1f} words per text -> {out / (name + '.csv')}"
        )
    summary["apt_releases"] = fetcher.release_info()
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    lines = ["# Licenses of the labelled datasets", ""]
    for name, spec in sorted(DATASETS.items()):
        lines.append(f"- `{name}.csv`: {spec['source']}. License: {spec['license']}.")
    lines += [
        "",
        "Both are left out of the en-mini pretraining corpus built by",
        "scripts/build_corpus.py (whole Debian sections; the WordNet pool).",
    ]
    (out / "LICENSES.md").write_text("\n".join(lines) + "\n", "utf-8")
    print(f"elapsed: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
