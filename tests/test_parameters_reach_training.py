"""Every parameter a user sets reaches training; the book's own forms work.

Regression tests for parameters that were silently dropped (routed ones set
after construction, Keras 2's optimizer ``decay``), a Keras model trained in
place, misspelled names accepted, and the book's ``LearningRateScheduler``
listings, ``fit(class_weight=...)`` and DataFrame input.
"""

import warnings

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier, KerasRegressor


def small(**params):
    return KerasClassifier(**{"hidden_layer_sizes": (8,), "epochs": 2, "random_state": 0, **params})


def builder(meta, units=16):
    return keras.Sequential([
        keras.Input((meta["n_features_in_"],)),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(meta["n_classes_"], activation="softmax"),
    ])


# -- routed parameters ----------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("schedule__alpha", 0.5),
    ("model__units", 3),
    ("optimizer__nesterov", True),
    ("fit__shuffle", False),
    ("predict__batch_size", 7),
    ("loss__label_smoothing", 0.1),
    ("callbacks__patience", 2),
])
def test_routed_parameters_set_later_round_trip(name, value):
    est = KerasClassifier(builder, optimizer="sgd").set_params(**{name: value})
    assert est.get_params()[name] == value
    assert clone(est).get_params()[name] == value
    pipe = make_pipeline(StandardScaler(), KerasClassifier(builder))
    pipe.set_params(**{f"kerasclassifier__{name}": value})
    assert clone(pipe).get_params()[f"kerasclassifier__{name}"] == value


def test_routed_parameters_set_later_reach_the_model_optimizer_and_schedule(iris):
    X, y = iris
    est = KerasClassifier(builder, optimizer="sgd", schedule="cosine", epochs=1)
    est.set_params(model__units=3, optimizer__nesterov=True, schedule__alpha=0.5).fit(X, y)
    assert est.model_.layers[0].units == 3
    assert est.model_.optimizer.nesterov is True
    assert est.schedule_.alpha == 0.5


def test_a_grid_over_a_routed_parameter_trains_each_value(iris):
    X, y = iris
    grid = GridSearchCV(KerasClassifier(builder, epochs=1, random_state=0),
                        {"model__units": [1, 64]}, cv=2, refit=True).fit(X, y)
    assert grid.best_estimator_.model_.layers[0].units == grid.best_params_["model__units"]
    scores = grid.cv_results_["mean_test_score"]
    assert scores[0] != scores[1]
    grid = GridSearchCV(small(schedule="cosine", learning_rate=0.05, epochs=3),
                        {"schedule__alpha": [0.0, 0.9]}, cv=2).fit(X, y)
    assert len(set(grid.cv_results_["mean_test_score"])) == 2


# -- a Keras model passed as model= ------------------------------------------------


def test_a_model_instance_is_copied_not_trained_in_place(iris):
    X, y = iris
    model = builder({"n_features_in_": 4, "n_classes_": 3})
    before = [w.copy() for w in model.get_weights()]
    first = KerasClassifier(model, epochs=2, random_state=0).fit(X, y)
    for untouched, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(untouched, original)
    second = KerasClassifier(model, epochs=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(first.predict_proba(X), second.predict_proba(X), rtol=1e-5)
    # clones (folds) start from the same weights too
    refit = clone(first).fit(X, y)
    np.testing.assert_allclose(refit.predict_proba(X), first.predict_proba(X), rtol=1e-5)


def test_warm_start_continues_a_model_instance(iris):
    X, y = iris
    est = KerasClassifier(builder({"n_features_in_": 4, "n_classes_": 3}), epochs=1,
                          warm_start=True, random_state=0).fit(X, y)
    after_one = [w.copy() for w in est.model_.get_weights()]
    model = est.model_
    est.fit(X, y)
    assert est.model_ is model
    assert any(not np.array_equal(a, b) for a, b in zip(after_one, est.model_.get_weights()))


# -- misspelled and unknown names ---------------------------------------------------


@pytest.mark.parametrize("params, message", [
    ({"lerning_rate": 0.1}, "unknown parameter 'lerning_rate'. Did you mean 'learning_rate'"),
    ({"optimizer": "sgd", "optimizer__nesterof": True},
     "optimizer__nesterof: optimizer SGD takes no argument 'nesterof'. Did you mean 'nesterov'"),
    ({"model__units": 4}, "model__units: model__ parameters go to a builder function"),
    ({"model": builder, "model__unit": 4}, "model__unit: the builder builder takes no argument 'unit'. "
                                           "Did you mean 'units'"),
    ({"fit__shufle": False}, "fit__shufle: keras.Model.fit takes no argument 'shufle'"),
    ({"optimizer__learning_rate": 0.1}, "set the estimator's learning_rate"),
])
def test_unknown_names_fail_at_fit_before_building(iris, params, message):
    X, y = iris
    est = small(**params)
    with pytest.raises(ValueError, match=message):
        est.fit(X, y)
    assert not hasattr(est, "model_")


def test_builder_arguments_may_be_given_without_prefix(iris):
    X, y = iris
    est = KerasClassifier(builder, units=5, epochs=1).fit(*iris)
    assert est.model_.layers[0].units == 5


# -- the book's schedules as LearningRateScheduler callbacks -----------------------------

# As the book prints it (schedule="decrement" gives it exactly, tests/test_schedules.py); the
# compounding rule lr / (1 + k e) gives the same to the 4th decimal up to epoch 7, and
# 0.09647, 0.09561, 0.09467 at epochs 8-10 (1-2e-4 above).
BOOK_TABLE_10_1 = [0.0999, 0.0997, 0.0994, 0.0990, 0.0985, 0.0979, 0.0972, 0.0964, 0.0955, 0.0945]
COMPOUNDING = list(np.cumprod([0.1] + [1 / (1 + 1e-3 * e) for e in range(1, 11)])[1:])


def book_time_decay(epoch, lr):
    return lr / (1 + 1e-3 * epoch)


def test_schedule_function_reproduces_the_books_table(iris):
    X, y = iris
    est = small(optimizer="sgd", learning_rate=0.1, epochs=11, schedule=book_time_decay).fit(X, y)
    np.testing.assert_allclose(est.history_["lr"][1:11], COMPOUNDING, rtol=1e-6)  # the rule
    np.testing.assert_allclose(est.history_["lr"][1:11], BOOK_TABLE_10_1, atol=2e-4)  # the print


def test_learning_rate_scheduler_callback_drives_the_rate(iris):
    X, y = iris
    scheduler = keras.callbacks.LearningRateScheduler(book_time_decay)
    est = small(optimizer="sgd", learning_rate=0.1, epochs=11, callbacks=[scheduler]).fit(X, y)
    np.testing.assert_allclose(est.history_["lr"][1:11], COMPOUNDING, rtol=1e-6)


def test_reduce_lr_on_plateau_drives_the_rate(iris):
    X, y = iris
    # min_delta larger than any gain: after the first epoch every epoch is a plateau
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10)
    est = small(learning_rate=0.1, epochs=4, callbacks=[plateau]).fit(X, y)
    np.testing.assert_allclose(est.history_["lr"], [0.1, 0.1, 0.05, 0.025], rtol=1e-5)


def test_schedule_function_after_warmup(iris):
    X, y = iris
    est = small(learning_rate=0.1, epochs=5, warmup=2, warmup_lr=0.02,
                schedule=lambda epoch, lr: lr * 0.5).fit(X, y)
    np.testing.assert_allclose(est.history_["lr"], [0.02, 0.06, 0.05, 0.025, 0.0125], rtol=1e-5)


@pytest.mark.parametrize("params, message", [
    ({"schedule": "cosine", "callbacks": [keras.callbacks.ReduceLROnPlateau()]},
     "ReduceLROnPlateau, which sets the learning rate, and schedule='cosine'"),
    ({"warmup": 1, "callbacks": [keras.callbacks.LearningRateScheduler(book_time_decay)]},
     "the callback would overwrite the warm-up"),
    ({"schedule": book_time_decay, "schedule__alpha": 0.1}, "apply to schedule names only"),
])
def test_conflicting_rate_setters_are_refused(iris, params, message):
    with pytest.raises(ValueError, match=message):
        small(**params).fit(*iris)


# -- time decay and Keras 2's decay= -------------------------------------------------


def test_optimizer_decay_is_honoured_as_per_iteration_time_decay(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras' "decay is ignored" warning must not reach users
        est = small(optimizer="sgd", learning_rate=0.1, optimizer__decay=0.01, batch_size=50,
                    epochs=3).fit(X, y)
    steps = 150 // 50
    np.testing.assert_allclose(est.history_["lr"], [0.1 / (1 + 0.01 * steps * e) for e in range(3)],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="optimizer__decay=0.01 is Keras 2's per-iteration time decay"):
        small(optimizer__decay=0.01, schedule="cosine").fit(X, y)


# -- class_weight --------------------------------------------------------------------


def test_class_weight_in_fit_equals_the_parameter(iris):
    X, y = iris
    X, y = X[:120], y[:120]  # unbalanced: 50, 50, 20
    by_fit = small().fit(X, y, class_weight="balanced").predict_proba(X)
    by_param = small(class_weight="balanced").fit(X, y).predict_proba(X)
    plain = small().fit(X, y).predict_proba(X)
    np.testing.assert_allclose(by_fit, by_param, rtol=1e-5)
    assert not np.allclose(by_fit, plain)


# -- early stopping holds out validation data -----------------------------------------


def test_early_stopping_watches_held_out_data(iris):
    X, y = iris
    est = small(epochs=3, early_stopping=1).fit(X, y)
    assert "val_loss" in est.history_
    assert est._steps_per_epoch() == int(np.ceil((150 - 15) / 32))
    assert "val_loss" not in small(epochs=1).fit(X, y).history_
    assert "val_loss" not in small(epochs=2, early_stopping=1, validation_split=0.0).fit(X, y).history_


# -- input shapes and column names ----------------------------------------------------


def test_images_reach_the_built_in_model_and_five_d_input_is_refused(iris):
    X, y = iris
    flat = small().fit(X.reshape(150, 2, 2), y)  # images as they come: the MLP flattens them
    assert flat.model_.layers[-2].kernel.shape[0] == 4
    with pytest.raises(ValueError, match=r"X has shape \(150, 1, 2, 2, 1\), but the built-in model"):
        small().fit(X.reshape(150, 1, 2, 2, 1), y)


def test_three_d_input_works_with_a_model_that_takes_it(iris):
    X, y = iris

    def build(meta):
        return keras.Sequential([keras.Input((2, 2)), keras.layers.Flatten(),
                                 keras.layers.Dense(3, activation="softmax")])

    est = KerasClassifier(build, epochs=1).fit(X.reshape(150, 2, 2), y)
    assert est.predict(X.reshape(150, 2, 2)).shape == (150,)


@pytest.mark.parametrize("cls", [KerasClassifier, KerasRegressor])
def test_dataframe_columns_are_remembered_and_checked(iris, cls):
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = cls(hidden_layer_sizes=(4,), epochs=1).fit(frame, y)
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
    est.predict(frame)
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame.rename(columns={"a": "z"}))
    assert not hasattr(cls(hidden_layer_sizes=(4,), epochs=1).fit(X, y), "feature_names_in_")


# -- partial_fit past epochs ----------------------------------------------------------


def test_partial_fit_past_the_end_of_a_decaying_schedule_raises(iris):
    X, y = iris
    est = small(schedule="linear", epochs=2)
    est.partial_fit(X, y, classes=[0, 1, 2])
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="past epochs=2, where LinearToZero"):
        est.partial_fit(X, y)


def test_partial_fit_past_epochs_continues_a_constant_rate(iris):
    X, y = iris
    est = small(epochs=1, learning_rate=0.01)
    for _ in range(3):
        est.partial_fit(X, y, classes=[0, 1, 2])
    assert est.history_["lr"] == pytest.approx([0.01] * 3)
