"""Small labelled text datasets bundled with the package.

:func:`load_topics` returns the demo dataset: 300 short English sentences,
written for this project, in four topics that differ by vocabulary. It is
meant for examples, tests and the ``sklearn-elmo demo`` run, not for
measuring models.
"""

import csv
import io
from importlib import resources
from pathlib import Path

__all__ = ["load_topics", "topics_csv"]

_TOPICS = "data/topics.csv"


def topics_csv():
    """Path of the bundled topics dataset, a CSV with ``text`` and ``label`` columns.

    Returns
    -------
    path : pathlib.Path
        UTF-8 CSV with a header row; one text per row.

    Examples
    --------
    >>> from sklearn_elmo.datasets import topics_csv
    >>> topics_csv().name
    'topics.csv'
    """
    return Path(str(resources.files("sklearn_elmo").joinpath(_TOPICS)))


def load_topics():
    """Load the bundled topics dataset.

    300 short English sentences written for this project, 75 in each of four
    topics: ``"computing"``, ``"cooking"``, ``"sport"`` and ``"weather"``.
    The topics differ mostly by vocabulary, so a bag-of-words model already
    does well; the rows interleave the topics.

    Returns
    -------
    texts : list of str
        The sentences, untokenized.
    labels : list of str
        The topic of each sentence.

    See Also
    --------
    topics_csv : The same data as a CSV file (columns ``text`` and ``label``).

    Examples
    --------
    >>> from sklearn_elmo.datasets import load_topics
    >>> texts, labels = load_topics()
    >>> len(texts), sorted(set(labels))
    (300, ['computing', 'cooking', 'sport', 'weather'])
    >>> texts[0], labels[0]
    ('Stir the onions in butter until they turn soft and golden.', 'cooking')
    """
    text = resources.files("sklearn_elmo").joinpath(_TOPICS).read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return [row["text"] for row in rows], [row["label"] for row in rows]
