"""Optuna's samplers as skhp strategies: SamplerOracle and SamplerSearchCV."""

import pickle

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from skhp.search import Choice, Integer, Real, SamplerOracle, SamplerSearchCV, Space

optuna = pytest.importorskip("optuna")


def _run(oracle, func):
    while (proposal := oracle.ask()) is not None:
        oracle.tell([func(p) for p in proposal.points])
    return oracle


SPACE = {"lr": Real(1e-4, 1e-1, log=True), "units": Integer(4, 128, log=True),
         "batch": Integer(16, 256, base=2), "depth": [1, 2, 3],
         "layers": Choice([(16,), (32, 32)]), "act": ["relu", "tanh"]}


def test_points_are_the_spaces_values_and_reproducible():
    runs = [_run(SamplerOracle(SPACE, 24, sampler=s, round_size=4, seed=3),
                 lambda p: -abs(np.log10(p["lr"]) + 2))
            for s in ("tpe", "tpe", "cmaes")]
    space = Space(SPACE)
    for oracle in runs:
        assert len(oracle.trials) == 24 and [h["n_trials"] for h in oracle.history] == [4] * 6
        for t in oracle.trials:
            assert all(space[k].contains(v) for k, v in t.params.items()), t.params
        assert {t.params["batch"] for t in oracle.trials} <= {16, 32, 64, 128, 256}
    assert [t.params for t in runs[0].trials] == [t.params for t in runs[1].trials]
    assert runs[0].history[0]["step"] == "TPESampler" and runs[2].history[0]["step"] == "CmaEsSampler"
    # the study was told every score, maximized
    values = [t.value for t in runs[0].study.trials]
    assert values == pytest.approx([t.score for t in runs[0].trials])
    assert runs[0].study.direction == optuna.study.StudyDirection.MAXIMIZE


def test_tpe_finds_the_optimum_and_learns_where_trials_fail():
    def score(p):
        return np.nan if p["x"] > 3 else -(p["x"] - 1) ** 2

    # several seeds, not one path (a path changes with the CPU's floating point)
    oracles = [_run(SamplerOracle({"x": Real(-4, 4)}, 60, sampler="tpe", seed=s), score)
               for s in range(3)]
    assert np.median([abs(o.best_params["x"] - 1) for o in oracles]) < 0.1
    for oracle in oracles:
        states = [t.state for t in oracle.study.trials]
        failed = [t.status == "failed" for t in oracle.trials]
        assert [s == optuna.trial.TrialState.PRUNED for s in states] == failed
        # told as failed trials, TPE would propose 42-50 of the 60 points where x > 3
        assert 1 <= sum(failed) <= 15


def test_conditional_space_draws_each_subspace():
    union = [{"kernel": ["rbf"], "gamma": Real(1e-3, 1, log=True)}, {"kernel": ["linear"]}]
    oracle = _run(SamplerOracle(union, 20, seed=0), lambda p: p.get("gamma", 0.5))
    keys = {tuple(sorted(t.params)) for t in oracle.trials}
    assert keys == {("gamma", "kernel"), ("kernel",)}
    assert all(t.params["kernel"] == ("rbf" if "gamma" in t.params else "linear")
               for t in oracle.trials)


def test_sampler_object_is_copied_and_bad_input_refused():
    sampler = optuna.samplers.TPESampler(seed=1)
    a = _run(SamplerOracle({"x": Real(0, 1)}, 8, sampler=sampler), lambda p: p["x"])
    b = _run(SamplerOracle({"x": Real(0, 1)}, 8, sampler=sampler), lambda p: p["x"])
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    with pytest.raises(ValueError, match=r"sampler must be one of \['cmaes', 'gp', 'qmc'"):
        SamplerOracle({"x": Real(0, 1)}, 4, sampler="tpee")
    with pytest.raises(ValueError, match="parameter 'x': Optuna's samplers draw from ranges"):
        SamplerOracle({"x": norm(0, 1)}, 4)


X, Y = load_iris(return_X_y=True)
CV = StratifiedKFold(3, shuffle=True, random_state=0)
SVC_SPACE = {"C": Real(1e-2, 1e3, log=True), "gamma": Real(1e-4, 1e1, log=True)}


def test_search_stores_resumes_pickles_and_clones(tmp_path):
    store = f"sqlite:///{tmp_path / 'trials.db'}"
    kw = dict(sampler="tpe", round_size=3, random_state=0, cv=CV)
    full = SamplerSearchCV(SVC(), SVC_SPACE, n_iter=9, **kw).fit(X, Y)
    SamplerSearchCV(SVC(), SVC_SPACE, n_iter=6, storage=store, **kw).fit(X, Y)
    resumed = SamplerSearchCV(SVC(), SVC_SPACE, n_iter=9, storage=store, **kw).fit(X, Y)
    assert resumed.n_trials_replayed_ == 6
    assert resumed.cv_results_["params"] == full.cv_results_["params"]
    np.testing.assert_allclose(resumed.cv_results_["mean_test_score"],
                               full.cv_results_["mean_test_score"])
    assert full.cv_results_["round"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(full.study_.trials) == 9
    again = pickle.loads(pickle.dumps(full))
    np.testing.assert_array_equal(again.predict(X), full.predict(X))
    # an object sampler: cloned with the search, and a store accepts its reruns
    obj = SamplerSearchCV(SVC(), SVC_SPACE, n_iter=3, sampler=optuna.samplers.CmaEsSampler(seed=0),
                          cv=CV, storage=f"sqlite:///{tmp_path / 'cma.db'}")
    first = clone(obj).fit(X, Y)
    second = clone(obj).set_params(n_iter=4).fit(X, Y)
    assert second.n_trials_replayed_ == 3
    assert second.cv_results_["params"][:3] == first.cv_results_["params"]
    assert str(first.cv_results_["step"][0]) == "CmaEsSampler"


def test_a_samplers_missing_package_is_named_before_training(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cmaes" else real(name, *a))
    with pytest.raises(ImportError, match="Optuna's 'cmaes' sampler needs cmaes: pip install cmaes"):
        SamplerSearchCV(SVC(), SVC_SPACE, sampler="cmaes").fit(X, Y)
    SamplerOracle(SVC_SPACE, 2, sampler="tpe")  # the others still work


def test_search_refuses_bad_input_before_training():
    with pytest.raises(InvalidParameterError, match="'sampler' parameter of SamplerSearchCV must be"):
        SamplerSearchCV(SVC(), SVC_SPACE, sampler="bogus").fit(X, Y)
    with pytest.raises(ValueError, match="parameter 'C': Optuna's samplers draw from ranges"):
        SamplerSearchCV(SVC(), {"C": norm(1, 0.1)}).fit(X, Y)


def test_search_prunes_and_packs_skhp_models():
    from skhp import KerasClassifier

    est = KerasClassifier(hidden_layer_sizes=(8,), epochs=9, random_state=0)
    search = SamplerSearchCV(est, {"learning_rate": Real(1e-4, 1e-1, log=True)}, n_iter=6,
                             round_size=6, random_state=0, cv=CV, pruning="halving",
                             refit=False).fit(X, Y)
    assert set(search.cv_results_["packing"]) == {"packed"}
    assert search.search_history_[0]["rungs"] == [
        {"epoch": 1, "candidates": 6, "kept": 2}, {"epoch": 3, "candidates": 2, "kept": 1},
        {"epoch": 9, "candidates": 1, "kept": 1}]
    assert search.cv_results_["pruned"].sum() == 5
