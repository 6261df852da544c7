"""Warnings and errors raised by sklearn-elmo."""

__all__ = ["BilmMismatchError", "EmbeddingCacheWarning", "InconsistentVersionWarning"]


class InconsistentVersionWarning(UserWarning):
    """An estimator was unpickled with a different sklearn-elmo version.

    Mirrors :class:`sklearn.exceptions.InconsistentVersionWarning`, which
    scikit-learn raises for its own estimators.

    Parameters
    ----------
    estimator_name : str
        Class name of the unpickled estimator.
    current_version : str
        sklearn-elmo version of this process.
    original_version : str
        sklearn-elmo version that pickled the estimator ("unknown" for a
        pickle that does not record it).

    Examples
    --------
    >>> from sklearn_elmo.exceptions import InconsistentVersionWarning
    >>> w = InconsistentVersionWarning(
    ...     estimator_name="ElmoClassifier",
    ...     current_version="0.2.0",
    ...     original_version="0.1.0",
    ... )
    >>> str(w).startswith("Trying to unpickle estimator ElmoClassifier")
    True
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from sklearn-elmo "
            f"version {self.original_version} when using version "
            f"{self.current_version}. This might lead to breaking code or invalid "
            "results. Use at your own risk. See docs/persistence.md: refit with this "
            "version, or load the pickle with the version that made it."
        )


class BilmMismatchError(ValueError):
    """The biLM at an estimator's ``model`` is not the one it was fitted with.

    A :class:`ValueError`, raised when a fitted estimator first uses its biLM
    (``predict``, ``transform``, ...) and the biLM's fingerprint differs from
    ``bilm_fingerprint_``.

    Attributes
    ----------
    source : str
        The estimator's ``model``.
    initial_state : str
        The estimator's ``initial_state``.
    expected : str
        Fingerprint recorded at fit time (``bilm_fingerprint_``).
    found : str
        Fingerprint of the biLM found at ``source``.
    """

    def __init__(
        self, message, *, source=None, initial_state=None, expected=None, found=None
    ):
        super().__init__(message)
        self.source = source
        self.initial_state = initial_state
        self.expected = expected
        self.found = found


class EmbeddingCacheWarning(UserWarning):
    """The persistent embedding cache could not be used as asked.

    The returned features are still exact: an unreadable, corrupt or foreign
    entry is recomputed, and a failed write only loses the saved copy.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_elmo.exceptions import EmbeddingCacheWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", EmbeddingCacheWarning)
    ...     warnings.warn("cache folder is read-only", EmbeddingCacheWarning)
    >>> issubclass(EmbeddingCacheWarning, UserWarning)
    True
    """
