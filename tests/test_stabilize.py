"""Lottery draws, warm-up stabilization, and searches that start from stabilized weights."""

import pickle

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV

import skhp
from skhp import KerasClassifier, KerasRegressor, StabilizedWeights
from skhp.initializers import redraw_weights


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


class WeightsAtStart(keras.callbacks.Callback):
    """Records the model's weights when the main training begins."""

    def on_train_begin(self, logs=None):
        self.weights = self.model.get_weights()


def test_redraw_gives_distinct_draws_and_same_seed_same_draw():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(3)])
    redraw_weights(model, "he_normal", seed=1)
    a = model.get_weights()
    redraw_weights(model, "he_normal", seed=2)
    b = model.get_weights()
    redraw_weights(model, "he_normal", seed=1)
    c = model.get_weights()
    assert not np.allclose(a[0], b[0]) and not np.allclose(a[2], b[2])
    assert all(np.array_equal(x, y) for x, y in zip(a, c))
    assert not np.allclose(a[0][:, :3], a[2][:4])  # layers of one draw get different seeds
    np.testing.assert_array_equal(a[1], 0)  # biases back to their initializer


def test_lottery_keeps_the_draw_with_the_lowest_loss_and_trains_it(iris):
    X, y = iris
    start = WeightsAtStart()
    # A learning rate too small to move the weights: each draw's loss is its
    # starting loss over the whole data (3 equal batches of 50).
    est = KerasClassifier(hidden_layer_sizes=(16,), epochs=1, batch_size=50, lottery=5,
                          lottery_epochs=1, lottery_steps=3, lottery_lr=1e-12,
                          callbacks=[start], random_state=0).fit(X, y)
    losses = est.lottery_losses_
    assert losses.shape == (5,) and len(set(np.round(losses, 6))) == 5  # distinct draws
    assert est.lottery_best_ == int(np.argmin(losses))
    model = est.model_
    model.set_weights(start.weights)
    loss = model.evaluate(X.astype("float32"), est.target_encoder_.transform(y), batch_size=50,
                          verbose=0)[0]
    assert loss == pytest.approx(losses[est.lottery_best_], rel=1e-4)
    assert len(est.history_["loss"]) == 1  # then trained fully


def test_lottery_is_reproducible_and_seeds_differ(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), epochs=1, lottery=3, lottery_epochs=1)
    a = KerasClassifier(random_state=0, **params).fit(X, y).lottery_losses_
    b = KerasClassifier(random_state=0, **params).fit(X, y).lottery_losses_
    c = KerasClassifier(random_state=1, **params).fit(X, y).lottery_losses_
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_lottery_on_a_regressor_builds_once():
    X = np.random.default_rng(0).normal(size=(64, 3))
    y = X @ [1.0, -2.0, 0.5]
    builds = []

    def build(meta):
        builds.append(1)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                                 keras.layers.Dense(1)])

    est = KerasRegressor(model=build, epochs=1, lottery=4, lottery_epochs=1, random_state=0).fit(X, y)
    assert len(builds) == 1 and est.lottery_losses_.shape == (4,)


def test_warmup_rises_linearly_in_history(iris):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=6, warmup=4, warmup_lr=1e-4,
                          learning_rate=1e-2, random_state=0).fit(X, y)
    step = (1e-2 - 1e-4) / 4
    np.testing.assert_allclose(est.history_["lr"][:5], [1e-4 + e * step for e in range(5)], rtol=1e-5)
    np.testing.assert_allclose(est.history_["lr"][5], 1e-2, rtol=1e-5)


@pytest.mark.parametrize("params, message", [
    ({"lottery": -1}, "The 'lottery' parameter of KerasClassifier must be an int in the range \\[0, inf\\). Got -1"),
    ({"lottery": 1.5}, "The 'lottery' parameter of KerasClassifier must be an int .* Got 1.5"),
    ({"lottery": 3, "lottery_lr": 0}, "The 'lottery_lr' parameter of KerasClassifier must be a float in the range \\(0.0, inf\\). Got 0 "),
    ({"lottery": 3, "lottery_lr": -1e-4}, "The 'lottery_lr' parameter of KerasClassifier must be a float .* Got -0.0001"),
    ({"lottery": 3, "lottery_epochs": 0}, "The 'lottery_epochs' parameter of KerasClassifier must be an int in the range \\[1, inf\\). Got 0"),
    ({"lottery": 3, "lottery_steps": 0}, "The 'lottery_steps' parameter of KerasClassifier must be an int .* or None. Got 0"),
    ({"initial_weights": [np.zeros(3)]}, "The 'initial_weights' parameter of KerasClassifier must be an instance of 'skhp.stabilize.StabilizedWeights'"),
])
def test_bad_lottery_values_are_rejected_before_building(iris, params, message):
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, **params)
    with pytest.raises((ValueError, TypeError), match=message):
        est.fit(*iris)
    assert not hasattr(est, "model_")


@pytest.fixture(scope="module")
def stabilized(iris):
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, learning_rate=1e-2, random_state=0)
    return skhp.stabilize(est, *iris, warmup=3, warmup_lr=1e-3, lottery=3)


def _weights_after_initialize(estimator, X, y):
    return estimator.initialize(X, y).model_.get_weights()


def test_stabilize_records_what_it_did(stabilized):
    w = stabilized.initial_weights
    assert isinstance(w, StabilizedWeights)
    assert w.info["warmup"] == 3 and w.info["lottery"] == 3 and 0 <= w.info["lottery_best"] < 3
    assert stabilized.warmup == 0 and stabilized.lottery == 0
    assert stabilized.learning_rate == 1e-2


def test_stabilized_clones_start_from_identical_weights(iris, stabilized):
    reference = stabilized.initial_weights.weights
    for est in (clone(stabilized), clone(stabilized).set_params(learning_rate=1e-3, random_state=5),
                pickle.loads(pickle.dumps(clone(stabilized)))):
        got = _weights_after_initialize(est, *iris)
        assert all(np.array_equal(a, b) for a, b in zip(reference, got))
    fresh = _weights_after_initialize(clone(stabilized).set_params(initial_weights=None), *iris)
    assert not np.allclose(reference[0], fresh[0])


@pytest.mark.slow
def test_stabilized_clones_start_from_identical_weights_in_joblib_workers(iris, stabilized):
    got = joblib.Parallel(n_jobs=2)(
        joblib.delayed(_weights_after_initialize)(clone(stabilized), *iris) for _ in range(2))
    for weights in got:
        assert all(np.array_equal(a, b) for a, b in zip(stabilized.initial_weights.weights, weights))


@pytest.mark.slow
def test_search_from_stabilized_weights_with_n_jobs_2(iris, stabilized):
    search = GridSearchCV(stabilized, {"learning_rate": [1e-3, 1e-2], "smoothing": [0.0, 0.1]},
                          cv=2, n_jobs=2).fit(*iris)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.initial_weights is stabilized.initial_weights


def test_searches_from_stabilized_weights_pack_and_equal_ordinary_fits(iris, stabilized):
    from skhp.packed import fit_packed
    from skhp.search import GridSearchCV as PackedGridSearchCV

    X, y = iris
    base = clone(stabilized).set_params(fit__shuffle=False, batch_size=16)
    for lr in (1e-3, 3e-2):  # slots reusing one template start from the given weights too
        ordinary = clone(base).set_params(learning_rate=lr).fit(X, y)
        packed = fit_packed([clone(base).set_params(learning_rate=rate) for rate in (1e-3, 3e-2)],
                            X, y)[(1e-3, 3e-2).index(lr)]
        assert max(np.abs(a - b).max() for a, b in zip(ordinary.model_.get_weights(),
                                                       packed.model_.get_weights())) < 1e-5
    search = PackedGridSearchCV(base, {"learning_rate": [1e-3, 1e-2], "smoothing": [0.0, 0.1]},
                                cv=2).fit(X, y)
    assert search.packing_ == ["packed"] * 4
    plain = GridSearchCV(base, {"learning_rate": [1e-3, 1e-2], "smoothing": [0.0, 0.1]},
                         cv=2).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               plain.cv_results_["mean_test_score"], atol=1e-6)


def test_weights_travel_as_a_file(iris, stabilized, tmp_path):
    path = stabilized.initial_weights.save(tmp_path / "stable.npz")
    est = clone(stabilized).set_params(initial_weights=str(path))
    got = _weights_after_initialize(est, *iris)
    assert all(np.array_equal(a, b) for a, b in zip(stabilized.initial_weights.weights, got))


def test_architecture_mismatch_is_a_clear_error(iris, stabilized):
    est = clone(stabilized).set_params(hidden_layer_sizes=(16,))
    with pytest.raises(ValueError, match="initial_weights do not match the model.*stabilize each"):
        est.fit(*iris)
    search = GridSearchCV(stabilized, {"hidden_layer_sizes": [(8,), (16,)]}, cv=2,
                          error_score="raise")
    with pytest.raises(ValueError, match="initial_weights do not match"):
        search.fit(*iris)


def test_stabilize_with_lottery_only_keeps_the_draw(iris):
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    stable = skhp.stabilize(est, *iris, warmup=0, lottery=3)
    # The same draws in an ordinary fit: its main training starts from the kept draw.
    start = WeightsAtStart()
    reference = clone(est).set_params(lottery=3, epochs=1, callbacks=[start]).fit(*iris)
    assert reference.lottery_best_ == int(np.argmin(reference.lottery_losses_))
    assert stable.initial_weights.info == {"warmup": 0, "lottery": 3,
                                           "lottery_best": reference.lottery_best_}
    for stored, kept in zip(stable.initial_weights.weights, start.weights):
        np.testing.assert_allclose(stored, kept, rtol=1e-5, atol=1e-6)


def test_stabilize_needs_an_skhp_estimator(iris):
    from sklearn.linear_model import LogisticRegression
    with pytest.raises(TypeError, match="stabilize needs an skhp estimator"):
        skhp.stabilize(LogisticRegression(), *iris)
