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
