"""What a user does with skhp, run on the backend ``KERAS_BACKEND`` names.

Run by ``tests/test_backends.py`` in a fresh process where TensorFlow cannot be
imported; prints one ``ok <step>`` line per step and fails loudly otherwise.
"""

import os
import pickle
import sys
import tempfile
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import keras
from skhp import KerasClassifier, KerasRegressor, lr_find, stabilize
from skhp.packed import pack_reason
from skhp.search import GridSearchCV, NarrowingSearchCV, Real

warnings.filterwarnings("ignore")
backend = keras.backend.backend()
assert backend == os.environ["KERAS_BACKEND"], backend
X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X).astype("float32")


def ok(step):
    print("ok", step, flush=True)


# estimators with the training craft as parameters
params = dict(hidden_layer_sizes=(8,), epochs=4, warmup=1, schedule="onecycle", optimizer="sgd",
              lottery=3, lottery_steps=2, early_stopping=2, smoothing=0.1, weight_decay=1e-4,
              initializer="he_normal", random_state=0)
clf = KerasClassifier(**params).fit(X, y)
if backend == "torch":  # the thread budget (tests/test_backends.py sets SKHP_NUM_THREADS=1)
    import torch

    assert torch.get_num_threads() == 1, torch.get_num_threads()
assert clf.predict_proba(X[:5]).shape == (5, 3) and len(clf.lottery_losses_) == 3
assert {"lr", "momentum", "val_loss"} <= set(clf.history_) and clf.score(X, y) > 0.3
copy = pickle.loads(pickle.dumps(clf))
np.testing.assert_allclose(copy.predict_proba(X[:5]), clf.predict_proba(X[:5]), rtol=1e-5)
assert clone(clf).get_params()["schedule"] == "onecycle"
ok("classifier")
Xd, yd = load_diabetes(return_X_y=True)
reg = make_pipeline(StandardScaler(), KerasRegressor(hidden_layer_sizes=(8,), epochs=2,
                                                     schedule="cosine", random_state=0))
assert reg.fit(Xd, yd).predict(Xd[:3]).shape == (3,)
ok("regressor")
# errors name the parameter, before training
try:
    KerasClassifier(schedule="cosin").fit(X, y)
except ValueError as error:
    assert "cosine" in str(error)
else:
    raise AssertionError("a misspelt schedule trained")
if backend == "torch":  # Keras' PyTorch fit runs one step per call
    try:
        GridSearchCV(KerasClassifier(epochs=1), {"steps_per_execution": [1, 4]}, cv=2).fit(X, y)
    except ValueError as error:
        assert "steps_per_execution=4" in str(error) and "None or 1" in str(error), error
    else:
        raise AssertionError("steps_per_execution=4 trained on PyTorch")
ok("errors")
stable = stabilize(KerasClassifier(hidden_layer_sizes=(8,), epochs=3, learning_rate=0.05,
                                   random_state=0), X, y, warmup=1)
assert stable.fit(X, y).score(X, y) > 0.3
ok("stabilize")
found = lr_find(KerasClassifier(hidden_layer_sizes=(8,), random_state=0), X, y, num_steps=30)
assert 1e-7 <= found.suggestion <= 10
ok("lr_find")
# searches: packed on every backend
assert pack_reason(KerasClassifier()) is None
grid = GridSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0),
                    {"learning_rate": [1e-2, 3e-2]}, cv=3).fit(X, y)
assert np.isfinite(grid.best_score_) and grid.packing_ == ["packed"] * 2
ok("grid search")
with tempfile.TemporaryDirectory() as folder:
    storage = os.path.join(folder, "trials.db")
    search = NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=4, random_state=0),
                               {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=6, cv=2,
                               random_state=0, pruning="halving", storage=storage).fit(X, y)
    assert np.isfinite(search.best_score_) and any(search.cv_results_["pruned"])
    again = NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=4, random_state=0),
                              {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=6, cv=2,
                              random_state=0, pruning="halving", storage=storage).fit(X, y)
    assert again.n_trials_replayed_ == 6
    ok("pruned narrowing search with storage")
    from skhp.cli import main

    config = os.path.join(folder, "tune.toml")
    with open(config, "w") as fh:
        fh.write("[data]\nname = 'iris'\n[search]\ntrials = 4\ncv = 2\n[model]\nepochs = 2\n"
                 "[output]\nbaselines = false\n")
    assert main(["--backend", backend, "tune", "--config", config, "--output", os.path.join(folder, "out"),
                 "--quiet"]) in (0, None)
    assert os.path.exists(os.path.join(folder, "out", "report.html"))
    ok("skhp tune")
assert "tensorflow" not in sys.modules
ok("no tensorflow")
