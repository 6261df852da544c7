"""scikit-learn's own API-contract checks, where they run on text estimators.

scikit-learn's full check suite feeds numeric arrays; these are the checks
that test the contract itself (construction, parameters, cloning, tags,
parameter validation, use before fit) and so apply to estimators of strings.
The behaviour they cannot cover with string input is tested by hand in
test_estimators.py, test_bad_input.py and test_persistence.py.
"""

import pytest
from sklearn.utils import estimator_checks

from sklearn_elmo import ElmoClassifier, ElmoRegressor, ElmoVectorizer

CHECKS = [
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_no_attributes_set_in_init",
    "check_mixin_order",
    "check_estimator_repr",
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_param_validation",
    "check_estimators_unfitted",
]
ESTIMATORS = [ElmoClassifier(), ElmoRegressor(), ElmoVectorizer()]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", CHECKS)
def test_sklearn_check(estimator, check):
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


def test_vectorizer_feature_names_before_fit():
    estimator_checks.check_get_feature_names_out_error(
        "ElmoVectorizer", ElmoVectorizer()
    )
