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
            return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
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
    stored = TrialStore(db).trials("s")
    assert 5 <= len(stored) < 14, "the search was not killed midway"
    fits_before = log.read_text().splitlines()

    log.unlink()
    resumed = _run(tmp_path, db, log, tmp_path / "resumed.json")
    fits_after = [json.loads(line) for line in log.read_text().splitlines()]
    stored_params = {t["params"]["C"] for t in stored}
    assert resumed["replayed"] == len(stored)
    assert not stored_params & set(fits_after)  # no finished trial trained again
    assert len(fits_after) == 2 * (14 - len(stored))  # 2 folds of every other trial
    assert len(fits_before) <= 2 * len(stored) + 2  # at most the running trial was lost

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
        assert [t["number"] for t in trials] == list(range(150))
        assert trials[-1]["mean_score"] == pytest.approx(149 / 150)
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
