"""Packs on the backend ``KERAS_BACKEND`` names train what its ordinary fits train.

Run by ``tests/test_backends.py`` in a fresh process (TensorFlow unimportable);
prints one ``ok <step>`` line per step. On PyTorch a random layer draws from
the one global generator, so a model with Dropout trains as ordinary fits there
(checked here) and the builder's dropout is 0.
"""

import warnings

import keras
import numpy as np
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from skhp import KerasClassifier
from skhp.packed import start_packs, train_packs
from skhp.search import GridSearchCV, NarrowingSearchCV, Real

warnings.filterwarnings("ignore")
TORCH = keras.backend.backend() == "torch"
X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X).astype("float32")


def ok(step):
    print("ok", step, flush=True)


def build(meta, units=8, dropout=0.0 if TORCH else 0.1):
    return keras.Sequential([keras.Input((meta["n_features_in_"],)), keras.layers.Dense(units),
                             keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
                             keras.layers.Dropout(dropout),
                             keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def embedded(meta, dim=4):
    """Each feature's sign as a token, embedded: an Embedding layer's gradient."""
    tokens = keras.Input((meta["n_features_in_"],))
    ids = keras.layers.Lambda(lambda x: keras.ops.cast(x > 0, "int32"))(tokens)
    vectors = keras.layers.Flatten()(keras.layers.Embedding(2, dim)(ids))
    return keras.Model(tokens, keras.layers.Dense(meta["n_classes_"], activation="softmax")(vectors))


# a pack of one is the ordinary fit (no shuffling: the streams differ by design)
cases = [dict(), dict(optimizer="sgd", momentum=0.9, optimizer__nesterov=True),
         dict(optimizer="rmsprop", schedule="onecycle", warmup=1),
         dict(optimizer="rmsprop", optimizer__centered=True), dict(optimizer="adamw"),
         dict(optimizer="adam", optimizer__amsgrad=True), dict(optimizer="nadam"),
         dict(optimizer="adamax"), dict(optimizer="adagrad"),
         dict(weight_decay=1e-2, smoothing=0.1, schedule="cosine"),
         dict(early_stopping=1, validation_split=0.2, class_weight="balanced"),
         dict(lottery=3, lottery_steps=2), dict(model=build, optimizer="sgd", momentum=0.5),
         dict(conv_layers=(4,), image_shape=(2, 2)),  # convolutions (grouped on PyTorch)
         # an embedding packs with every optimizer on JAX (its gradient is dense in both)
         dict(model=embedded, optimizer="adam"), dict(model=embedded, optimizer="rmsprop"),
         # widths between buckets train widened, zero-padded (skhp.packed._widths)
         dict(hidden_layer_sizes=(5, 11), activation="tanh", optimizer="adam", weight_decay=1e-2),
         dict(model=build, model__units=10, model__dropout=0.0, optimizer="adagrad")]
for extra in cases:
    params = {**dict(hidden_layer_sizes=(8,), epochs=3, random_state=0, fit__shuffle=False,
                     learning_rate=0.01), **extra}
    ordinary = KerasClassifier(**params).fit(X, y)
    (out,) = train_packs([(KerasClassifier(**params), X, y, None)])
    assert isinstance(out, dict), (extra, out)  # it packed (a reason would say why not)
    gap = max(float(np.abs(np.asarray(v) - w).max())
              for v, w in zip(ordinary.model_.trainable_variables, out["weights"]))
    assert gap < 1e-4, (extra, gap)
    assert np.allclose(out["history"]["loss"], ordinary.history_["loss"], rtol=1e-4), extra
ok("a pack of one is the ordinary fit")
if TORCH:
    _, (why,) = start_packs([(KerasClassifier(model=build, model__dropout=0.1, epochs=2), X, y,
                              None)])
    assert isinstance(why, str) and "random" in why, why
    (out,) = train_packs([(KerasClassifier(model=build, model__dropout=0.1, epochs=2), X, y, None)])
    assert isinstance(out, str), out
# each slot of a pack is its own pack of one (rates, momenta, weights, seeds per slot)
jobs = [(KerasClassifier(model=build, epochs=3, learning_rate=rate, optimizer="sgd", momentum=m,
                         random_state=seed, schedule="onecycle"), X, y, None)
        for rate, m, seed in [(1e-2, 0.5, 0), (3e-2, 0.9, 1), (1e-1, 0.0, 2)]]
together = train_packs(jobs)
for job, out in zip(jobs, together):
    (alone,) = train_packs([job])
    assert out["pack"] == 0 and max(float(np.abs(u - v).max()) for u, v in
                                    zip(out["weights"], alone["weights"])) < 1e-5
# slots of widths 10 and 12 share one pack, each cut back to its own width
jobs = [(KerasClassifier(hidden_layer_sizes=(units,), epochs=2, random_state=0), X, y, None)
        for units in (10, 12)]
together = train_packs(jobs)
assert [out["pack"] for out in together] == [0, 0]
assert [out["weights"][0].shape for out in together] == [(4, 10), (4, 12)]
for job, out in zip(jobs, together):
    (alone,) = train_packs([job])
    assert max(float(np.abs(u - v).max()) for u, v in zip(out["weights"], alone["weights"])) < 1e-5
ok("each slot is its own pack of one")
grid = GridSearchCV(KerasClassifier(model=build, epochs=3, random_state=0),
                    {"learning_rate": [1e-2, 3e-2], "model__units": [8, 16]}, cv=3).fit(X, y)
assert grid.packing_ == ["packed"] * 4 and grid.best_score_ > 0.5
ok("a builder's packed grid search")
search = NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=6, random_state=0),
                           {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=8, cv=3,
                           random_state=0, pruning="halving").fit(X, y)
assert set(search.packing_) == {"packed"} and any(search.cv_results_["pruned"])
ok("a pruned narrowing search in packs")
