"""Slots of different widths share a pack: widened to a bucket, zero-padded, each its own fit."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier, KerasRegressor
from skhp.fit_spec import model_signature
from skhp.packed import fit_packed, train_packs
from skhp.packed._widths import bucket, widened
from skhp.search import GridSearchCV

X, Y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X).astype("float32")


def test_buckets_are_powers_of_two_and_one_and_a_half_times_them():
    widths = [bucket(u) for u in range(1, 400)]
    assert sorted(set(widths)) == [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    assert all(u <= w for u, w in zip(range(1, 400), widths))
    assert all(w < 1.5 * u + 1e-9 for u, w in zip(range(8, 400), widths[7:]))  # waste < 1.5x


def _builder(meta, units=10, dropout=0.0, activation="relu", norm="batch", l1=None):
    normalization = {"batch": keras.layers.BatchNormalization(),
                     "layer": keras.layers.LayerNormalization()}[norm]
    return keras.Sequential([
        keras.Input((meta["n_features_in_"],)),
        keras.layers.Dense(units, kernel_regularizer=None if l1 is None else keras.regularizers.L1(l1)),
        normalization, keras.layers.Activation(activation), keras.layers.Dropout(dropout),
        keras.layers.Dense(meta["n_classes_"], activation="softmax")])


@pytest.mark.parametrize("params", [
    dict(hidden_layer_sizes=(5, 11), activation="tanh", optimizer="adam", weight_decay=1e-2),
    dict(hidden_layer_sizes=(20,), optimizer="sgd", momentum=0.9, schedule="onecycle"),
    dict(hidden_layer_sizes=(13,), activation="elu", optimizer="rmsprop", optimizer__centered=True,
         smoothing=0.1),
    dict(hidden_layer_sizes=(6,), optimizer="adagrad", early_stopping=1, validation_split=0.2),
    # (SGD: Adam turns the round-off gradient of a bias before BatchNormalization into steps)
    dict(model=_builder, optimizer="sgd", momentum=0.9, weight_decay=1e-2),
])
def test_a_widened_slot_is_its_ordinary_fit(params):
    params = dict(epochs=3, random_state=0, fit__shuffle=False, learning_rate=0.02, **params)
    ordinary = KerasClassifier(**params).fit(X, Y)
    (packed,) = fit_packed([KerasClassifier(**params)], X, Y)
    mine, theirs = ordinary.model_.get_weights(), packed.model_.get_weights()
    assert [w.shape for w in theirs] == [w.shape for w in mine]  # its own widths, cut back
    assert max(float(np.abs(u - v).max()) for u, v in zip(mine, theirs)) < 1e-5
    np.testing.assert_allclose(packed.history_["loss"], ordinary.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(packed.predict_proba(X), ordinary.predict_proba(X), atol=1e-5)


def test_slots_of_one_bucket_share_a_pack_and_each_is_its_own_pack_of_one():
    jobs = [(KerasRegressor(hidden_layer_sizes=(units, 3), epochs=2, random_state=seed,
                            learning_rate=rate), X, X[:, 0], None)
            for units, seed, rate in [(9, 0, 0.01), (11, 1, 0.05), (12, 2, 0.02)]]
    together = train_packs(jobs)
    assert [out["pack"] for out in together] == [0, 0, 0]
    assert [out["weights"][0].shape for out in together] == [(4, 9), (4, 11), (4, 12)]
    assert len({out["key"] for out in together}) == 3  # each slot's own structure serves it
    for job, out in zip(jobs, together):
        (alone,) = train_packs([job])
        assert max(float(np.abs(u - v).max()) for u, v in zip(out["weights"], alone["weights"])) < 1e-6


@pytest.mark.parametrize("why, model", [
    ("sigmoid(0) is not 0", dict(activation="sigmoid")),
    ("LayerNormalization mixes the units", dict(norm="layer")),
    ("a regularizer's gradient at 0", dict(l1=1e-3)),
    ("Dropout draws a mask of the layer's shape", dict(dropout=0.2)),
])
def test_a_model_that_padding_would_change_packs_at_its_own_widths(why, model):
    built = _builder({"n_features_in_": 4, "n_classes_": 3}, **model)
    assert widened(built, model_signature(built)) is None, why
    est = KerasClassifier(model=_builder, **{f"model__{k}": v for k, v in model.items()}, epochs=2,
                          random_state=0, fit__shuffle=False)
    (out,) = train_packs([(est, X, Y, None)])
    assert out["weights"][0].shape == (4, 10)


def test_nothing_is_widened_at_a_bucket_or_for_the_output_layer():
    at_bucket = _builder({"n_features_in_": 4, "n_classes_": 3}, units=16)
    assert widened(at_bucket, model_signature(at_bucket)) is None
    wide = _builder({"n_features_in_": 4, "n_classes_": 3}, units=17)
    template, _ = widened(wide, model_signature(wide))
    assert [tuple(v.shape) for v in template.trainable_variables] == [
        (4, 24), (24,), (24,), (24,), (24, 3), (3,)]


def test_a_grid_over_widths_traces_one_program_per_bucket(monkeypatch):
    from skhp.packed import _engine

    made = []
    original = _engine._Program.__init__
    monkeypatch.setattr(_engine._Program, "__init__",
                        lambda self, *a, **k: made.append(1) or original(self, *a, **k))
    if keras.backend.backend() != "tensorflow":
        pytest.skip("counts the TensorFlow engine's programs")
    # widths no other test packs, with an optimizer setting of their own (programs are kept)
    grid = GridSearchCV(KerasClassifier(epochs=2, random_state=0, optimizer="adamax"),
                        {"hidden_layer_sizes": [(50,), (57,), (61,), (70,), (90,)]}, cv=2).fit(X, Y)
    assert grid.packing_ == ["packed"] * 5
    assert len(made) == 2  # 50, 57, 61 train as 64; 70, 90 as 96
    assert grid.best_estimator_.model_.get_weights()[0].shape == \
        (4, grid.best_params_["hidden_layer_sizes"][0])
