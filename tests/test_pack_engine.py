"""The pack engine runs any Keras model's own layers: builders, instances and losses of the user's.

Every slot performs the updates its estimator's ordinary fit performs: a
pack of one ends within float32 round-off of ``fit`` (weights, the model's
non-trainable state, the loss per epoch), for every optimizer a pack trains.
"""

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV as SklearnGridSearchCV
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier, KerasRegressor
from skhp.packed import fit_packed, model_signature, train_packs
from skhp.search import GridSearchCV, NarrowingSearchCV

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS).astype("float32")
# mixed classes in every batch (fit__shuffle=False keeps this order): iris sorted by class
# gives one-class batches, whose saturated softmax leaves gradients at round-off level, where
# the Adam family's normalized steps turn summation-order differences into visible ones
_ORDER = np.random.default_rng(0).permutation(len(Y_IRIS))
X_IRIS, Y_IRIS = X_IRIS[_ORDER], Y_IRIS[_ORDER]


def build(meta, units=8, dropout=0.2):
    """A user's builder: Dense, BatchNormalization, Dropout (random, with state of its own)."""
    return keras.Sequential([
        keras.Input((meta["n_features_in_"],)),
        keras.layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3)),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(meta["n_classes_"], activation="softmax"),
    ])


def _values(estimator):
    model = estimator.model_
    return [v.numpy() for v in [*model.trainable_variables, *model.non_trainable_variables]
            if v.dtype != "uint32"]  # seed states: the same draws, not weights


def _max_difference(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(_values(a), _values(b)))


@pytest.mark.parametrize("optimizer, extra", [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9, "optimizer__nesterov": True, "optimizer__weight_decay": 1e-3}),
    ("adam", {"optimizer__amsgrad": True}),
    ("adamw", {}),
    ("rmsprop", {"momentum": 0.5}),
    ("nadam", {}),
    ("adagrad", {"optimizer__initial_accumulator_value": 0.2}),
    ("adamax", {}),
])
def test_a_packed_builder_equals_its_ordinary_fit_for_every_optimizer(optimizer, extra):
    params = dict(model=build, epochs=2, fit__shuffle=False, random_state=0, batch_size=16,
                  optimizer=optimizer, learning_rate=0.01, weight_decay=1e-3, smoothing=0.1,
                  schedule="cosine", warmup=1, **extra)
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    (packed,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS)
    assert _max_difference(ordinary, packed) < 1e-4  # weights and BatchNormalization's statistics
    np.testing.assert_allclose(packed.history_["loss"], ordinary.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(packed.predict_proba(X_IRIS), ordinary.predict_proba(X_IRIS),
                               atol=1e-4)


def test_each_slot_of_a_pack_of_eight_equals_its_own_pack_of_one():
    params = [dict(learning_rate=lr, random_state=seed, model__dropout=d, smoothing=0.1 * (i % 3))
              for i, (lr, seed, d) in enumerate(zip([1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1e-2, 3e-3],
                                                    [0, 1, 2, 3, 0, 1, 2, 0],
                                                    [0.0, 0.1, 0.2, 0.3, 0.0, 0.1, 0.2, 0.5]))]
    base = KerasClassifier(model=build, epochs=2, batch_size=16, early_stopping=1)
    crowd = fit_packed([clone(base).set_params(**p) for p in params], X_IRIS, Y_IRIS)
    for i in (1, 3, 4, 7):  # a built model reused (4: seed 0 as 0), smoothing per slot
        (alone,) = fit_packed([clone(base).set_params(**params[i])], X_IRIS, Y_IRIS)
        assert _max_difference(alone, crowd[i]) < 1e-5
        assert alone.history_["val_loss"] == pytest.approx(crowd[i].history_["val_loss"], rel=1e-5)


def test_a_model_instance_and_losses_of_the_users_pack_and_equal_ordinary_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype("float32")
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=80)
    weights = rng.uniform(0.5, 2.0, size=80)
    instance = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6, activation="tanh"),
                                 keras.layers.Dense(1)])

    def absolute(y_true, y_pred):  # a plain function, per sample
        return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)

    for loss in [keras.losses.LogCosh(), absolute, "mean_squared_logarithmic_error"]:
        params = dict(model=instance, loss=loss, epochs=2, optimizer="adam", learning_rate=0.05,
                      fit__shuffle=False, batch_size=16, random_state=1, initializer="he_normal")
        ordinary = KerasRegressor(**params).fit(X, y, sample_weight=weights)
        (packed,) = fit_packed([KerasRegressor(**params)], X, y, sample_weight=weights)
        assert _max_difference(ordinary, packed) < 1e-5, loss
        np.testing.assert_allclose(packed.history_["loss"], ordinary.history_["loss"], rtol=1e-5)
    assert instance.get_weights()[1].tolist() == [0.0] * 6  # the user's model is never trained


def test_slots_pack_by_model_structure():
    jobs = [(KerasClassifier(model=build, model__units=units, epochs=1), X_IRIS, Y_IRIS, None)
            for units in (4, 8, 4, 8, 16)]
    out = train_packs(jobs)
    assert [o["pack"] for o in out] == [0, 1, 0, 1, 2]  # one pack per width
    meta = {"n_features_in_": 4, "n_classes_": 3}
    assert model_signature(build(meta)) == model_signature(build(meta))
    assert model_signature(build(meta)) != model_signature(build(meta, dropout=0.3))


def test_a_model_that_does_not_trace_in_a_pack_trains_the_ordinary_way():
    class Eager(keras.layers.Layer):  # NumPy inside call: runs eagerly only
        def call(self, x):
            return keras.ops.convert_to_tensor(np.tanh(keras.ops.convert_to_numpy(x)))

        def compute_output_shape(self, shape):
            return shape

    def eager(meta):
        return keras.Sequential([keras.Input((4,)), Eager(),
                                 keras.layers.Dense(meta["n_classes_"], activation="softmax")])

    search = GridSearchCV(KerasClassifier(model=eager, epochs=1, compile__run_eagerly=True),
                          {"learning_rate": [1e-2, 1e-1]}, cv=2).fit(X_IRIS, Y_IRIS)
    assert all(p.startswith("the model does not train in a pack") for p in search.cv_results_["packing"])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_a_users_builder_packs_in_grid_and_pruned_searches_and_scores_like_ordinary_fits():
    grid = {"model__units": [4, 8], "learning_rate": [1e-2, 1e-1]}
    est = KerasClassifier(model=build, epochs=3, batch_size=16, random_state=0)
    ours = GridSearchCV(est, grid, cv=3).fit(X_IRIS, Y_IRIS)
    assert set(ours.cv_results_["packing"]) == {"packed"}
    theirs = SklearnGridSearchCV(est, grid, cv=3).fit(X_IRIS, Y_IRIS)
    # the same fits up to the shuffling streams: mean CV scores agree within noise
    assert abs(ours.cv_results_["mean_test_score"].mean()
               - theirs.cv_results_["mean_test_score"].mean()) < 0.08
    assert ours.best_estimator_.predict(X_IRIS[:3]).shape == (3,)
    pruned = NarrowingSearchCV(KerasClassifier(model=build, epochs=4, batch_size=16), grid,
                               n_iter=8, round_size=8, cv=2, pruning="halving",
                               random_state=0).fit(X_IRIS, Y_IRIS)
    assert set(pruned.cv_results_["packing"]) == {"packed"}
    assert pruned.cv_results_["pruned"].any()


@pytest.mark.parametrize("model", [None, build])
def test_sparse_x_is_densified_a_batch_at_a_time_with_the_same_numbers(monkeypatch, model):
    from scipy import sparse

    X = np.where(np.abs(X_IRIS) < 0.5, 0.0, X_IRIS)  # a third of the entries zero
    jobs = lambda X: [(KerasClassifier(model=model, hidden_layer_sizes=(5,), epochs=2,  # noqa: E731
                                       batch_size=16, learning_rate=lr, random_state=0,
                                       early_stopping=1), X, Y_IRIS, None) for lr in (1e-2, 1e-1)]
    dense = train_packs(jobs(X))
    toarray = sparse.csr_matrix.toarray

    def few_rows(matrix, *args, **kwargs):
        assert matrix.shape[0] <= 8, "sparse X densified whole"
        return toarray(matrix, *args, **kwargs)

    monkeypatch.setattr(sparse.csr_matrix, "toarray", few_rows)
    for kind in (sparse.csr_matrix, sparse.csc_matrix):
        packed = train_packs(jobs(kind(X)))
        for a, b in zip(dense, packed):
            assert b["pack"] == 0
            assert max(float(np.abs(u - v).max()) for u, v in zip(a["weights"], b["weights"])) < 1e-6
            assert a["history"]["val_loss"] == pytest.approx(b["history"]["val_loss"], rel=1e-6)


def test_a_builders_pack_continued_epoch_range_by_range_equals_one_run():
    from skhp.packed import PackRun, plan

    def run():
        plans = [plan(KerasClassifier(model=build, epochs=9, batch_size=16, learning_rate=lr,
                                      random_state=0, schedule="cosine", warmup=1
                                      ).fit_spec(X_IRIS, Y_IRIS))
                 for lr in (1e-2, 3e-2, 1e-1)]
        return PackRun([slot for slot, _, _ in plans], **plans[0][1])

    whole, pieces = run().advance(9), run()
    for until in (1, 3, 9):  # pruning's rungs: 1 + 2 + 6 epochs
        pieces.advance(until)
    for j in range(3):
        a, b = whole.result(j), pieces.result(j)
        for u, v in zip(a["weights"] + a["state"], b["weights"] + b["state"]):
            np.testing.assert_array_equal(u, v)  # bit-equal, BatchNormalization and Dropout too
        assert a["history"] == b["history"]


def test_lottery_draws_run_inside_the_plan_and_a_slot_starts_from_the_kept_draw():
    params = dict(hidden_layer_sizes=(8,), epochs=2, fit__shuffle=False, random_state=0,
                  batch_size=16, lottery=4, lottery_steps=5, weight_decay=1e-3, smoothing=0.1,
                  early_stopping=1)  # the hold-out is left out of the draws' data too
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    (packed,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS)
    np.testing.assert_allclose(packed.lottery_losses_, ordinary.lottery_losses_, rtol=1e-5)
    assert packed.lottery_best_ == ordinary.lottery_best_
    assert _max_difference(ordinary, packed) < 1e-4
    search = GridSearchCV(KerasClassifier(**params), {"learning_rate": [1e-3, 1e-2]},
                          cv=2).fit(X_IRIS, Y_IRIS)
    assert search.packing_ == ["packed", "packed"]


def test_one_training_plan_feeds_the_ordinary_fit_and_the_packed_slot(monkeypatch):
    from skhp._training import TrainingWiring
    from skhp.packed import plan

    made = []
    original = TrainingWiring._training_plan
    monkeypatch.setattr(TrainingWiring, "_training_plan",
                        lambda self, *a, **k: made.append(original(self, *a, **k)) or made[-1])
    weights = np.linspace(0.5, 1.5, len(Y_IRIS))
    est = KerasClassifier(model=build, early_stopping=1, class_weight="balanced", epochs=2,
                          batch_size=16, random_state=3)
    ordinary = clone(est).fit(X_IRIS, Y_IRIS, sample_weight=weights)
    slot, run, _ = plan(clone(est).fit_spec(X_IRIS, Y_IRIS, weights))
    fit_plan, slot_plan = made
    for field in ("held", "kept"):
        np.testing.assert_array_equal(getattr(fit_plan, field), getattr(slot_plan, field))
    np.testing.assert_allclose(fit_plan.sample_weight, slot_plan.sample_weight)
    np.testing.assert_array_equal(slot.train, fit_plan.kept)
    np.testing.assert_array_equal(slot.validation, fit_plan.held)
    np.testing.assert_allclose(slot.sample_weight, fit_plan.sample_weight, rtol=1e-6)
    assert len(fit_plan.held) == 15 and run["batch_size"] == fit_plan.batch_size == 16
    assert len(slot.rates) == 2 * fit_plan.steps_per_epoch == 2 * 9  # 135 rows in batches of 16
    assert "val_loss" in ordinary.history_ and not hasattr(ordinary, "_plan")


def test_samples_of_zero_weight_take_no_part_in_either_path():
    weights = np.where(np.arange(len(Y_IRIS)) % 5 == 0, 0.0, 1.0)
    params = dict(model=build, early_stopping=1, epochs=2, batch_size=16, fit__shuffle=False,
                  random_state=0)
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS, sample_weight=weights)
    dropped = KerasClassifier(**params).fit(X_IRIS[weights > 0], Y_IRIS[weights > 0])
    (packed,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS, sample_weight=weights)
    assert _max_difference(ordinary, dropped) < 1e-6  # as if they were not there
    assert _max_difference(ordinary, packed) < 1e-4
    np.testing.assert_allclose(packed.history_["val_loss"], ordinary.history_["val_loss"], rtol=1e-4)
