"""Resumable trial storage: kill and resume, concurrent writers, mismatched stores."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.svm import SVC

from skhp.search import NarrowingSearchCV, Real
from skhp.storage import TrialStore, open_store

SEARCH_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from skhp.search import NarrowingSearchCV, Real

    db, log, out = sys.argv[1:4]

    class SlowLogistic(ClassifierMixin, BaseEstimator):
        def __init__(self, C=1.0):
            self.C = C

        def fit(self, X, y):
            with open(log, "a") as fh:
                fh.write(json.dumps(self.C) + "\\n")
            time.sleep(0.15)
            self.model_ = LogisticRegression(C=self.C, max_iter=300).fit(X, y)
            self.classes_ = self.model_.classes_
            return self

        def predict(self, X):
            return self.model_.predict(X)

    X, y = load_iris(return_X_y=True)
    search = NarrowingSearchCV(SlowLogistic(), {"C": Real(1e-4, 1e2, log=True)}, n_iter=14,
                               cv=2, random_state=0, refit=False,
                               storage=None if db == "-" else "sqlite:///" + db, study="s")
    search.fit(X, y)
    with open(out, "w") as fh:
        json.dump({"params": [p["C"] for p in search.cv_results_["params"]],
                   "scores": list(search.cv_results_["mean_test_score"]),
                   "rounds": [int(r) for r in search.cv_results_["round"]],
                   "replayed": getattr(search, "n_trials_replayed_", 0)}, fh)
""")


def _run(tmp_path, db, log, out, wait=True):
    script = tmp_path / "search.py"
    script.write_text(SEARCH_SCRIPT)
    cmd = [sys.executable, str(script), str(db), str(log), str(out)]
    if wait:
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        return json.loads(out.read_text())
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _count(db):
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE status != 'running'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_sigkill_then_resume_runs_no_finished_trial_twice(tmp_path):
    db, log = tmp_path / "trials.db", tmp_path / "fits.log"
    proc = _run(tmp_path, db, log, tmp_path / "never.json", wait=False)
    deadline = time.time() + 120
    while _count(db) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    every = TrialStore(db).trials("s")
    stored = [t for t in every if t.status != "running"]
    assert len(stored) == 10, "the search was not killed in its second round"  # rounds of 10, 4
    assert {t.status for t in every} <= {"ok", "running"}  # the killed round shows as running
    fits_before = log.read_text().splitlines()

    log.unlink()
    resumed = _run(tmp_path, db, log, tmp_path / "resumed.json")
    fits_after = [json.loads(line) for line in log.read_text().splitlines()]
    stored_params = {t.params["C"] for t in stored}
    assert resumed["replayed"] == len(stored)
    assert not stored_params & set(fits_after)  # no finished trial trained again
    assert len(fits_after) == 2 * (14 - len(stored))  # 2 folds of every other trial
    assert len(fits_before) <= 2 * 14  # at most the running round was lost

    reference = _run(tmp_path, "-", tmp_path / "ref.log", tmp_path / "ref.json")
    assert resumed["params"] == reference["params"] and resumed["rounds"] == reference["rounds"]
    np.testing.assert_allclose(resumed["scores"], reference["scores"])
    assert len(TrialStore(db).trials("s")) == 14


WRITER = textwrap.dedent("""
    import sys
    from skhp.storage import TrialStore
    store = TrialStore(sys.argv[1])
    study = sys.argv[2]
    store.open_study(study, {"who": study})
    for i in range(150):
        store.add_trial(study, i, {"i": i}, [{"test_scores": i / 150, "fit_time": 0.0}])
""")


@pytest.mark.slow
def test_two_processes_write_one_store_at_once(tmp_path):
    db = tmp_path / "shared.db"
    TrialStore(db)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(db), name], stderr=subprocess.PIPE)
             for name in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
    store = TrialStore(db)
    assert sorted(store.studies()) == ["a", "b"]
    for study in ("a", "b"):
        trials = store.trials(study)
        assert [t.number for t in trials] == list(range(150))
        assert trials[-1].score == pytest.approx(149 / 150)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_of_another_search_is_refused(tmp_path):
    X, y = load_iris(return_X_y=True)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    space = {"C": Real(1e-3, 1e3, log=True)}
    NarrowingSearchCV(SVC(), space, n_iter=3, random_state=0, storage=db).fit(X, y)
    for changed in (dict(estimator=SVC(kernel="linear")), dict(random_state=1),
                    dict(param_distributions={"C": Real(1e-2, 1e2, log=True)})):
        params = {**dict(estimator=SVC(), param_distributions=space, n_iter=3, random_state=0,
                         storage=db), **changed}
        with pytest.raises(ValueError, match="written by a different search"):
            NarrowingSearchCV(**params).fit(X, y)
    other = NarrowingSearchCV(SVC(), space, n_iter=3, random_state=1, storage=db, study="b").fit(X, y)
    assert other.n_trials_replayed_ == 0


def test_resuming_with_a_larger_budget_continues(tmp_path):
    X, y = load_iris(return_X_y=True)
    db = f"sqlite:///{tmp_path / 'grow.db'}"
    space = {"C": Real(1e-3, 1e3, log=True), "gamma": Real(1e-4, 10, log=True)}
    first = NarrowingSearchCV(SVC(), space, n_iter=12, random_state=0, storage=db,
                              scoring=["accuracy", "f1_macro"], refit="accuracy").fit(X, y)
    longer = NarrowingSearchCV(SVC(), space, n_iter=17, random_state=0, storage=db,
                               scoring=["accuracy", "f1_macro"], refit="accuracy").fit(X, y)
    plain = NarrowingSearchCV(SVC(), space, n_iter=17, random_state=0,
                              scoring=["accuracy", "f1_macro"], refit="accuracy").fit(X, y)
    assert first.n_trials_replayed_ == 0 and longer.n_trials_replayed_ == 12
    assert longer.cv_results_["params"] == plain.cv_results_["params"]
    for key in ("mean_test_accuracy", "split1_test_f1_macro", "rank_test_accuracy"):
        np.testing.assert_allclose(longer.cv_results_[key], plain.cv_results_[key])


def test_scipy_distributions_resume(tmp_path):
    from scipy.stats import loguniform

    X, y = load_iris(return_X_y=True)
    db = f"sqlite:///{tmp_path / 'scipy.db'}"
    NarrowingSearchCV(SVC(), {"C": loguniform(1e-3, 1e3)}, n_iter=3, random_state=0, storage=db).fit(X, y)
    again = NarrowingSearchCV(SVC(), {"C": loguniform(1e-3, 1e3)}, n_iter=4, random_state=0,
                              storage=db).fit(X, y)
    assert again.n_trials_replayed_ == 3


def test_open_store_forms():
    assert open_store(None) is None
    assert open_store("sqlite:///:memory:").path == ":memory:"
    with pytest.raises(ValueError, match="only SQLite"):
        open_store("postgresql://host/db")
    with pytest.raises(ValueError, match="storage must be"):
        open_store(3)


def test_values_are_stored_exactly_and_others_refused(tmp_path):
    from skhp.storage import dumps, loads

    value = {"hidden_layer_sizes": (64, (3, 4)), "lr": np.float32(0.5), "nested": [None, True, "x"]}
    assert loads(dumps(value)) == {"hidden_layer_sizes": (64, (3, 4)), "lr": 0.5,
                                   "nested": [None, True, "x"]}
    store = TrialStore(tmp_path / "exact.db")
    store.open_study("s", {"space": {"x": 1}})
    with pytest.raises(TypeError, match="trial 0's parameters: <object object .*> cannot be stored exactly"):
        store.start_trial("s", 0, {"x": object()})


def test_a_running_trial_is_visible_until_it_finishes(tmp_path):
    store = TrialStore(tmp_path / "run.db")
    store.open_study("s", {})
    store.start_trial("s", 0, {"x": 1.0})
    assert [t.status for t in store.trials("s")] == ["running"]
    store.add_trial("s", 0, {"x": 1.0}, [{"test_scores": 0.5, "fit_time": 0.2, "score_time": 0.1}])
    (trial,) = store.trials("s")
    assert trial.status == "ok" and trial.folds[0]["fit_time"] == 0.2


def test_the_schema_version_is_checked(tmp_path):
    from skhp.storage import SCHEMA_VERSION

    path = tmp_path / "v.db"
    TrialStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ValueError, match=f"schema version {SCHEMA_VERSION + 1}; this skhp reads"):
        TrialStore(path)


def test_stored_search_keeps_real_fold_times_and_round_parallelism(tmp_path):
    X, y = load_iris(return_X_y=True)
    db = tmp_path / "times.db"
    search = NarrowingSearchCV(SVC(), {"C": Real(1e-3, 1e3, log=True)}, n_iter=6, cv=3,
                               random_state=0, storage=f"sqlite:///{db}").fit(X, y)
    trials = TrialStore(db).trials("default")
    assert len(trials) == 6 and all(t.status == "ok" for t in trials)
    for i, trial in enumerate(trials):
        times = [f["fit_time"] for f in trial.folds]
        # each fold its own time, not the mean: their spread is scikit-learn's std_fit_time
        assert np.mean(times) == pytest.approx(search.cv_results_["mean_fit_time"][i])
        assert np.std(times) == pytest.approx(search.cv_results_["std_fit_time"][i], abs=1e-12)
    again = NarrowingSearchCV(SVC(), {"C": Real(1e-3, 1e3, log=True)}, n_iter=6, cv=3,
                              random_state=0, storage=f"sqlite:///{db}").fit(X, y)
    assert again.n_trials_replayed_ == 6
    np.testing.assert_allclose(again.cv_results_["mean_fit_time"], search.cv_results_["mean_fit_time"])
    np.testing.assert_allclose(again.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"])


def test_the_guided_ramp_probe_is_stored_and_not_run_again(tmp_path, monkeypatch):
    from skhp import KerasClassifier
    from skhp.search import GuidedSearchCV

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    db = f"sqlite:///{tmp_path / 'probe.db'}"
    make = lambda: GuidedSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=2, random_state=0),  # noqa: E731
                                  {"schedule": ["constant", "ramp"]}, cv=2, storage=db)
    first = make().fit(X, y)
    (probe,) = [d for d in first.trace_ if d.action == "probe"]

    def must_not_run(self, params):
        raise AssertionError("the probe ran again")

    monkeypatch.setattr(GuidedSearchCV, "_run_probe", must_not_run)
    again = make().fit(X, y)
    (replayed,) = [d for d in again.trace_ if d.action == "probe"]
    assert (replayed.tried, replayed.chosen) == (probe.tried, probe.chosen)
    assert again.n_trials_replayed_ == len(first.cv_results_["params"])
