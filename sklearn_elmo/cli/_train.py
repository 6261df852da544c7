"""``sklearn-elmo train``: a CSV of texts and labels -> a saved model, with
cross-validated scores or a grid search."""

import time

from .._tf_logging import quiet_tensorflow
from ._errors import CliError
from ._io import check_output, read_texts
from ._options import add_bilm_options, add_layer_options, positive_int
from ._params import name_value, param_key, parse_value, split_values

_HELP = """\
Train an ELMo model on a CSV file with a header row, print its cross-validated
score (or, with --grid, a GridSearchCV over the given values) and save the
model refitted on all rows.

Estimators: classifier (ElmoClassifier), pipeline (ElmoVectorizer +
LogisticRegression; bare parameter names reach either step, e.g. C or
pooling) and regressor (ElmoRegressor, numeric labels). --set and --grid take
estimator parameters; values are read as JSON when they parse (1, 0.01, true,
[0, 2]) and as text otherwise.
"""

_EXAMPLES = """\
examples:
  sklearn-elmo train data.csv -o model.joblib --model ~/elmo_small/
  sklearn-elmo train data.csv -o model.joblib --model ~/elmo_small/ \\
      --estimator pipeline --grid C=0.1,1,10 --grid pooling=mean,mean_max
  sklearn-elmo train data.csv -o model.zip --include-model --model ~/elmo_small/ \\
      --set hidden_layer_sizes=[64] --grid layers=all,top,[1,2]
"""

_ESTIMATORS = ("classifier", "pipeline", "regressor")


def add_parser(command):
    """Register ``train`` through ``command(name, help, description, epilog)``."""
    p = command(
        "train",
        "a CSV of texts and labels -> a saved model, with cross-validated scores",
        _HELP,
        _EXAMPLES,
    )
    p.add_argument("data", metavar="DATA", help="CSV file with a header row")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="where to save the model: a .zip name writes an sklearn_elmo.save "
        "archive, a .skops name a skops file (loads without running code), any "
        "other name a joblib.dump file",
    )
    p.add_argument(
        "--include-model",
        action="store_true",
        help="bundle the biLM's files in the .zip archive (for machines without "
        "the model source)",
    )
    p.add_argument("--text-column", default="text", help="column of the texts")
    p.add_argument("--label-column", default="label", help="column of the labels")
    p.add_argument(
        "--estimator",
        default="classifier",
        choices=_ESTIMATORS,
        help="classifier: ElmoClassifier; pipeline: ElmoVectorizer + "
        "LogisticRegression; regressor: ElmoRegressor",
    )
    add_bilm_options(p)
    add_layer_options(p)
    p.add_argument("--epochs", type=positive_int, default=50, help="training epochs")
    p.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam's learning rate"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any estimator parameter (repeatable)",
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
        help="cross-validation folds (0: no cross-validation)",
    )
    p.add_argument(
        "--scoring", help="scikit-learn scorer name (default: the estimator's score)"
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
    p.set_defaults(func=run)


def _build_estimator(args):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from ..estimators import ElmoClassifier, ElmoRegressor, ElmoVectorizer

    elmo_params = {
        "initial_state": args.initial_state,
        "layers": args.layers,
        "pooling": args.pooling,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "random_state": args.random_state,
        "verbose": args.verbose,
    }
    if args.estimator == "classifier":
        estimator = ElmoClassifier(args.model, **elmo_params)
    elif args.estimator == "regressor":
        estimator = ElmoRegressor(args.model, **elmo_params)
    else:
        estimator = Pipeline(
            [
                ("elmo", ElmoVectorizer(args.model, **elmo_params)),
                ("clf", LogisticRegression(max_iter=1000)),
            ]
        )
    params = {}
    for text in args.set:
        name, value = name_value(text, "--set")
        params[param_key(estimator, name)] = parse_value(value)
    estimator.set_params(**params)
    grid = {}
    for text in args.grid:
        name, values = name_value(text, "--grid")
        grid[param_key(estimator, name)] = [
            parse_value(v) for v in split_values(values)
        ]
    return estimator, grid


def run(args):
    import numpy as np

    output = check_output(args.output)
    if args.include_model and output.suffix != ".zip":
        raise CliError(
            "--include-model needs an archive: an output name ending in .zip"
        )
    texts, rows = read_texts(args.data, args.text_column)
    if rows is None:
        raise CliError(f"{args.data}: train reads a CSV file with a header row")
    if args.label_column not in rows[0]:
        raise CliError(
            f"{args.data}: no column {args.label_column!r}; the columns are "
            f"{list(rows[0])} (choose one with --label-column)"
        )
    labels = [row[args.label_column] for row in rows]
    if args.estimator == "regressor":
        try:
            y = np.array([float(v) for v in labels])
        except (TypeError, ValueError):
            raise CliError(
                f"{args.data}: column {args.label_column!r} must hold numbers for the "
                "regressor"
            ) from None
    else:
        y = np.asarray(labels, dtype=object)
    with quiet_tensorflow():
        return _fit_and_save(args, texts, y, output)


def _fit_and_save(args, texts, y, output):
    """Cross-validate or grid-search, refit on all texts, save; print as it goes."""
    import joblib
    import numpy as np

    estimator, grid = _build_estimator(args)

    from sklearn.model_selection import (
        GridSearchCV,
        KFold,
        StratifiedKFold,
        cross_validate,
    )

    cv_class = KFold if args.estimator == "regressor" else StratifiedKFold
    start = time.perf_counter()
    print(f"{len(texts)} texts from {args.data}; estimator: {args.estimator}")
    if grid:
        if args.cv < 2:
            raise CliError("--grid needs --cv of at least 2")
        cv = cv_class(args.cv, shuffle=True, random_state=args.random_state)
        search = GridSearchCV(
            estimator, grid, cv=cv, scoring=args.scoring, error_score="raise"
        )
        search.fit(texts, y)
        results = search.cv_results_
        print(
            f"{args.cv}-fold cross-validated {args.scoring or 'score'} per candidate:"
        )
        for i in np.argsort(results["rank_test_score"], kind="stable"):
            print(
                f"  {results['mean_test_score'][i]:.4f} +/- "
                f"{results['std_test_score'][i]:.4f}  {results['params'][i]}"
            )
        print(f"best: {search.best_params_} (refitted on all {len(texts)} texts)")
        model = search.best_estimator_
    else:
        if args.cv >= 2:
            cv = cv_class(args.cv, shuffle=True, random_state=args.random_state)
            scores = cross_validate(
                estimator, texts, y, cv=cv, scoring=args.scoring, error_score="raise"
            )["test_score"]
            print(
                f"{args.cv}-fold cross-validated {args.scoring or 'score'}: "
                f"{scores.mean():.4f} +/- {scores.std():.4f} "
                f"(folds: {', '.join(f'{s:.4f}' for s in scores)})"
            )
        model = estimator.fit(texts, y)
    if output.suffix in (".zip", ".skops"):
        from ..persistence import save

        save(model, output, include_model=args.include_model)
    else:
        joblib.dump(model, output)
    print(f"saved the model to {output} in {time.perf_counter() - start:.1f} s")
    return 0
