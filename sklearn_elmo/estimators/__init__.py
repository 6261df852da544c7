"""The scikit-learn estimators: texts (vectorizer, classifier, regressor) and tokens
(token vectorizer, tagger)."""

from ._classifier import ElmoClassifier
from ._regressor import ElmoRegressor
from ._tagger import ElmoTagger
from ._token_vectorizer import ElmoTokenVectorizer
from ._vectorizer import ElmoVectorizer

__all__ = [
    "ElmoClassifier",
    "ElmoRegressor",
    "ElmoTagger",
    "ElmoTokenVectorizer",
    "ElmoVectorizer",
]

# Pickles and skops files name a class by its module: the public one keeps
# them readable whatever private module the class lives in (and the same as
# those written before the estimators were split into modules).
for _cls in (
    ElmoClassifier,
    ElmoRegressor,
    ElmoTagger,
    ElmoTokenVectorizer,
    ElmoVectorizer,
):
    _cls.__module__ = __name__
del _cls
