"""Packs on a Dask cluster: trained on the workers, the same results, a lost worker costs no result."""

import os
import threading
import time

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits

from skhp import KerasClassifier
from skhp.search import Choice, GridSearchCV, NarrowingSearchCV, Real

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # integration: worker processes start TensorFlow

X, Y = load_digits(return_X_y=True)
X, Y = X[:600] / 16, Y[:600]
GRID = {"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2], "batch_size": [16, 32]}


def _local_cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield cluster, client


@pytest.fixture(scope="module")
def cluster():
    yield from _local_cluster()


@pytest.fixture
def own_cluster():
    """A cluster for a test that kills a worker: after a kill the nanny restarts the worker,
    but the cluster may close that nanny as it removes the dead worker (seen once in a loaded
    run: "Restarting worker", then "Closing Nanny ... nanny-close"), leaving one worker."""
    yield from _local_cluster()


def search():
    return GridSearchCV(KerasClassifier(hidden_layer_sizes=(16,), epochs=2, random_state=0), GRID, cv=3,
                        return_train_score=True, scoring=["accuracy", "neg_log_loss"], refit="accuracy")


def test_every_pack_trains_on_the_workers_with_the_same_results(cluster):
    _, client = cluster
    with joblib.parallel_backend("dask"):
        remote = search().fit(X, Y)
    local = search().fit(X, Y)
    workers = set(client.nthreads())
    assert set(remote.pack_workers_) == workers  # both workers trained packs, none here
    assert sum(remote.pack_workers_.values()) == 8 * 3
    assert local.pack_workers_ == {"in-process": 24}
    assert set(remote.cv_results_["packing"]) == {"packed"}
    for column in ("mean_test_accuracy", "mean_test_neg_log_loss", "mean_train_accuracy"):
        # scored on the workers, with every scorer, as here
        np.testing.assert_allclose(remote.cv_results_[column], local.cv_results_[column], atol=1e-5)
    np.testing.assert_allclose(remote.predict_proba(X[:20]), local.predict_proba(X[:20]), atol=1e-5)


def test_a_narrowing_search_runs_its_rounds_on_the_workers(cluster):
    _, client = cluster
    narrowing = NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(16,), epochs=2, random_state=0),
                                  {"learning_rate": Real(1e-4, 1e-1, log=True)}, n_iter=6,
                                  round_size=3, cv=2, random_state=0)
    with joblib.parallel_backend("dask"):
        narrowing.fit(X, Y)
    assert "in-process" not in narrowing.pack_workers_
    assert sum(narrowing.pack_workers_.values()) == 6 * 2


def pruned(storage=None):
    return NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(16,), epochs=4, random_state=0),
                             {"learning_rate": Real(1e-4, 3e-1, log=True),
                              "batch_size": Choice([16, 32])}, n_iter=8, round_size=4, cv=2,
                             random_state=0, pruning="halving", storage=storage)


def assert_same_pruned_results(found, expected):
    for column in ("mean_test_score", "epochs_trained", "pruned"):
        np.testing.assert_allclose(np.asarray(found.cv_results_[column], float),
                                   np.asarray(expected.cv_results_[column], float), atol=1e-5)
    for a, b in zip(found.cv_results_["rung_scores"], expected.cv_results_["rung_scores"]):
        assert a.keys() == b.keys()
        np.testing.assert_allclose(list(a.values()), list(b.values()), atol=1e-5)


def test_pruned_rounds_continue_on_the_workers(cluster, tmp_path):
    _, client = cluster
    local = pruned().fit(X, Y)
    storage = f"sqlite:///{tmp_path / 'trials.db'}"
    with joblib.parallel_backend("dask"):
        remote = pruned(storage).fit(X, Y)
    assert "in-process" not in remote.pack_workers_  # every rung of every pack on the workers
    assert set(remote.pack_workers_) == set(client.nthreads())
    assert sum(remote.pack_workers_.values()) == 8 * 2
    assert any(remote.cv_results_["pruned"]) and not all(remote.cv_results_["pruned"])
    assert_same_pruned_results(remote, local)  # the rule decided as it does here
    with joblib.parallel_backend("dask"):  # the stored trials replay
        replayed = pruned(storage).fit(X, Y)
    assert replayed.n_trials_replayed_ == 8
    assert_same_pruned_results(replayed, local)


def kill_a_busy_worker(client, killed):
    """Kill the process of a worker while it runs a task (a pack is training there)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            killed.append(busy[0])
            try:
                client.run(os._exit, 1, workers=busy[:1])
            except Exception:  # the worker died before it could answer
                pass
            return
        time.sleep(0.05)


def disturbed_fit(client, search):
    """``search`` fitted on the cluster while one of its workers is killed mid-round."""
    client.wait_for_workers(2, timeout=120)
    killed = []
    killer = threading.Thread(target=kill_a_busy_worker, args=(client, killed))
    killer.start()
    with joblib.parallel_backend("dask"):
        search.fit(X, Y)
    killer.join()
    assert killed  # the kill happened while packs were training
    return search


def test_a_worker_killed_mid_round_costs_time_not_results(own_cluster):
    _, client = own_cluster
    undisturbed = search().fit(X, Y)
    disturbed = disturbed_fit(client, search())
    np.testing.assert_allclose(disturbed.cv_results_["mean_test_accuracy"],
                               undisturbed.cv_results_["mean_test_accuracy"], atol=1e-6)


def test_a_worker_killed_mid_rung_costs_time_not_results(own_cluster):
    _, client = own_cluster
    assert_same_pruned_results(disturbed_fit(client, pruned()), pruned().fit(X, Y))
