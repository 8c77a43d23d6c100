"""Threads per worker, devices, mixed precision, steps per execution, Dask."""

import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import keras
import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.datasets import load_iris

from skhp import KerasClassifier
from skhp.runtime import resolve_device, thread_budget, visible_gpus
from skhp.search import NarrowingSearchCV


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def _tf_threads_after_fit(X, y):
    import tensorflow as tf

    KerasClassifier(hidden_layer_sizes=(4,), epochs=1).fit(X, y)
    return (os.environ.get("OMP_NUM_THREADS"), tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads())


@pytest.mark.slow
def test_joblib_workers_get_their_share_of_the_cores(iris):
    # loky tells each of n_jobs workers OMP_NUM_THREADS = cores // n_jobs
    results = joblib.Parallel(n_jobs=2)(joblib.delayed(_tf_threads_after_fit)(*iris) for _ in range(2))
    share = max(1, os.cpu_count() // 2)
    for omp, intra, inter in results:
        assert omp == str(share) and intra == share and inter == share


@pytest.mark.slow
def test_skhp_num_threads_wins_in_a_fresh_process():
    code = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        from skhp import KerasClassifier
        X = np.random.default_rng(0).normal(size=(20, 3)); y = np.arange(20) % 2
        KerasClassifier(hidden_layer_sizes=(4,), epochs=1).fit(X, y)
        print(tf.config.threading.get_intra_op_parallelism_threads())
    """)
    env = {**os.environ, "SKHP_NUM_THREADS": "1", "OMP_NUM_THREADS": "4", "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "1"


@pytest.mark.parametrize("environ, expected", [
    ({}, None), ({"OMP_NUM_THREADS": "3"}, 3), ({"SKHP_NUM_THREADS": "2", "OMP_NUM_THREADS": "8"}, 2),
    ({"OMP_NUM_THREADS": " "}, None),
])
def test_thread_budget(environ, expected):
    assert thread_budget(environ) == expected


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_thread_budget(value):
    with pytest.raises(ValueError, match="must be a positive whole number"):
        thread_budget({"SKHP_NUM_THREADS": value})


@pytest.mark.parametrize("device, n_gpus, worker, expected", [
    ("auto", 0, 5, "cpu:0"), ("cpu", 4, 1, "cpu:0"), ("auto", 2, 0, "gpu:0"), ("auto", 2, 1, "gpu:1"),
    ("auto", 2, 7, "gpu:1"), ("gpu", 3, 4, "gpu:1"), ("GPU:2", 3, 0, "gpu:2"),
])
def test_devices_round_robin(device, n_gpus, worker, expected):
    assert resolve_device(device, n_gpus, worker) == expected


@pytest.mark.parametrize("device, n_gpus, message", [
    ("gpu", 0, "asks for a GPU, but Keras' tensorflow backend sees none"),
    ("gpu:0", 0, "asks for a GPU"),
    ("gpu:2", 2, "there are 2 GPUs here, numbered 0 to 1"),
    ("tpu", 1, "device='tpu' is not valid; use 'auto', 'cpu', 'gpu' or 'gpu:N'"),
    (1, 1, "is not valid"),
])
def test_bad_devices(device, n_gpus, message):
    with pytest.raises(ValueError, match=message):
        resolve_device(device, n_gpus)


def test_estimator_device_and_precision_checked_before_building(iris):
    cases = [({"precision": "float16"}, "The 'precision' parameter of KerasClassifier must be a str among .*'mixed_bfloat16'.* Got 'float16'")]
    if not visible_gpus():  # where a GPU is visible, device="gpu" is valid
        cases.append(({"device": "gpu"}, "asks for a GPU"))
    for params, message in cases:
        est = KerasClassifier(epochs=1, **params)
        with pytest.raises(ValueError, match=message):
            est.fit(*iris)
        assert not hasattr(est, "model_")


def test_trains_on_the_cpu_here(iris):
    if visible_gpus():
        pytest.skip("a GPU is visible: device='auto' takes it")
    assert KerasClassifier(hidden_layer_sizes=(4,), epochs=1).fit(*iris).device_ == "cpu:0"


def test_mixed_precision(iris):
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, precision="mixed_float16",
                          random_state=0).fit(*iris)
    policies = [layer.dtype_policy.name for layer in est.model_.layers[1:]]
    assert policies == ["mixed_float16", "float32"]  # hidden in half, output in full precision
    assert est.predict_proba(iris[0]).dtype == np.float32
    assert np.allclose(est.predict_proba(iris[0]).sum(1), 1, atol=1e-3)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_steps_per_execution_defaults_and_equal_results(iris):
    X, y = iris
    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, batch_size=8, random_state=0).fit(X, y)
    assert est.model_.steps_per_execution == 19  # one epoch of 150 / 8 batches, at most 32
    one = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, batch_size=8, steps_per_execution=1,
                          random_state=0).fit(X, y)
    np.testing.assert_allclose(est.history_["loss"], one.history_["loss"], rtol=1e-4)
    cyc = KerasClassifier(hidden_layer_sizes=(8,), epochs=2, schedule="onecycle").fit(X, y)
    assert cyc.model_.steps_per_execution == 1  # 1cycle moves momentum every step
    with pytest.raises(ValueError, match="The 'steps_per_execution' parameter of KerasClassifier must be an int in the range \\[1, inf\\) or None. Got 0"):
        KerasClassifier(steps_per_execution=0).fit(X, y)


def _lambda_builder():
    return lambda meta: keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])


def test_lambda_builder_cannot_travel_and_says_why(iris):
    est = KerasClassifier(model=_lambda_builder(), epochs=1)
    with pytest.raises(pickle.PicklingError, match="module-level function"):
        pickle.dumps(est)
    space = {"learning_rate": loguniform(1e-3, 1e-1)}
    search = NarrowingSearchCV(est, space, n_iter=2, cv=2, n_jobs=2, packing=False)
    with pytest.raises(pickle.PicklingError) as raised:  # joblib chains ours as the cause
        search.fit(*iris)
    causes, error = [], raised.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__
    assert any("module-level function" in c for c in causes)
    # packed, every fold trains in this process: nothing travels, and the search runs
    search = NarrowingSearchCV(est, space, n_iter=2, cv=2, n_jobs=2).fit(*iris)
    assert search.packing_ == ["packed"] * 2 and np.isfinite(search.best_score_)


def test_many_fits_in_one_process_leave_earlier_models_working(iris):
    first = KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0).fit(*iris)
    expected = first.predict_proba(iris[0])
    for seed in range(3):
        KerasClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=seed).fit(*iris)
    np.testing.assert_allclose(first.predict_proba(iris[0]), expected, rtol=1e-6)


@pytest.mark.slow
def test_narrowing_search_on_a_dask_cluster(iris):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        search = NarrowingSearchCV(
            KerasClassifier(hidden_layer_sizes=(8,), epochs=3, batch_size=8, random_state=0),
            {"learning_rate": loguniform(1e-2, 1e-1)}, n_iter=4, n_initial=2, round_size=2,
            cv=2, random_state=0, n_jobs=2,
        ).fit(*iris)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > 0.7
