"""The scikit-learn estimators: ElmoVectorizer, ElmoClassifier, ElmoRegressor."""

from ._classifier import ElmoClassifier
from ._regressor import ElmoRegressor
from ._vectorizer import ElmoVectorizer

__all__ = ["ElmoClassifier", "ElmoRegressor", "ElmoVectorizer"]
