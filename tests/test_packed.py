"""Packed training: each slot does what an ordinary fit does; searches use packs transparently."""

import copy
import pickle

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier, KerasRegressor
from skhp.packed import fit_packed, pack_reason, plan, train_packs
from skhp.search import GridSearchCV, NarrowingSearchCV, RandomizedSearchCV, Real

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS).astype("float32")


def _max_difference(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a.model_.get_weights(), b.model_.get_weights()))


@pytest.mark.parametrize("optimizer, extra", [
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.5, "optimizer__nesterov": True}),
    ("adam", {}),
    ("adamw", {}),
    ("rmsprop", {"optimizer__centered": True}),
    ("nadam", {}),
])
def test_a_pack_of_one_equals_an_ordinary_fit(optimizer, extra):
    params = dict(hidden_layer_sizes=(8,), epochs=2, initializer="he_normal", fit__shuffle=False,
                  random_state=0, batch_size=16, optimizer=optimizer, learning_rate=0.01,
                  weight_decay=1e-3, smoothing=0.1, schedule="cosine", warmup=1, **extra)
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    (packed,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS)
    assert _max_difference(ordinary, packed) < 1e-5
    np.testing.assert_allclose(packed.history_["loss"], ordinary.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(packed.history_["lr"], ordinary.history_["lr"], rtol=1e-6)


def embedded(meta, dim=3):
    """Each feature's sign as a token (tokens repeat in every row): an Embedding's gradient."""
    tokens = keras.Input((meta["n_features_in_"],))
    ids = keras.layers.Lambda(lambda x: keras.ops.cast(x > 0, "int32"))(tokens)
    vectors = keras.layers.Flatten()(keras.layers.Embedding(2, dim)(ids))
    return keras.Model(tokens, keras.layers.Dense(meta["n_classes_"], activation="softmax")(vectors))


@pytest.mark.parametrize("optimizer, extra", [
    ("adam", {}), ("rmsprop", {"optimizer__centered": True}), ("adagrad", {}), ("nadam", {}),
    ("adamax", {}), ("sgd", {"momentum": 0.9}),
])
def test_an_embedding_packs_with_every_optimizer_equal_to_its_ordinary_fit(optimizer, extra):
    # TensorFlow's gradient of an embedding is sparse, one row per looked-up token; skhp's
    # fits apply it dense, as JAX's and a pack's are (Keras' own Adam on the sparse rows
    # differs by 0.7 after 2 epochs here; its centered RMSprop fails)
    params = dict(model=embedded, epochs=2, fit__shuffle=False, random_state=0, batch_size=16,
                  optimizer=optimizer, learning_rate=0.05, **extra)
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    assert pack_reason(KerasClassifier(**params)) is None
    (packed,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS)
    assert _max_difference(ordinary, packed) < 1e-4
    np.testing.assert_allclose(packed.history_["loss"], ordinary.history_["loss"], rtol=1e-4)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's sparse gradient")
def test_a_tensorflow_fit_applies_an_embeddings_gradient_dense():
    import tensorflow as tf

    from skhp.fit_spec import dense_gradients

    table = keras.Variable(np.zeros((3, 1), "float32"))
    # token 0 twice: its gradient rows 1 and 2 sum to 3, whose square is 9 (not 1 + 4)
    gradient = tf.IndexedSlices(tf.constant([[1.0], [2.0]]), tf.constant([0, 0]),
                                tf.constant([3, 1]))
    sparse, dense = keras.optimizers.Adam(0.1), dense_gradients(keras.optimizers.Adam(0.1))
    for optimizer in (sparse, dense):
        optimizer.apply([gradient], [table])
    velocities = [float(next(v for v in opt.variables if "velocity" in v.path).numpy()[0, 0])
                  for opt in (sparse, dense)]
    np.testing.assert_allclose(velocities, [0.001 * 5, 0.001 * 9], rtol=1e-5)


def tokens(meta):
    return keras.Sequential([keras.Input((4,)), keras.layers.Embedding(20, 3),
                             keras.layers.Flatten(),
                             keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def test_a_pickled_embedding_model_goes_on_training_as_the_original_does():
    X = np.abs(load_iris().data * 2).astype(int)
    est = KerasClassifier(model=tokens, epochs=2, optimizer="rmsprop", optimizer__centered=True,
                          random_state=0).fit(X, Y_IRIS)
    restored, copied = pickle.loads(pickle.dumps(est)), copy.deepcopy(est)
    for other in (restored, copied):
        np.testing.assert_allclose(other.predict_proba(X), est.predict_proba(X), atol=1e-6)
    for each in (est, restored, copied):  # centered RMSprop fails on a sparse gradient
        each.partial_fit(X, Y_IRIS)
    for other in (restored, copied):
        np.testing.assert_allclose(other.predict_proba(X), est.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("conv", [(), (3,)])
def test_without_an_initializer_a_pack_of_one_starts_where_an_ordinary_fit_does(conv):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:200] / 16).astype("float32"), y[:200]
    params = dict(hidden_layer_sizes=(8,), conv_layers=conv, image_shape=(8, 8), epochs=2,
                  fit__shuffle=False, random_state=3, batch_size=32, learning_rate=0.01)
    ordinary = KerasClassifier(**params).fit(X, y)  # initializer=None: was Keras' own draw
    (packed,) = fit_packed([KerasClassifier(**params)], X, y)
    assert _max_difference(ordinary, packed) < 1e-4
    np.testing.assert_allclose(packed.predict_proba(X), ordinary.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_convolutional_slot_equals_an_ordinary_fit(optimizer):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:200] / 16).astype("float32"), y[:200]
    params = dict(hidden_layer_sizes=(8,), conv_layers=(3, 5), image_shape=(8, 8), epochs=2,
                  initializer="he_normal", fit__shuffle=False, random_state=0, batch_size=32,
                  optimizer=optimizer, learning_rate=0.05, weight_decay=1e-3, smoothing=0.1,
                  schedule="cosine")
    ordinary = KerasClassifier(**params).fit(X, y)
    (packed,) = fit_packed([KerasClassifier(**params)], X, y)
    # round-off only: Keras' convolution sums the 3x3 patches in another order than the pack
    assert _max_difference(ordinary, packed) < 1e-4
    np.testing.assert_allclose(packed.history_["loss"], ordinary.history_["loss"], rtol=1e-4)
    # odd image sides: same-padded pooling, 5x3 -> 3x2 (a regressor, one channel given)
    Xr = np.random.default_rng(0).normal(size=(40, 15)).astype("float32")
    params = dict(hidden_layer_sizes=(4,), conv_layers=(2,), image_shape=(5, 3, 1), epochs=2,
                  initializer="glorot_uniform", optimizer=optimizer, learning_rate=0.01, fit__shuffle=False, random_state=0,
                  batch_size=16)
    ordinary = KerasRegressor(**params).fit(Xr, Xr[:, 0])
    (packed,) = fit_packed([KerasRegressor(**params)], Xr, Xr[:, 0])
    assert _max_difference(ordinary, packed) < 1e-5


def _convolutions_builder(meta):
    # strided, grouped (groups=2) and dilated 1-D convolutions, each with its own kernel per slot
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(4, 3, strides=2, groups=2, activation="relu"),
        keras.layers.Reshape((9, 4)), keras.layers.Conv1D(3, 2, dilation_rate=2),
        keras.layers.Flatten(), keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def test_a_packs_convolutions_run_as_one_grouped_convolution(monkeypatch):
    from sklearn.datasets import load_digits

    from skhp.packed import _tf_convolutions

    calls, grouped = [], _tf_convolutions.grouped_conv2d
    monkeypatch.setattr(_tf_convolutions, "grouped_conv2d",
                        lambda *args, **kwargs: calls.append(1) or grouped(*args, **kwargs))
    X, y = load_digits(return_X_y=True)
    X, y = (X[:160] / 16).astype("float32"), y[:160]
    # structures no other test packs: their programs are traced here, through the rule
    cases = [dict(hidden_layer_sizes=(5,), conv_layers=(4, 6), image_shape=(8, 8)),
             dict(model=_convolutions_builder, X=X.reshape(-1, 8, 8, 1))]
    for case in cases:
        data = case.pop("X", X)
        slots = [KerasClassifier(**case, epochs=2, batch_size=32, fit__shuffle=False,
                                 optimizer="adam", learning_rate=rate, random_state=seed)
                 for seed, rate in enumerate([0.01, 0.05, 0.002])]
        packed = fit_packed(slots, data, y)
        for estimator, slot in zip(slots, packed):
            ordinary = clone(estimator).fit(data, y)
            assert _max_difference(ordinary, slot) < 1e-4  # each slot is its own fit
    assert len(calls) == 2 + 3  # every convolution of both models, traced once each


def test_a_regressor_slot_with_class_free_sample_weights_equals_an_ordinary_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)).astype("float32")
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=90)
    weights = rng.uniform(0.5, 2.0, size=90)
    params = dict(hidden_layer_sizes=(4,), epochs=2, initializer="glorot_uniform", optimizer="sgd",
                  learning_rate=0.05, fit__shuffle=False, batch_size=16, random_state=1)
    ordinary = KerasRegressor(**params).fit(X, y, sample_weight=weights)
    (packed,) = fit_packed([KerasRegressor(**params)], X, y, sample_weight=weights)
    assert _max_difference(ordinary, packed) < 1e-5


def test_early_stopping_in_a_pack_stops_and_restores_like_keras():
    params = dict(hidden_layer_sizes=(8,), epochs=12, initializer="he_normal", fit__shuffle=False,
                  random_state=0, batch_size=16, optimizer="adam", learning_rate=1.0,
                  early_stopping=1)
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    (packed,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS)
    assert len(packed.history_["val_loss"]) == len(ordinary.history_["val_loss"]) < 12
    np.testing.assert_allclose(packed.history_["val_loss"], ordinary.history_["val_loss"], rtol=1e-4)
    assert _max_difference(ordinary, packed) < 1e-3  # float32 round-off grows at learning_rate=1


def test_a_slot_does_not_depend_on_the_other_slots_of_its_pack():
    rates = [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 1e-4]
    alone = fit_packed([KerasClassifier(hidden_layer_sizes=(8,), epochs=2, learning_rate=0.01,
                                        random_state=5)], X_IRIS, Y_IRIS)[0]
    crowd = fit_packed([KerasClassifier(hidden_layer_sizes=(8,), epochs=2, learning_rate=lr,
                                        random_state=5 if lr == 0.01 else i)
                        for i, lr in enumerate(rates)], X_IRIS, Y_IRIS)
    # the same numbers up to float32 round-off (matrix kernels block by batch size)
    assert _max_difference(alone, crowd[rates.index(0.01)]) < 1e-6


@pytest.mark.parametrize("schedule, extra", [
    ("onecycle", {}), ("restarts", {}), ("time", {"schedule__decay": 0.5}), ("exponential", {}),
])
def test_per_slot_rates_and_momenta_are_the_schedule_objects_values(schedule, extra):
    est = KerasClassifier(epochs=4, warmup=1, learning_rate=0.1, optimizer="sgd", momentum=0.9,
                          schedule=schedule, **extra)
    slot, _, _ = plan(est.fit_spec(X_IRIS, Y_IRIS))
    steps = len(slot.rates) // 4
    assert steps == int(np.ceil(len(X_IRIS) / 32))
    expected = [float(est.schedule_(step)) for step in range(4 * steps)]
    np.testing.assert_allclose(slot.rates, expected, rtol=1e-6)
    if schedule == "onecycle":
        main = est.schedule_.schedule
        momenta = [float(main.momentum(max(step - steps, 0))) for step in range(4 * steps)]
        np.testing.assert_allclose(slot.momenta, momenta, rtol=1e-6)
        assert slot.momenta.min() < 0.9
    else:
        assert set(slot.momenta) == {0.9}


def test_a_function_schedule_is_tabulated_per_epoch():
    est = KerasClassifier(epochs=3, learning_rate=0.1, schedule=lambda epoch, lr: lr / 2)
    slot, _, _ = plan(est.fit_spec(X_IRIS, Y_IRIS))
    steps = len(slot.rates) // 3
    np.testing.assert_allclose(slot.rates[::steps], [0.05, 0.025, 0.0125])


def test_what_cannot_be_packed_says_why_and_trains_the_ordinary_way():
    assert pack_reason(KerasClassifier(lottery=3)) is None  # the built-in model's draws pack
    assert "lottery" in pack_reason(KerasClassifier(model=lambda meta: None, lottery=3))
    assert "cycles" in pack_reason(KerasClassifier(schedule="restarts", early_stopping=2))
    assert "optimizer setting" in pack_reason(KerasClassifier(optimizer__clipnorm=1.0))
    assert "Lion" in pack_reason(KerasClassifier(optimizer="lion"))
    assert "loss_weights" in pack_reason(KerasClassifier(compile__loss_weights=[1.0]))
    assert pack_reason(KerasClassifier(optimizer__beta_2=0.99)) is None
    assert pack_reason(KerasClassifier(model=lambda meta: None, loss="mse",
                                       compile__jit_compile=False)) is None

    # an Embedding of token ids packs with Adam too (dense gradients)
    grid = {"model": [tokens, None], "optimizer": ["adam"]}
    search = GridSearchCV(KerasClassifier(epochs=1, hidden_layer_sizes=(4,)), grid, cv=2)
    search.fit(np.abs(X_IRIS * 2).astype(int), Y_IRIS)
    assert list(search.cv_results_["packing"]) == ["packed", "packed"]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_packed_and_ordinary_searches_agree_within_noise(seed):
    est = make_pipeline(StandardScaler(), KerasClassifier(hidden_layer_sizes=(16,), epochs=3,
                                                          random_state=seed))
    grid = {"kerasclassifier__learning_rate": [3e-3, 3e-2], "kerasclassifier__batch_size": [8, 32]}
    runs = [GridSearchCV(est, grid, cv=3, packing=packing, scoring=["accuracy", "neg_log_loss"],
                         refit="accuracy", return_train_score=True).fit(load_iris().data, Y_IRIS)
            for packing in ("auto", False)]
    packed, ordinary = (r.cv_results_ for r in runs)
    assert list(packed["packing"]) == ["packed"] * 4
    assert list(ordinary["packing"]) == ["packing=False"] * 4
    difference = packed["mean_test_accuracy"] - ordinary["mean_test_accuracy"]
    assert abs(difference.mean()) < 0.05 and np.abs(difference).max() < 0.2
    assert np.all(np.isfinite(packed["mean_train_neg_log_loss"]))
    assert np.all(packed["mean_fit_time"] < ordinary["mean_fit_time"])
    assert runs[0].best_estimator_.score(load_iris().data, Y_IRIS) > 0.6


def test_a_diverging_slot_is_a_failed_candidate_and_the_others_go_on():
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, optimizer="sgd", random_state=0)
    search = GridSearchCV(est, {"learning_rate": [1e6, 0.05]}, cv=2)
    with pytest.warns(FitFailedWarning, match="diverged"):
        search.fit(X_IRIS * 1e3, Y_IRIS)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1])
    assert search.best_params_ == {"learning_rate": 0.05}
    with pytest.raises(ValueError, match="diverged"):
        clone(search).set_params(error_score="raise").fit(X_IRIS * 1e3, Y_IRIS)


def test_skhp_searches_pack_by_default_and_round_trip():
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    search = NarrowingSearchCV(est, {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=4,
                               round_size=2, cv=2, random_state=0)
    assert clone(search).get_params()["packing"] == "auto"
    search.fit(X_IRIS, Y_IRIS)
    assert search.packing_ == ["packed"] * 4
    again = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(again.predict(X_IRIS), search.predict(X_IRIS))
    with pytest.raises(ValueError, match="packing"):
        clone(search).set_params(packing="always").fit(X_IRIS, Y_IRIS)


def test_randomized_search_packs():
    from scipy.stats import loguniform

    search = RandomizedSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=1),
                                {"learning_rate": loguniform(1e-3, 1e-1)}, n_iter=3, cv=2,
                                random_state=0).fit(X_IRIS, Y_IRIS)
    assert search.packing_ == ["packed"] * 3
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_an_invalid_candidate_is_refused_before_any_pack_trains():
    search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=1),
                          {"learning_rate": [-1.0, 0.01]}, cv=2)
    with pytest.raises(ValueError, match=r"candidate \{'learning_rate': -1.0\} is refused"):
        search.fit(X_IRIS, Y_IRIS)
    assert not hasattr(search, "cv_results_")


def test_convolutions_that_do_not_fit_x_are_refused_before_any_pack_trains():
    search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=1, conv_layers=(2,)),
                          {"image_shape": [(2, 2), (3, 3)]}, cv=2)
    with pytest.raises(ValueError, match=r"image_shape=\(3, 3\) holds 9 values, but X has 4"):
        search.fit(X_IRIS, Y_IRIS)
    assert not hasattr(search, "cv_results_")


def test_packs_of_many_shapes_do_not_warn_of_retracing(caplog):
    # each new program traces once; TensorFlow must not count them as one function retracing
    jobs = [(KerasClassifier(hidden_layer_sizes=(n,), epochs=1), X_IRIS, Y_IRIS, None)
            for n in range(3, 10)]
    with caplog.at_level("WARNING", logger="tensorflow"):
        train_packs(jobs)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_slots_of_one_shape_score_through_one_traced_call_left_out_of_pickles(monkeypatch):
    import skhp._fit_specs as evaluate

    traced = []
    real = evaluate._traced_call
    monkeypatch.setattr(evaluate, "_traced_call", lambda model: traced.append(model) or real(model))
    search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0),
                          {"learning_rate": [0.01, 0.03, 0.1]}, cv=3).fit(X_IRIS, Y_IRIS)
    assert len(traced) == 1 and np.isfinite(search.cv_results_["mean_test_score"]).all()
    # the same scores as eager calls of fitted clones
    plain = GridSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0),
                         {"learning_rate": [0.01, 0.03, 0.1]}, cv=3)
    monkeypatch.setattr(evaluate, "_traced_call", lambda model: None)
    np.testing.assert_allclose(plain.fit(X_IRIS, Y_IRIS).cv_results_["mean_test_score"],
                               search.cv_results_["mean_test_score"])
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0).fit(X_IRIS, Y_IRIS)
    est._compiled_call = real(est.model_)
    restored = pickle.loads(pickle.dumps(est))
    assert not hasattr(restored, "_compiled_call") and hasattr(est, "_compiled_call")
    np.testing.assert_allclose(restored.predict_proba(X_IRIS), est.predict_proba(X_IRIS), rtol=1e-6)


def test_train_packs_groups_by_shape():
    jobs = [(KerasClassifier(hidden_layer_sizes=(4,), epochs=1, batch_size=b), X_IRIS, Y_IRIS, None)
            for b in (8, 16, 8)]
    out = train_packs(jobs)
    assert [o["pack"] for o in out] == [0, 1, 0]
    X = np.tile(X_IRIS, 4)  # 16 features: a 4x4 image
    jobs = [(KerasClassifier(hidden_layer_sizes=(4,), epochs=1, conv_layers=conv, image_shape=(4, 4)),
             X, Y_IRIS, None) for conv in ((2,), (3,), (2,), ())]
    assert [o["pack"] for o in train_packs(jobs)] == [0, 1, 0, 2]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_lottery_draws_in_one_pack_equal_draws_one_after_another(monkeypatch, optimizer):
    import skhp.estimators

    # One batch per epoch (the whole of iris): the order of samples cannot differ.
    params = dict(hidden_layer_sizes=(8,), epochs=1, batch_size=150, lottery=4, lottery_epochs=3,
                  lottery_lr=0.05, optimizer=optimizer, weight_decay=1e-3, smoothing=0.1,
                  initializer="he_normal", random_state=0)
    packed = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    monkeypatch.setattr(skhp.estimators, "lottery_reason", lambda est: "one after another")
    ordinary = KerasClassifier(**params).fit(X_IRIS, Y_IRIS)
    assert len(set(np.round(packed.lottery_losses_, 4))) == 4  # distinct draws, trained
    np.testing.assert_allclose(packed.lottery_losses_, ordinary.lottery_losses_, rtol=1e-4)
    assert packed.lottery_best_ == ordinary.lottery_best_
    assert _max_difference(packed, ordinary) < 1e-4  # the kept draw, then one epoch


def test_convolutional_lottery_draws_in_one_pack_equal_draws_one_after_another(monkeypatch):
    import skhp.estimators

    X = np.tile(X_IRIS, 4)
    params = dict(hidden_layer_sizes=(4,), conv_layers=(3,), image_shape=(4, 4), epochs=1,
                  batch_size=150, lottery=3, lottery_epochs=2, lottery_lr=0.05, random_state=0)
    packed = KerasClassifier(**params).fit(X, Y_IRIS)
    monkeypatch.setattr(skhp.estimators, "lottery_reason", lambda est: "one after another")
    ordinary = KerasClassifier(**params).fit(X, Y_IRIS)
    np.testing.assert_allclose(packed.lottery_losses_, ordinary.lottery_losses_, rtol=1e-4)
    assert _max_difference(packed, ordinary) < 1e-4


def test_lottery_where_every_draw_diverges_is_refused():
    est = KerasRegressor(hidden_layer_sizes=(8,), epochs=1, lottery=3, lottery_lr=1e30,
                         optimizer="sgd", random_state=0)
    with pytest.raises(ValueError, match="every one of the 3 lottery draws diverged"):
        est.fit(X_IRIS, X_IRIS[:, 0] * 1e10)


def test_a_reused_program_starts_each_pack_afresh():
    from skhp.packed import _engine

    params = dict(hidden_layer_sizes=(5,), epochs=2, optimizer="nadam", random_state=3)
    _engine._PROGRAMS.clear()
    (first,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS)
    assert len(_engine._PROGRAMS) == 1
    (again,) = fit_packed([KerasClassifier(**params)], X_IRIS, Y_IRIS)  # the same program, reused
    assert len(_engine._PROGRAMS) == 1
    assert _max_difference(first, again) == 0


def test_pack_size_splits_packs_without_changing_any_slot():
    jobs = lambda: [(KerasClassifier(hidden_layer_sizes=(4,), epochs=2, learning_rate=0.01 * (i + 1),  # noqa: E731
                                     random_state=i), X_IRIS, Y_IRIS, None) for i in range(5)]
    whole = train_packs(jobs())
    split = train_packs(jobs(), pack_size=2)
    assert [o["pack"] for o in whole] == [0] * 5
    assert [o["pack"] for o in split] == [0, 0, 1, 1, 2]  # 5 slots in packs of at most 2
    for a, b in zip(whole, split):
        assert max(float(np.abs(u - v).max()) for u, v in zip(a["weights"], b["weights"])) < 1e-6
    with pytest.raises(ValueError, match="pack_size=0 is not valid; use 'auto'"):
        train_packs(jobs(), pack_size=0)


def test_automatic_pack_size_follows_the_memory_budget():
    from skhp.packed import auto_pack_size, slot_bytes

    mlp = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32), keras.layers.Dense(10)])
    # (64+1)*32 + (32+1)*10 weights; SGD with momentum: weights, gradients, one state
    params = 65 * 32 + 33 * 10
    expected = 4 * (3 * params + 3 * 16 * (64 + 32 + 10) + 500 * (64 + 10))
    assert slot_bytes(mlp, "SGD", batch_size=16, n_rows=500) == expected
    assert slot_bytes(mlp, "Adam", 16, 500) - expected == 4 * params  # a second moment
    normalized = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32),
                                   keras.layers.BatchNormalization(), keras.layers.Dense(10)])
    # BatchNormalization: 2 * 32 trained (3 copies), 2 * 32 statistics, one more activation
    assert slot_bytes(normalized, "SGD", 16, 500) - expected == 4 * (3 * 64 + 64 + 3 * 16 * 32)
    assert auto_pack_size(expected, budget=10 * expected + 1) == 10
    assert auto_pack_size(expected, budget=expected // 2) == 1  # one slot always trains


def test_a_pack_on_a_gpu_is_sized_to_that_gpu_s_free_memory(monkeypatch):
    import subprocess

    from skhp.packed import _memory, pack_memory

    asked = []

    def nvidia_smi(command, **kwargs):
        asked.append(command[-1])
        if command[-1] == "--id=3":
            return subprocess.CompletedProcess(command, 0, stdout="40960\n", stderr="")
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(_memory.subprocess, "run", nvidia_smi)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert pack_memory("gpu:1") == 40960 * 2 ** 20 // 4  # the second visible GPU: physical 3
    assert asked == ["--id=3"]
    host = pack_memory()  # a quarter of the available memory, at most 2 GiB
    assert pack_memory("gpu:0") == pytest.approx(host, rel=0.05)  # unknown: the host's budget
    assert pack_memory("cpu:0") == pytest.approx(host, rel=0.05)
    assert asked == ["--id=3", "--id=2"]


def test_packs_go_round_robin_over_several_gpus(monkeypatch):
    import skhp.runtime

    monkeypatch.setattr(skhp.runtime, "visible_gpus", lambda: 2)  # placement falls back to the CPU here
    jobs = [(KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=i), X_IRIS, Y_IRIS, None)
            for i in range(5)]
    out = train_packs(jobs, pack_size=2)
    assert [(o["pack"], o["device"]) for o in out] == [
        (0, "gpu:0"), (0, "gpu:0"), (1, "gpu:1"), (1, "gpu:1"), (2, "gpu:0")]
    alone = train_packs([(KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=4),
                          X_IRIS, Y_IRIS, None)])
    np.testing.assert_allclose(out[4]["weights"][0], alone[0]["weights"][0], atol=1e-6)


def test_searches_take_a_pack_size():
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0)
    grid = {"learning_rate": [1e-3, 1e-2, 1e-1]}
    a = GridSearchCV(est, grid, cv=2, pack_size=2).fit(X_IRIS, Y_IRIS)
    b = GridSearchCV(est, grid, cv=2).fit(X_IRIS, Y_IRIS)
    np.testing.assert_allclose(a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"],
                               atol=1e-6)
    assert a.packing_ == ["packed"] * 3
    with pytest.raises(ValueError, match="'pack_size' parameter of NarrowingSearchCV must be an int"):
        NarrowingSearchCV(est, {"learning_rate": Real(1e-3, 1e-1, log=True)}, pack_size=0).fit(
            X_IRIS, Y_IRIS)


def test_a_target_transformed_regressor_packs_and_scores_in_the_targets_units():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    model = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), KerasRegressor(hidden_layer_sizes=(8,), epochs=3,
                                                       initializer="glorot_uniform",
                                                       fit__shuffle=False, random_state=0)),
        transformer=StandardScaler())  # seeded draws, fixed order: the two ways train alike
    grid = {"regressor__kerasregressor__learning_rate": [1e-3, 1e-2]}
    packed = GridSearchCV(model, grid, cv=2, return_train_score=True).fit(X, y)
    ordinary = GridSearchCV(model, grid, cv=2, return_train_score=True, packing=False).fit(X, y)
    assert packed.packing_ == ["packed", "packed"]
    for key in ("mean_test_score", "mean_train_score"):  # R² on y itself, not the scaled target
        np.testing.assert_allclose(packed.cv_results_[key], ordinary.cv_results_[key], atol=1e-3)
    assert packed.cv_results_["mean_test_score"][1] > 0.2


def _out_of_memory(limit):
    """``PackRun._advance`` on a device that holds at most ``limit`` slots at once."""
    import tensorflow as tf

    from skhp.packed import _engine

    original = _engine.PackRun._advance

    def advance(self, until, members):
        if len(members) > limit:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return original(self, until, members)
    return advance


def test_a_pack_that_runs_out_of_memory_trains_as_smaller_packs(iris, monkeypatch):
    from skhp.packed import _engine

    X, y = iris
    estimators = [KerasClassifier(hidden_layer_sizes=(8,), epochs=3, learning_rate=lr, random_state=0,
                                  early_stopping=2, validation_split=0.2)
                  for lr in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)]
    expected = train_packs([(clone(est), X, y, None) for est in estimators])
    monkeypatch.setattr(_engine.PackRun, "_advance", _out_of_memory(2))
    with pytest.warns(RuntimeWarning, match=r"a pack of 5 slots failed \(ResourceExhaustedError: "
                                            r"OOM.*packs of 3 and 2"):
        split = train_packs([(clone(est), X, y, None) for est in estimators])
    for a, b in zip(split, expected):  # each slot as if its pack had fitted
        assert a["history"]["val_loss"] == pytest.approx(b["history"]["val_loss"], abs=1e-5)
        for wa, wb in zip(a["weights"], b["weights"]):
            np.testing.assert_allclose(wa, wb, atol=1e-5)


def test_a_slot_that_fails_alone_trains_the_ordinary_way_with_the_reason(iris, monkeypatch):
    from skhp.packed import _engine

    X, y = iris
    monkeypatch.setattr(_engine.PackRun, "_advance", _out_of_memory(0))
    grid = {"learning_rate": [1e-2, 3e-2]}
    with pytest.warns(RuntimeWarning, match="a pack of 2 slots failed"):
        search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0),
                              grid, cv=2).fit(X, y)
    assert all(label.startswith("its pack failed, and so did a pack of it alone "
                                "(ResourceExhaustedError: OOM") for label in search.packing_)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()  # trained by Keras' fit
    with pytest.warns(RuntimeWarning, match="a pack of 4 slots failed"):  # rung by rung too
        pruned = NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=4, random_state=0),
                                   {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=2, cv=2,
                                   round_size=2, pruning="halving", random_state=0).fit(X, y)
    assert all(label.startswith("its pack failed") for label in pruned.packing_)
    assert np.isfinite(pruned.cv_results_["mean_test_score"]).any()


def test_pruned_packs_that_run_out_of_memory_end_as_unconstrained_ones(iris, monkeypatch):
    from skhp.packed import _engine

    X, y = iris

    def search():
        return NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=4, random_state=0),
                                 {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=4, cv=2,
                                 round_size=4, pruning="halving", random_state=0)

    expected = search().fit(X, y)
    monkeypatch.setattr(_engine.PackRun, "_advance", _out_of_memory(3))
    with pytest.warns(RuntimeWarning, match="a pack of 8 slots failed"):
        split = search().fit(X, y)
    assert set(split.packing_) == {"packed"}
    for column in ("mean_test_score", "epochs_trained"):
        np.testing.assert_allclose(np.asarray(split.cv_results_[column], float),
                                   np.asarray(expected.cv_results_[column], float), atol=1e-5)


def test_a_task_the_cluster_lost_is_sent_again_and_a_failing_one_is_not():
    distributed = pytest.importorskip("distributed")
    from skhp.packed import ClusterData

    class Future:  # a scattered array's future
        status = "finished"

    class Task:
        def __init__(self, outcome):
            self.outcome = outcome

        def result(self, timeout=None):
            if self.outcome == "waiting":  # for data a killed worker held
                raise TimeoutError
            if isinstance(self.outcome, BaseException):
                raise self.outcome
            return self.outcome

    class Client:  # what ClusterData asks of a distributed.Client
        def __init__(self, *outcomes):
            self.outcomes, self.scattered, self.sent = list(outcomes), [], []

        def scatter(self, data, **options):
            assert "broadcast" not in options  # it would wait forever on a killed worker
            # fresh keys: a copy under the lost copy's key leaves the tasks on it waiting
            assert options["hash"] is False
            self.scattered.append([Future(), Future()])
            return self.scattered[-1]

        def submit(self, function, *args, **kwargs):
            self.sent.append((args, kwargs["workers"], kwargs["allow_other_workers"]))
            return Task(self.outcomes.pop(0))

    lost = distributed.client.FutureCancelledError("share-1", "already forgotten")
    client = Client(lost, [1, 2])
    data = ClusterData(client, "X", "y")
    task = data.submit(len, "tcp://worker-a", "jobs")
    assert data.result(task, len, "tcp://worker-a", "jobs") == [1, 2]
    assert len(client.scattered) == 2  # the scattered data was lost with the task: sent again
    first, again = client.scattered
    assert client.sent == [((*first, data.token, "jobs"), ["tcp://worker-a"], True),
                           ((*again, data.token, "jobs"), ["tcp://worker-a"], True)]

    client = Client("waiting", [3])
    data = ClusterData(client, "X", "y")
    task = data.submit(len, "tcp://worker-a")
    client.scattered[0][0].status = "lost"  # the task's data went with a worker
    assert data.result(task, len, "tcp://worker-a") == [3]  # scattered and sent again
    assert len(client.scattered) == 2 and len(client.sent) == 2

    client = Client(ValueError("the share's own failure"))
    data = ClusterData(client, "X", "y")
    with pytest.raises(ValueError, match="own failure"):  # not the cluster's: not sent again
        data.result(data.submit(len, "tcp://worker-a"), len, "tcp://worker-a")
    assert len(client.sent) == 1


def test_a_clusters_workers_are_asked_of_its_scheduler():
    pytest.importorskip("distributed")
    from skhp.packed import ClusterData

    class Client:
        def scheduler_info(self):  # what the client's periodic refresh may leave cached
            return {"workers": {}}

        def nthreads(self):  # asked of the scheduler at the call
            return {"tcp://b": 1, "tcp://a": 1}

    assert ClusterData(Client(), "X", "y").workers() == ["tcp://a", "tcp://b"]


def test_the_slots_of_a_search_share_one_copy_of_x(monkeypatch):
    from skhp.packed import PackRun

    seen, data = [], PackRun.data

    def watched(self, members):
        x, y = data(self, members)
        seen.append((isinstance(x, dict), {id(s.X) for s in self.slots}))
        return x, y

    monkeypatch.setattr(PackRun, "data", watched)
    search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0),
                          {"learning_rate": [0.01, 0.1]}, cv=3).fit(X_IRIS, Y_IRIS)
    assert search.packing_ == ["packed", "packed"]
    assert seen and all(shared and len(ids) == 1 for shared, ids in seen)
