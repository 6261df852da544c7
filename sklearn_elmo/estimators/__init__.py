"""The scikit-learn estimators: ElmoVectorizer, ElmoClassifier, ElmoRegressor."""

from ._estimators import ElmoClassifier, ElmoRegressor, ElmoVectorizer

__all__ = ["ElmoClassifier", "ElmoRegressor", "ElmoVectorizer"]
