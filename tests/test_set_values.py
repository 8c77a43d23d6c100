"""A value a user or a search sets is a value: never read as "unset" for being a default.

``learning_rate`` and ``optimizer`` default to None ("not set"): None trains at
the optimizer's own rate (an instance's, a compiled model's, else Keras'
default), and a set value always trains, whatever an optimizer instance or a
model's own compile says. A compiled Keras model instance is honoured like a
build function's compile; a rate set between two continued fits applies from
the next one.
"""

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skhp import KerasClassifier, KerasRegressor


def sgd_momentum():
    return keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)


def build_adam(hp):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-2, 1e-3])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def compiled_model(optimizer):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def trained_rate(est):
    return est.history_["lr"][-1]  # the last epoch (partial_fit keeps earlier ones)


@pytest.mark.parametrize("cls", [KerasClassifier, KerasRegressor])
def test_rate_and_optimizer_default_to_none(cls):
    params = cls().get_params()
    assert params["learning_rate"] is None and params["optimizer"] is None


@pytest.mark.parametrize("optimizer, rate", [(None, 1e-3), ("sgd", 1e-2), ("rmsprop", 1e-3),
                                             (keras.optimizers.SGD(learning_rate=0.3), 0.3)])
def test_an_unset_rate_is_the_optimizers_own(iris, optimizer, rate):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, optimizer=optimizer, random_state=0)
    assert trained_rate(est.fit(X, y)) == pytest.approx(rate)
    assert est.learning_rate_ == pytest.approx(rate)


def test_a_grid_over_the_rate_beside_an_optimizer_instance_trains_every_value(iris):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, optimizer=sgd_momentum(),
                          random_state=0)
    search = GridSearchCV(est, {"learning_rate": [1e-3, 1e-2, 1e-1]}, cv=2, error_score="raise")
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # 1e-3 equals Keras' Adam default and the old skhp default: it still trains at 1e-3
    fitted = clone(est).set_params(learning_rate=1e-3).fit(X, y)
    assert trained_rate(fitted) == pytest.approx(1e-3)
    assert fitted.model_.optimizer.get_config()["momentum"] == pytest.approx(0.9)
    best = search.best_params_["learning_rate"]
    assert trained_rate(search.best_estimator_) == pytest.approx(best)


def test_a_set_rate_replaces_a_build_functions_compiled_rate(iris):
    X, y = iris
    assert trained_rate(KerasClassifier(model=build_adam, epochs=1).fit(X, y)) == pytest.approx(1e-2)
    est = KerasClassifier(model=build_adam, learning_rate=1e-3, epochs=1).fit(X, y)
    assert trained_rate(est) == pytest.approx(1e-3)
    assert isinstance(est.model_.optimizer, keras.optimizers.Adam)


def test_a_grid_over_the_rate_of_a_compiling_build_function_trains_different_models(iris):
    X, y = iris
    search = GridSearchCV(KerasClassifier(model=build_adam, epochs=2, random_state=0),
                          {"learning_rate": [1e-3, 1e-1]}, cv=2, error_score="raise").fit(X, y)
    low, high = search.cv_results_["mean_test_score"]
    assert low != high
    assert trained_rate(search.best_estimator_) == pytest.approx(search.best_params_["learning_rate"])


def test_a_set_optimizer_replaces_a_build_functions_compiled_one(iris):
    X, y = iris
    est = KerasClassifier(model=build_adam, optimizer="sgd", epochs=1).fit(X, y)
    assert isinstance(est.model_.optimizer, keras.optimizers.SGD)
    assert trained_rate(est) == pytest.approx(1e-2)  # SGD's own default: the Adam's rate left with it


def test_a_compiled_model_instance_keeps_its_compile(iris):
    X, y = iris
    model = compiled_model(keras.optimizers.SGD(0.5))
    est = KerasClassifier(model=model, epochs=1).fit(X, y)
    assert isinstance(est.model_.optimizer, keras.optimizers.SGD)
    assert trained_rate(est) == pytest.approx(0.5)
    assert est.model_.loss == "sparse_categorical_crossentropy"
    assert est.predict(X[:3]).shape == (3,)
    # as a builder compiling the same: the same rate and optimizer
    est = KerasClassifier(model=model, learning_rate=0.05, epochs=1).fit(X, y)
    assert trained_rate(est) == pytest.approx(0.05)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_a_rate_set_between_sessions_applies_from_the_next(iris, how):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, learning_rate=0.01, random_state=0,
                          warm_start=how == "warm_start")
    fit = (lambda e: e.fit(X, y)) if how == "warm_start" else (lambda e: e.partial_fit(X, y))
    fit(est)
    before = [w.copy() for w in est.model_.get_weights()]
    fit(est.set_params(learning_rate=0.1))
    assert trained_rate(est) == pytest.approx(0.1) and est.learning_rate_ == pytest.approx(0.1)
    assert est.model_.optimizer.iterations.numpy() == 2 * 5  # the same optimizer went on
    assert any(not np.allclose(a, b) for a, b in zip(before, est.model_.get_weights()))


def test_a_continued_schedule_keeps_its_position_at_the_new_rate(iris):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=4, schedule="time", schedule__decay=0.5,
                          learning_rate=0.01, random_state=0)
    est.partial_fit(X, y)
    est.set_params(learning_rate=0.1).partial_fit(X, y)
    assert trained_rate(est) == pytest.approx(0.1 / (1 + 0.5 * 1))  # epoch 1 of lr0 / (1 + k t)


def build_plain(meta):
    return keras.Sequential([keras.Input((meta["n_features_in_"],)),
                             keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def test_scikeras_build_fn_spelling_is_model_with_a_warning(iris):
    X, y = iris
    with pytest.warns(FutureWarning, match=r"build_fn= is scikeras' former name of model="):
        est = KerasClassifier(build_fn=build_plain, epochs=1, random_state=0)
    assert est.get_params()["model"] is build_plain and "build_fn" not in est.get_params()
    assert clone(est).fit(X, y).model_.layers[-1].units == 3
    with pytest.warns(FutureWarning, match=r"pass model=<your builder>"):
        later = KerasClassifier(epochs=1).set_params(build_fn=build_plain)
    assert later.model is build_plain
    with pytest.warns(FutureWarning):
        both = KerasClassifier(model=build_plain, build_fn=build_plain)
    with pytest.raises(ValueError, match=r"build_fn .* and model are both given"):
        both.fit(X, y)
