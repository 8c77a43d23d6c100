"""Behaviour of KerasClassifier / KerasRegressor: parameters, scikit-learn integration, errors."""

import pickle

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier, KerasRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype("float32"), y


@pytest.fixture(scope="module")
def binary():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[:300], y[:300]


def small(cls=KerasClassifier, **params):
    defaults = dict(hidden_layer_sizes=(16,), epochs=2, random_state=0)
    return cls(**{**defaults, **params})


def user_builder(meta, units=8):
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


# -- scikit-learn integration ---------------------------------------------------


def test_tags_make_them_a_classifier_and_a_regressor(iris):
    X, y = iris
    assert is_classifier(KerasClassifier()) and not is_regressor(KerasClassifier())
    assert is_regressor(KerasRegressor()) and not is_classifier(KerasRegressor())
    assert isinstance(check_cv(5, y, classifier=is_classifier(KerasClassifier())), StratifiedKFold)


def test_roc_auc_scoring_on_a_binary_problem(binary):
    X, y = binary
    scores = cross_val_score(small(epochs=5, learning_rate=0.01), X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and np.all(scores > 0.9)


def test_calibrated_classifier(binary):
    X, y = binary
    calibrated = CalibratedClassifierCV(small(), cv=2).fit(X, y)
    proba = calibrated.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_pipeline_inside_grid_search(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), small())
    grid = GridSearchCV(pipe, {"kerasclassifier__smoothing": [0.0, 0.1]}, cv=2).fit(X, y)
    assert set(grid.cv_results_["param_kerasclassifier__smoothing"]) == {0.0, 0.1}


@pytest.mark.slow
def test_grid_search_over_skhp_parameters_on_digits(digits):
    X, y = digits
    grid = GridSearchCV(
        small(hidden_layer_sizes=(64,), epochs=5, learning_rate=3e-3),
        {"initializer": ["he_normal", "glorot_uniform"], "smoothing": [0.0, 0.1]},
        cv=3,
    ).fit(X, y)
    assert grid.best_score_ > 0.9


def test_clone_round_trips_every_parameter_including_routed_ones():
    est = KerasClassifier(
        schedule="cosine", schedule__alpha=0.1, optimizer__beta_2=0.99, initializer="he_normal"
    )
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert cloned.get_params()["schedule__alpha"] == 0.1
    cloned.set_params(schedule__alpha=0.2, learning_rate=0.1)
    assert cloned.schedule__alpha == 0.2 and est.schedule__alpha == 0.1


def test_conv_layers_put_pooled_convolutions_before_the_hidden_layers(digits):
    X, y = digits
    est = small(conv_layers=(4, 8), image_shape=(8, 8), weight_decay=1e-3,
                initializer="he_normal").fit(X[:300], y[:300])
    convs = [layer for layer in est.model_.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [4, 8]
    assert [tuple(c.kernel.shape) for c in convs] == [(3, 3, 1, 4), (3, 3, 4, 8)]
    # 8x8 pooled twice is 2x2: 2 * 2 * 8 values reach the hidden layer
    assert est.model_.layers[-2].kernel.shape == (32, 16)
    assert len(est.model_.losses) == 4  # weight decay on both convolutions and both dense kernels
    # he_normal: std sqrt(2 / fan_in), fan_in = 3 * 3 * 4 for the second convolution
    again = small(conv_layers=(4, 64), image_shape=(8, 8), initializer="he_normal", epochs=1)
    again.initialize(X[:50], y[:50])
    kernel = [layer for layer in again.model_.layers if isinstance(layer, keras.layers.Conv2D)][1].kernel.numpy()
    assert kernel.std() == pytest.approx(np.sqrt(2 / 36), rel=0.15)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X[:50]), est.predict_proba(X[:50]))
    assert clone(est).get_params()["image_shape"] == (8, 8)
    # a search space may switch the convolutions off with the image shape left in place
    plain = small(conv_layers=(), image_shape=(8, 8)).fit(X[:100], y[:100]).model_
    assert [type(layer).__name__ for layer in plain.layers] == ["InputLayer", "Dense", "Dense"]


@pytest.mark.parametrize("dump", [pickle.dumps, None], ids=["pickle", "joblib"])
def test_fitted_estimator_survives_pickling(iris, tmp_path, dump):
    X, y = iris
    est = small(schedule="time", warmup=1, weight_decay=1e-3).fit(X, y)
    if dump is None:
        joblib.dump(est, tmp_path / "est.joblib")
        restored = joblib.load(tmp_path / "est.joblib")
    else:
        restored = pickle.loads(dump(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_random_state_makes_fits_identical(iris):
    X, y = iris
    a = small(random_state=7).fit(X, y).predict_proba(X)
    b = small(random_state=7).fit(X, y).predict_proba(X)
    c = small(random_state=8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_unseeded_fit_after_seeded_fit(iris):
    X, y = iris
    seeded = small(random_state=0).fit(X, y).predict_proba(X)
    # A seeded fit must leave no determinism behind: unseeded fits then differ.
    a = small(random_state=None).fit(X, y).predict_proba(X)
    b = small(random_state=None).fit(X, y).predict_proba(X)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(small(random_state=0).fit(X, y).predict_proba(X), seeded)


# -- hyperparameters ---------------------------------------------------------------


def _kernel_stds(est):
    return [float(np.std(layer.kernel.numpy())) for layer in est.model_.layers if hasattr(layer, "kernel")]


@pytest.mark.parametrize("model", [None, user_builder], ids=["built-in", "user-builder"])
def test_initializer_changes_the_weights_statistics(digits, model):
    X, y = digits
    he = _kernel_stds(small(model=model, initializer="he_normal").initialize(X, y))
    tiny = _kernel_stds(
        small(model=model, initializer=keras.initializers.RandomNormal(stddev=1e-3)).initialize(X, y)
    )
    # He-normal: std = sqrt(2 / fan_in) (truncated normal keeps ~88% of it); fan_in = 64.
    assert he[0] == pytest.approx(np.sqrt(2 / 64), rel=0.2)
    assert all(s < 2e-3 for s in tiny)


@pytest.mark.parametrize("model", [None, user_builder], ids=["built-in", "user-builder"])
def test_weight_decay_adds_l2_on_every_kernel(iris, model):
    X, y = iris
    est = small(model=model, weight_decay=1e-2).initialize(X, y)
    kernels = [layer.kernel for layer in est.model_.layers if hasattr(layer, "kernel")]
    expected = sum(1e-2 * float(np.sum(k.numpy() ** 2)) for k in kernels)
    assert len(est.model_.losses) == len(kernels) == 2
    assert float(sum(est.model_.losses)) == pytest.approx(expected, rel=1e-4)


def test_smoothing_with_string_labels_applies_the_formula(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    alpha, k = 0.2, 3
    est = small(smoothing=alpha).fit(X, labels)
    assert set(est.predict(X)) <= set(labels)
    assert list(est.classes_) == list(labels[np.unique(y, return_index=True)[1]])
    proba = est.predict_proba(X)
    onehot = np.eye(k)[y]
    target = onehot * (1 - alpha) + alpha / k
    expected = -np.mean(np.sum(target * np.log(np.clip(proba, 1e-7, 1)), axis=1))
    assert est.model_.evaluate(X, onehot.astype("float32"), verbose=0)[0] == pytest.approx(expected, rel=1e-4)


def test_history_records_loss_validation_metrics_and_lr(iris):
    X, y = iris
    est = small(epochs=3, validation_split=0.2).fit(X, y)
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(est.history_)
    assert all(len(v) == 3 for v in est.history_.values())


def test_warmup_rises_linearly_then_the_schedule_takes_over(iris):
    X, y = iris
    est = small(epochs=6, warmup=4, warmup_lr=1e-4, learning_rate=1e-2).fit(X, y)
    step = (1e-2 - 1e-4) / 4
    expected = [1e-4 + e * step for e in range(4)] + [1e-2, 1e-2]
    np.testing.assert_allclose(est.history_["lr"], expected, rtol=1e-5)


def test_time_decay_counts_epochs_by_default_and_iterations_on_request(iris):
    X, y = iris
    steps = 150 // 50
    per_epoch = small(epochs=3, batch_size=50, schedule="time", schedule__decay=0.1, learning_rate=0.1).fit(X, y)
    np.testing.assert_allclose(per_epoch.history_["lr"], [0.1 / (1 + 0.1 * e) for e in range(3)], rtol=1e-5)
    per_step = small(epochs=3, batch_size=50, schedule="time", schedule__decay=0.1,
                     schedule__per="iteration", learning_rate=0.1).fit(X, y)
    expected = [0.1 / (1 + 0.1 * e * steps) for e in range(3)]
    np.testing.assert_allclose(per_step.history_["lr"], expected, rtol=1e-5)


def test_schedule_object_is_used_as_given(iris):
    X, y = iris
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=5, decay_rate=0.5)
    est = small(epochs=2, batch_size=30, schedule=schedule).fit(X, y)  # 5 steps per epoch
    np.testing.assert_allclose(est.history_["lr"], [0.01, 0.005], rtol=1e-5)


def test_momentum_reaches_sgd_and_adam(iris):
    X, y = iris
    sgd = small(optimizer="sgd", momentum=0.9).initialize(X, y)
    adam = small(optimizer="adam", momentum=0.8).initialize(X, y)
    assert sgd.model_.optimizer.momentum == 0.9
    assert adam.model_.optimizer.beta_1 == 0.8


class _WeightsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_early_stopping_stops_and_restores(iris):
    X, y = iris
    recorder = _WeightsPerEpoch()
    # A too-large learning rate makes the validation loss stop improving early.
    est = small(epochs=30, optimizer="sgd", learning_rate=3.0, early_stopping=2,
                callbacks=[recorder]).fit(X, y)
    losses = est.history_["val_loss"]  # validation data held out by default (10 %)
    assert len(losses) < 30
    best = int(np.argmin(losses))
    assert best < len(losses) - 1  # stopped after a worse epoch, so a restore was needed
    for restored, kept in zip(est.model_.get_weights(), recorder.weights[best]):
        np.testing.assert_array_equal(restored, kept)


def test_default_batch_size_follows_the_data_size(iris):
    X, y = iris
    steps = small(epochs=1).fit(X, y).model_.optimizer.iterations.numpy()
    assert steps == int(np.ceil(150 / 32))  # 32 below 50,000 samples, 256 above (batch_size_for)
    steps = small(epochs=1, batch_size=8).fit(X, y).model_.optimizer.iterations.numpy()
    assert steps == int(np.ceil(150 / 8))


def test_regressor_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    reg = small(KerasRegressor, epochs=30, learning_rate=0.05, hidden_layer_sizes=(32,))
    reg.fit(StandardScaler().fit_transform(X), (y - y.mean()) / y.std())
    assert reg.predict(X[:5]).dtype == np.float64
    assert reg.score(StandardScaler().fit_transform(X), (y - y.mean()) / y.std()) > 0.3


# -- bad input -------------------------------------------------------------------

BAD_PARAMS = [
    ({"initializer": "he_norml"}, ValueError, "initializer='he_norml'.*Did you mean 'he_normal'"),
    ({"optimizer": "adamm"}, ValueError, "optimizer='adamm'.*allowed values"),
    ({"schedule": "cosin"}, ValueError, "schedule='cosin'.*Did you mean 'cosine'"),
    ({"learning_rate": -0.1}, ValueError, "The 'learning_rate' parameter of KerasClassifier must be a float in the range \\(0.0, inf\\), a str among {'auto'} or None. Got -0.1"),
    ({"learning_rate": 0.0}, ValueError, "The 'learning_rate' parameter of KerasClassifier must be .* Got 0.0 instead"),
    ({"smoothing": 1.0}, ValueError, "The 'smoothing' parameter of KerasClassifier must be a float in the range \\[0.0, 1.0\\). Got 1.0"),
    ({"smoothing": -0.1}, ValueError, "The 'smoothing' parameter of KerasClassifier must be .* Got -0.1"),
    ({"weight_decay": -1e-4}, ValueError, "The 'weight_decay' parameter of KerasClassifier must be a float in the range \\[0.0, inf\\). Got -0.0001"),
    ({"warmup": 2, "warmup_lr": 0.1, "learning_rate": 0.01}, ValueError, "warmup_lr .* must not be above learning_rate"),
    ({"momentum": 0.9, "optimizer": "adagrad"}, ValueError, "Adagrad has no momentum"),
    ({"schedule": "cosine", "schedule__alpah": 0.1}, ValueError, "does not take \\['alpah'\\]"),
    ({"epochs": 0}, ValueError, "The 'epochs' parameter of KerasClassifier must be an int in the range \\[1, inf\\). Got 0"),
    ({"hidden_layer_sizes": (8, 0)}, ValueError, "hidden_layer_sizes == 0, must be >= 1"),
    ({"activation": "relu6x"}, ValueError, "activation='relu6x' is not a Keras activation"),
    ({"conv_layers": (8,)}, ValueError, "conv_layers=\\(8,\\) needs image_shape, the \\(height, width\\)"),
    ({"conv_layers": (8,), "image_shape": (2, 3)}, ValueError,
     "image_shape=\\(2, 3\\) holds 6 values, but X has 4 features per sample"),
    ({"conv_layers": (8, 0), "image_shape": (2, 2)}, ValueError, "conv_layers == 0, must be >= 1"),
    ({"conv_layers": "8"}, TypeError, "conv_layers must be a positive int or a sequence of them"),
    ({"image_shape": (4,)}, ValueError, "image_shape must be None or \\(height, width\\)"),
]


@pytest.mark.parametrize("params, error, message", BAD_PARAMS, ids=[str(p[0]) for p in BAD_PARAMS])
def test_bad_parameters_fail_before_training(iris, params, error, message):
    X, y = iris
    est = small(**params)
    with pytest.raises(error, match=message):
        est.fit(X, y)
    assert not hasattr(est, "model_")


def _with_nan(X, y):
    X = X.copy()
    X[3, 1] = np.nan
    return X, y


def _with_inf(X, y):
    X = X.copy()
    X[0, 0] = np.inf
    return X, y


BAD_DATA = [
    (_with_nan, "Input X contains NaN"),
    (_with_inf, "Input X contains infinity"),
    (lambda X, y: (X, np.zeros_like(y)), "only one class is present"),
    (lambda X, y: (X[:-1], y), "inconsistent numbers of samples"),
]


@pytest.mark.parametrize("corrupt, message", BAD_DATA, ids=["nan", "inf", "one-class", "lengths"])
def test_bad_data_fails_before_training(iris, corrupt, message):
    X, y = corrupt(*iris)
    est = small()
    with pytest.raises(ValueError, match=message):
        est.fit(X, y)
    assert not hasattr(est, "model_")


@pytest.mark.parametrize("cls", [KerasClassifier, KerasRegressor])
def test_declared_parameters_pass_scikit_learns_validation_check(cls):
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation(cls.__name__, cls(hidden_layer_sizes=(4,), epochs=1))
    undeclared = set(cls().get_params()) - set(cls._parameter_constraints)
    assert not undeclared, f"parameters without a declared constraint: {sorted(undeclared)}"


def test_predict_calls_the_model_directly_with_keras_predicts_outputs(monkeypatch):
    X, y = load_iris(return_X_y=True)
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(X, y)
    expected = est.model_.predict(X.astype("float32"), verbose=0)
    calls = []
    monkeypatch.setattr(keras.Model, "predict", lambda *a, **k: calls.append(k) or expected)
    np.testing.assert_allclose(est.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    assert calls == []  # one direct call of the model
    est.set_params(predict__batch_size=16).predict_proba(X)
    assert calls and calls[0]["batch_size"] == 16  # predict__ settings go to Keras' predict
