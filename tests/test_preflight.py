"""Every search refuses, before any training, what no candidate of it could train.

skhp's drop-in ``GridSearchCV`` and ``RandomizedSearchCV`` check their whole
space as the oracle searches do: a bad value of a grid, a value a
distribution can take, a misspelt name (with skhp's did-you-mean), ``hp__``
names, an image shape that does not fit X, a one-class y.
"""

import keras
import numpy as np
import pytest
from scipy.stats import loguniform

from skhp import KerasClassifier
from skhp.search import GridSearchCV, NarrowingSearchCV, RandomizedSearchCV


def build(hp):
    return keras.Sequential([keras.Input((4,)),
                             keras.layers.Dense(hp.Int("units", 4, 8), activation="relu"),
                             keras.layers.Dense(3, activation="softmax")])


def small(**params):
    return KerasClassifier(**{"hidden_layer_sizes": (4,), "epochs": 1, **params})


SEARCHES = {
    "grid": lambda est, space: GridSearchCV(est, space, cv=2),
    "randomized": lambda est, space: RandomizedSearchCV(est, space, n_iter=2, cv=2, random_state=0),
    "randomized-unseeded": lambda est, space: RandomizedSearchCV(est, space, n_iter=2, cv=2),
    "narrowing": lambda est, space: NarrowingSearchCV(est, space, n_iter=2, cv=2, random_state=0),
}

CASES = [
    ("epochs", small(), {"epochs": [2, -1]}, None, r"candidate \{'epochs': -1\} is refused: The "
                                                   r"'epochs' parameter .* range \[1, inf\)"),
    ("rate", small(), {"learning_rate": [1e-3, -0.1]}, None,
     r"\{'learning_rate': -0.1\} is refused: The 'learning_rate' parameter"),
    ("hp-misspelt", KerasClassifier(model=build, epochs=1), {"hp__unit": [4, 8]}, None,
     r"hp__unit: .* Did you mean 'units'\?"),
    ("hp-no-build", small(), {"hp__units": [4, 8]}, None,
     r"hp__units: hp__ parameters set the hyperparameters of a build function"),
    ("image", small(), {"image_shape": [(2, 2), (3, 3)]}, None,
     r"image_shape=\(3, 3\) holds 9 values, but X has 4 features"),
    ("one-class", small(), {"learning_rate": [1e-3, 1e-2]}, np.zeros(150),
     r"only one class is present: y holds the single class 0.0"),
    ("misspelt", small(), {"lerning_rate": [1e-3]}, None,
     r"names 'lerning_rate', which KerasClassifier does not take. Did you mean 'learning_rate'\?"),
]


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a candidate trained before the search was refused")
    monkeypatch.setattr(KerasClassifier, "_fit", refuse)


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_value_or_name_is_refused_before_any_training(iris, no_training, search, case):
    _, estimator, space, y, message = case
    X = iris[0]
    with pytest.raises(ValueError, match=message):
        SEARCHES[search](estimator, space).fit(X, iris[1] if y is None else y)


def test_a_bad_value_a_distribution_can_take_is_refused(iris, no_training):
    est = small(warmup=1, epochs=2, warmup_lr=1e-3)
    with pytest.raises(ValueError, match=r"warmup_lr \(0.001\) must not be above learning_rate"):
        RandomizedSearchCV(est, {"learning_rate": loguniform(1e-5, 1e-1)}, n_iter=3, cv=2).fit(*iris)


def test_a_rule_tying_two_searched_values_refuses_only_real_candidates(iris):
    # warmup=3 with epochs=2 alone would be refused; the grid never pairs them
    grid = [{"warmup": [0], "epochs": [1]}, {"warmup": [3], "epochs": [3]}]
    search = GridSearchCV(small(), grid, cv=2).fit(*iris)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    with pytest.raises(ValueError, match=r"warmup \(3\) must not exceed epochs \(1\)"):
        GridSearchCV(small(), {"warmup": [0, 3], "epochs": [1, 3]}, cv=2).fit(*iris)
    # a continuous space probes each value alone: the pair is left to the trials
    NarrowingSearchCV(small(), {"warmup": [0, 3], "epochs": [1, 3]}, n_iter=2, n_initial=2,
                      cv=2, random_state=0).fit(*iris)
