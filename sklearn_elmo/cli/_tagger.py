"""The ``train-tagger`` and ``tag`` commands of ``sklearn-elmo``, on CoNLL-style files.

A CoNLL-style file has one token per line, its fields separated by
whitespace: the token first and, where there is one, its tag last (so
CoNLL-2003's "token POS chunk NER" lines give the NER tag). A blank line ends
a sentence; ``-DOCSTART-`` lines are skipped. Errors are reported in one
line and exit with status 2, as every ``sklearn-elmo`` command does.
"""

import re
import sys
import time

from .._tf_logging import quiet_tensorflow
from ._errors import PROG, CliError
from ._io import check_output as _check_output
from ._io import elmo_steps as _elmo_steps
from ._io import load_model_file as _load_model_file
from ._options import add_bilm_options as _add_bilm_options
from ._options import parse_layers as _parse_layers
from ._options import positive_int as _positive_int
from ._params import name_value as _name_value
from ._params import param_key as _param_key
from ._params import parse_value as _parse_value
from ._params import split_values as _split_values


def _quiet_tensorflow():
    # Entered for the rest of the command, like the other commands' blocks.
    quiet_tensorflow().__enter__()


__all__ = ["add_tagger_commands", "read_conll"]

_BIO_TAG = re.compile(r"^(?:O|[BIESLU]-.+)$")


def read_conll(path, *, tags="required"):
    """Sentences (and tags) from a CoNLL-style file, or "-" for stdin.

    Parameters
    ----------
    path : str or path-like
    tags : {"required", "optional"}
        "required": every token line needs a tag (a last field after the
        token). "optional": tags are read when every token line has one,
        and no line may lack one if another has one.

    Returns
    -------
    sentences : list of list of str
    tags : list of list of str or None
        None when the file has no tag column ("optional" only).
    """
    if path == "-":
        name, lines = "<stdin>", sys.stdin.read().splitlines()
    else:
        name = str(path)
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    sentences, labels, tokens, current = [], [], [], []
    with_tag = without_tag = None  # first line number of each kind

    def close():
        if tokens:
            sentences.append(list(tokens))
            labels.append(list(current))
            tokens.clear()
            current.clear()

    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            close()
            continue
        if fields[0] == "-DOCSTART-":
            close()
            continue
        if len(fields) == 1:
            without_tag = without_tag or number
            if tags == "required":
                raise CliError(
                    f"{name}: line {number}: expected a token and its tag separated "
                    f"by whitespace, got {line.strip()!r}"
                )
        else:
            with_tag = with_tag or number
        if with_tag and without_tag:
            raise CliError(
                f"{name}: line {without_tag} has no tag but line {with_tag} has one; "
                "give every token a tag, or none"
            )
        tokens.append(fields[0])
        current.append(fields[-1] if len(fields) > 1 else None)
    close()
    if not sentences:
        raise CliError(
            f"{name}: no sentences (one token per line, blank lines between)"
        )
    return sentences, (labels if with_tag else None)


def _write_conll(fh, sentences, predicted, gold=None):
    for i, (tokens, tags) in enumerate(zip(sentences, predicted)):
        if i:
            fh.write("\n")
        for j, (token, tag) in enumerate(zip(tokens, tags)):
            columns = [token] + ([gold[i][j]] if gold is not None else []) + [tag]
            fh.write(" ".join(columns) + "\n")


def _all_bio(tags):
    return all(_BIO_TAG.match(t) for sentence in tags for t in sentence)


def _is_bio(tags):
    """BIO/BIOES tags with at least one entity: entity F1 means something."""
    return _all_bio(tags) and any(t != "O" for sentence in tags for t in sentence)


def _scorer(name, tags):
    """A scoring argument for scikit-learn and its printable name."""
    if name is None:
        name = "entity_f1" if _is_bio(tags) else "accuracy"
    if name == "accuracy":
        return None, "token accuracy"
    if not _is_bio(tags):
        raise CliError(
            "--scoring entity_f1 needs BIO/BIOES tags (O, B-TYPE, I-TYPE, ...); use "
            "--scoring accuracy"
        )
    from ..metrics import entity_f1_scorer

    return entity_f1_scorer, "entity F1"


def cmd_train_tagger(args):
    import joblib
    import numpy as np

    output = _check_output(args.output)
    if args.include_model and output.suffix != ".zip":
        raise CliError(
            "--include-model needs an archive: an output name ending in .zip"
        )
    sentences, tags = read_conll(args.data)
    scoring, score_name = _scorer(args.scoring, tags)
    _quiet_tensorflow()
    from sklearn.model_selection import GridSearchCV, KFold, cross_validate

    from ..estimators import ElmoTagger

    estimator = ElmoTagger(
        args.model,
        initial_state=args.initial_state,
        layers=args.layers,
        hidden=args.hidden,
        hidden_size=args.hidden_size,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    params = {}
    for text in args.set:
        name, value = _name_value(text, "--set")
        params[_param_key(estimator, name)] = _parse_value(value)
    estimator.set_params(**params)
    grid = {}
    for text in args.grid:
        name, values = _name_value(text, "--grid")
        grid[_param_key(estimator, name)] = [
            _parse_value(v) for v in _split_values(values)
        ]

    start = time.perf_counter()
    labels = sorted({t for sentence in tags for t in sentence})
    print(
        f"{len(sentences)} sentences ({sum(map(len, sentences))} tokens) from "
        f"{args.data}; {len(labels)} tags: {' '.join(labels[:20])}"
        f"{' ...' if len(labels) > 20 else ''}"
    )
    if grid or args.cv >= 2:
        if args.cv < 2:
            raise CliError("--grid needs --cv of at least 2")
        if args.cv > len(sentences):
            raise CliError(f"--cv {args.cv} needs at least {args.cv} sentences")
        cv = KFold(args.cv, shuffle=True, random_state=args.random_state)
    if grid:
        search = GridSearchCV(
            estimator, grid, cv=cv, scoring=scoring, error_score="raise"
        ).fit(sentences, tags)
        results = search.cv_results_
        print(f"{args.cv}-fold cross-validated {score_name} per candidate:")
        for i in np.argsort(results["rank_test_score"], kind="stable"):
            print(
                f"  {results['mean_test_score'][i]:.4f} +/- "
                f"{results['std_test_score'][i]:.4f}  {results['params'][i]}"
            )
        print(
            f"best: {search.best_params_} (refitted on all {len(sentences)} sentences)"
        )
        model = search.best_estimator_
    else:
        if args.cv >= 2:
            scores = cross_validate(
                estimator, sentences, tags, cv=cv, scoring=scoring, error_score="raise"
            )["test_score"]
            print(
                f"{args.cv}-fold cross-validated {score_name}: {scores.mean():.4f} +/- "
                f"{scores.std():.4f} (folds: {', '.join(f'{s:.4f}' for s in scores)})"
            )
        model = estimator.fit(sentences, tags)
    if output.suffix == ".zip":
        from ..persistence import save

        save(model, output, include_model=args.include_model)
    else:
        joblib.dump(model, output)
    print(f"saved the tagger to {output} in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_tag(args):
    to_stdout = args.output in (None, "-")
    output = None if to_stdout else _check_output(args.output)
    model = _load_model_file(args.model_file)
    sentences, gold = read_conll(args.input, tags="optional")
    if args.bilm is not None:
        steps = _elmo_steps(model)
        if not steps:
            raise CliError(
                f"{args.model_file}: the model has no ELMo step to give --bilm to"
            )
        for step in steps:
            step.set_params(model=args.bilm)
    _quiet_tensorflow()
    predicted = model.predict(sentences)
    if to_stdout:
        _write_conll(sys.stdout, sentences, predicted, gold)
    else:
        with open(output, "w", encoding="utf-8") as fh:
            _write_conll(fh, sentences, predicted, gold)
        print(
            f"{PROG}: wrote the tags of {len(sentences)} sentences to {output}",
            file=sys.stderr,
        )
    if gold is not None:
        pairs = [(g, p) for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps)]
        accuracy = sum(g == p for g, p in pairs) / max(len(pairs), 1)
        report = f"{PROG}: token accuracy {accuracy:.4f}"
        if _is_bio(gold) and _all_bio(predicted):
            from ..metrics import entity_f1_score

            report += f", entity F1 {entity_f1_score(gold, predicted):.4f} (CoNLL)"
        print(report + f" against the tags in {args.input}", file=sys.stderr)
    return 0


_TRAIN_TAGGER_HELP = """\
Train an ElmoTagger on a CoNLL-style file (one token per line with its tag as
the last whitespace-separated field, a blank line between sentences,
-DOCSTART- lines skipped), print its cross-validated score (or, with --grid,
a GridSearchCV over the given values) and save the tagger refitted on all
sentences. The score is the entity-level F1 (CoNLL convention) for BIO/BIOES
tags, else the token accuracy. --set and --grid take ElmoTagger parameters,
read as JSON when they parse.
"""

_TRAIN_TAGGER_EXAMPLES = """\
examples:
  sklearn-elmo train-tagger train.conll -o ner.joblib --model ~/elmo_small/
  sklearn-elmo train-tagger train.conll -o ner.zip --include-model \\
      --model ~/elmo_small/ --hidden bilstm --grid learning_rate=0.001,0.003
"""

_TAG_HELP = """\
Tag the sentences of a CoNLL-style file with a tagger saved by 'train-tagger'
(a joblib file or an sklearn_elmo.save archive). Writes one 'token tag' line
per token and a blank line between sentences. If the input has tags (a last
field on every line), the output has 'token gold predicted' lines, the
input format of the conlleval script, and the token accuracy and entity F1
are printed to stderr.
"""

_TAG_EXAMPLES = """\
examples:
  sklearn-elmo tag ner.joblib test.conll -o predicted.conll
  cat tokens.txt | sklearn-elmo tag ner.zip -
"""


def add_tagger_commands(command):
    """Register ``train-tagger`` and ``tag`` through ``command(name, help, ...)``.

    ``command`` is :func:`sklearn_elmo.cli.build_parser`'s subparser factory.
    """
    p = command(
        "train-tagger",
        "a CoNLL-style file of tagged tokens -> a saved ElmoTagger, with "
        "cross-validated scores",
        _TRAIN_TAGGER_HELP,
        _TRAIN_TAGGER_EXAMPLES,
    )
    p.add_argument("data", metavar="DATA", help="CoNLL-style file, or -")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="where to save the tagger: a .zip name writes an sklearn_elmo.save "
        "archive, any other name a joblib.dump file",
    )
    p.add_argument(
        "--include-model",
        action="store_true",
        help="bundle the biLM's files in the .zip archive",
    )
    _add_bilm_options(p)
    p.add_argument(
        "--layers",
        type=_parse_layers,
        default="all",
        help="biLM layers to mix: all, top, or comma-separated indices",
    )
    p.add_argument(
        "--hidden",
        default="none",
        choices=["none", "bilstm"],
        help="a BiLSTM between the mixed token vectors and the softmax, or none",
    )
    p.add_argument(
        "--hidden-size",
        type=_positive_int,
        default=64,
        help="BiLSTM units per direction",
    )
    p.add_argument("--epochs", type=_positive_int, default=50, help="training epochs")
    p.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam's learning rate"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any ElmoTagger parameter (repeatable)",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="grid-search a parameter over values (repeatable)",
    )
    p.add_argument(
        "--cv",
        type=int,
        default=3,
        help="cross-validation folds over sentences (0: none)",
    )
    p.add_argument(
        "--scoring",
        choices=["entity_f1", "accuracy"],
        help="entity_f1 (CoNLL entity-level F1) or accuracy (token accuracy); "
        "default: entity_f1 for BIO/BIOES tags, else accuracy",
    )
    p.add_argument(
        "--random-state", type=int, default=0, help="seed of folds and training"
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="embedding and epoch progress",
    )
    p.set_defaults(func=cmd_train_tagger)

    p = command(
        "tag",
        "a saved tagger and a CoNLL-style file -> the tags of every token",
        _TAG_HELP,
        _TAG_EXAMPLES,
    )
    p.add_argument(
        "model_file", metavar="MODEL", help="a joblib file or a .zip archive"
    )
    p.add_argument(
        "input", metavar="INPUT", help="CoNLL-style file (tags optional), or -"
    )
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument(
        "--bilm",
        metavar="SOURCE",
        help="where the tagger's biLM is now, if it moved (must be the same biLM)",
    )
    p.set_defaults(func=cmd_tag)
