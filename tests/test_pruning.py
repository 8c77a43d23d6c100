"""Pruning: continued training, the rules, Hyperband's brackets, searches that stop bad candidates."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skhp import KerasClassifier
from skhp.packed import PackRun, plan
from skhp.search import (
    GuidedSearchCV,
    HyperbandSearchCV,
    MedianRule,
    NarrowingSearchCV,
    RandomSearchCV,
    Real,
    SpaceGridSearchCV,
    SuccessiveHalving,
)
from skhp.search.pruning import check_pruning, hyperband_brackets, rung_epochs
from skhp.storage import TrialStore

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS).astype("float32")
MLP = dict(hidden_layer_sizes=(8,), initializer="he_normal", random_state=0, batch_size=16)


def _run(estimators, X=X_IRIS, y=Y_IRIS):
    plans = [plan(est.fit_spec(X, y)) for est in estimators]
    return PackRun([slot for slot, _, _ in plans], **plans[0][1])


# -- continued training -----------------------------------------------------------------


def test_training_continued_rung_by_rung_equals_one_uninterrupted_fit():
    make = lambda: [KerasClassifier(**MLP, epochs=9, learning_rate=lr, schedule="cosine", warmup=1)
                    for lr in (1e-3, 1e-2)]
    once = _run(make()).advance(9)
    steps = _run(make())
    for rung in (1, 3, 9):
        steps.advance(rung)
    for j in range(2):
        for a, b in zip(once.result(j)["weights"], steps.result(j)["weights"]):
            np.testing.assert_array_equal(a, b)  # the same program on the same state: bitwise
        assert once.result(j)["history"] == steps.result(j)["history"]


def test_stopped_slots_stop_and_the_others_continue_as_before():
    make = lambda: [KerasClassifier(**MLP, epochs=6, learning_rate=lr) for lr in (1e-3, 3e-3, 1e-2, 3e-2)]
    whole = _run(make()).advance(6)
    pruned = _run(make()).advance(2)
    pruned.stop(1)
    pruned.stop(3)
    pruned.advance(6)
    assert [pruned.result(j)["epochs"] for j in range(4)] == [6, 2, 6, 2]
    for j in (0, 2):  # a smaller pack: float32 round-off only
        for a, b in zip(whole.result(j)["weights"], pruned.result(j)["weights"]):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_slot_state_restored_into_a_new_pack_continues_exactly():
    make = lambda: [KerasClassifier(**MLP, epochs=6, learning_rate=1e-2, schedule="onecycle")]
    whole = _run(make()).advance(6)
    first = _run(make()).advance(3)
    state = pickle.loads(pickle.dumps(first.slot_state(0)))
    second = _run(make())
    second.restore(0, state)
    second.advance(6)
    for a, b in zip(whole.result(0)["weights"], second.result(0)["weights"]):
        np.testing.assert_array_equal(a, b)


# -- the rules ---------------------------------------------------------------------------


def test_rung_epochs_follow_the_factor():
    assert rung_epochs(27, 1, 3) == [1, 3, 9, 27]
    assert rung_epochs(10, 1, 3) == [2, 4, 10]
    assert rung_epochs(81, 3, 3) == [3, 9, 27, 81]
    assert rung_epochs(2, 3, 3) == [2]


def test_halving_promotes_exactly_the_top_third():
    rng = np.random.default_rng(0)
    for n in (3, 9, 10, 27, 30):
        scores = dict(enumerate(rng.uniform(size=n)))
        kept = SuccessiveHalving(factor=3).survivors(scores, rung=1)
        expected = sorted(scores, key=lambda c: -scores[c])[:max(1, n // 3)]
        assert kept == expected
    assert SuccessiveHalving().survivors({0: np.nan, 1: 0.1, 2: 0.2}, rung=1) == [2]


def test_median_rule_on_scripted_curves():
    # completed candidates' scores at epochs 1 and 3
    record = {1: [0.2, 0.4, 0.6, 0.8, 1.0], 3: [0.5, 0.6, 0.7]}
    rule = MedianRule(n_startup=5)
    assert rule.survivors({0: 0.59, 1: 0.61, 2: 0.6}, rung=1, record=record) == [1, 2]
    assert rule.survivors({0: 0.1, 1: 0.0}, rung=3, record=record) == [0, 1]  # only 3 earlier: no pruning
    assert MedianRule(n_startup=3).survivors({0: 0.1, 1: 0.65}, rung=3, record=record) == [1]
    assert rule.survivors({0: np.nan, 1: 0.9}, rung=1, record=record) == [1]


def test_hyperband_brackets_equal_kerastuners():
    # KerasTuner's HyperbandOracle for max_epochs=27, factor=3: 4 brackets; its last round
    # has ceil(1 + log3(27)) / (b + 1) candidates, each round before it 3 times more
    assert [(b["bracket"], b["sizes"], b["epochs"]) for b in hyperband_brackets(27, 3)] == [
        (3, [27, 9, 3, 1], [1, 3, 9, 27]),
        (2, [12, 4, 2], [3, 9, 27]),
        (1, [6, 2], [9, 27]),
        (0, [4], [27]),
    ]
    # max_epochs=10, factor=2: ceil(1 + log2(10)) = 5 at the end of bracket 0
    assert [(b["sizes"], b["epochs"]) for b in hyperband_brackets(10, 2)] == [
        ([10, 5, 3, 2], [2, 3, 5, 10]), ([7, 4, 2], [3, 5, 10]), ([5, 3], [5, 10]), ([5], [10])]


def test_hyperband_brackets_against_an_installed_kerastuner():
    kt = pytest.importorskip("keras_tuner")
    for max_epochs, factor in ((27, 3), (10, 2), (100, 3)):
        oracle = kt.oracles.HyperbandOracle(objective="val_loss", max_epochs=max_epochs,
                                            factor=factor)
        n = oracle._get_num_brackets()
        ours = hyperband_brackets(max_epochs, factor)
        assert [b["bracket"] for b in ours] == list(range(n - 1, -1, -1))
        for b in ours:
            k = b["bracket"]
            assert b["sizes"] == [oracle._get_size(k, r) for r in range(k + 1)]
            assert b["epochs"] == [oracle._get_epochs(k, r) for r in range(k + 1)]


def test_bad_pruning_is_refused_before_training():
    with pytest.raises(ValueError, match="pruning='halve' is not one"):
        check_pruning("halve")
    search = NarrowingSearchCV(KerasClassifier(**MLP), {"learning_rate": Real(1e-3, 1e-1, log=True)},
                               n_iter=2, pruning="halve")
    with pytest.raises(InvalidParameterError, match="'pruning' parameter of NarrowingSearchCV"):
        search.fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="min_epochs must be a whole number >= 1"):
        check_pruning(SuccessiveHalving(min_epochs=0))


# -- searches ----------------------------------------------------------------------------


def _narrowing(**kw):
    return NarrowingSearchCV(KerasClassifier(**MLP, epochs=9),
                             {"learning_rate": Real(1e-4, 1.0, log=True)}, n_iter=9, n_initial=9,
                             cv=3, random_state=0, **kw)


def test_halving_in_a_search_records_rungs_and_never_picks_a_pruned_candidate():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # pruned NaN scores raise no warning
        search = _narrowing(pruning="halving").fit(X_IRIS, Y_IRIS)
    res = search.cv_results_
    assert search.search_history_[0]["rungs"] == [
        {"epoch": 1, "candidates": 9, "kept": 3}, {"epoch": 3, "candidates": 3, "kept": 1},
        {"epoch": 9, "candidates": 1, "kept": 1}]
    assert res["pruned"].tolist().count(False) == 1
    assert sorted(res["epochs_trained"].tolist()) == [1] * 6 + [3] * 2 + [9]
    assert np.isnan(res["mean_test_score"][res["pruned"]]).all()
    assert not res["pruned"][search.best_index_]
    # the three promoted at epoch 1 are exactly the top three there
    first = {i: r[1] for i, r in enumerate(res["rung_scores"])}
    top = sorted(first, key=lambda i: -first[i])[:3]
    assert sorted(i for i, r in enumerate(res["rung_scores"]) if 3 in r) == sorted(top)
    assert search.cv_results_["rank_test_score"][search.best_index_] == 1
    # the finalist's score equals the same candidate's unpruned score
    plain = SpaceGridSearchCV(KerasClassifier(**MLP, epochs=9),
                              {"learning_rate": [search.best_params_["learning_rate"]]}, cv=3,
                              refit=False).fit(X_IRIS, Y_IRIS)
    assert search.best_score_ == pytest.approx(plain.cv_results_["mean_test_score"][0], abs=1e-6)


def test_pruned_candidates_use_fewer_epochs_and_the_search_pickles():
    search = _narrowing(pruning="halving").fit(X_IRIS, Y_IRIS)
    assert search.cv_results_["epochs_trained"].sum() <= 9 * 9 / 3
    again = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(again.predict(X_IRIS), search.predict(X_IRIS))
    copy = clone(search).set_params(pruning=SuccessiveHalving(min_epochs=3))
    assert copy.get_params()["pruning"].min_epochs == 3


def test_median_rule_prunes_later_rounds_against_earlier_completed_candidates():
    search = RandomSearchCV(KerasClassifier(**MLP, epochs=3),
                            {"learning_rate": Real(1e-5, 1.0, log=True)}, n_iter=16,
                            round_size=8, cv=2, random_state=1,
                            pruning=MedianRule(n_startup=3)).fit(X_IRIS, Y_IRIS)
    res = search.cv_results_
    assert not res["pruned"][res["round"] == 0].any()  # nobody to compare with yet
    later = (res["round"] == 1) & res["pruned"]
    assert later.any()
    round0 = [r[1] for r, rnd in zip(res["rung_scores"], res["round"]) if rnd == 0]
    for i in np.flatnonzero(later):
        assert res["rung_scores"][i][1] < np.median(round0)


def test_a_diverging_candidate_is_a_failed_fit_and_the_search_goes_on():
    search = SpaceGridSearchCV(
        KerasClassifier(**MLP, epochs=3, optimizer="sgd"),
        {"learning_rate": [1e6, 1e-2, 3e-2]}, cv=2, pruning="halving")
    with pytest.warns(FitFailedWarning, match="diverged"):
        search.fit(X_IRIS * 1e3, Y_IRIS)
    res = search.cv_results_
    i = [p["learning_rate"] for p in res["params"]].index(1e6)
    assert np.isnan(res["mean_test_score"][i]) and not res["pruned"][i]
    assert res["epochs_trained"][i] == 1  # stopped at once
    assert search.best_params_["learning_rate"] != 1e6
    with pytest.raises(ValueError, match="diverged"):
        clone(search).set_params(error_score="raise").fit(X_IRIS * 1e3, Y_IRIS)


def test_an_unpackable_estimator_continues_by_its_own_fit():
    params = dict(MLP, epochs=3, optimizer="adadelta", fit__shuffle=False)
    search = SpaceGridSearchCV(make_pipeline(StandardScaler(), KerasClassifier(**params)),
                               {"kerasclassifier__learning_rate": [1e-2, 3e-2, 1e-1]}, cv=2,
                               pruning=SuccessiveHalving(min_epochs=1, factor=3)).fit(X_IRIS, Y_IRIS)
    res = search.cv_results_
    assert res["packing"][0].startswith("optimizer Adadelta")
    assert res["pruned"].sum() == 2
    best = search.best_params_["kerasclassifier__learning_rate"]
    plain = SpaceGridSearchCV(make_pipeline(StandardScaler(), KerasClassifier(**params)),
                              {"kerasclassifier__learning_rate": [best]}, cv=2,
                              refit=False).fit(X_IRIS, Y_IRIS)
    assert search.best_score_ == pytest.approx(plain.cv_results_["mean_test_score"][0], abs=1e-6)


def test_guided_search_prunes_too():
    search = GuidedSearchCV(KerasClassifier(**MLP, epochs=3),
                            {"learning_rate": Real(1e-4, 1.0, log=True)}, n_iter=8, cv=2,
                            pruning="halving").fit(X_IRIS, Y_IRIS)
    assert search.cv_results_["pruned"].any()
    assert not search.cv_results_["pruned"][search.best_index_]


def test_hyperband_search_runs_kerastuners_brackets():
    search = HyperbandSearchCV(KerasClassifier(**MLP), {"learning_rate": Real(1e-3, 1e-1, log=True)},
                               max_epochs=9, cv=2, random_state=0).fit(X_IRIS, Y_IRIS)
    res = search.cv_results_
    sizes = [b["sizes"] for b in hyperband_brackets(9, 3)]
    assert [h["step"] for h in search.search_history_] == ["bracket 2", "bracket 1", "bracket 0"]
    assert [[r["candidates"] for r in h["rungs"]] for h in search.search_history_] == sizes
    assert len(res["params"]) == sum(s[0] for s in sizes)
    assert set(res["param_epochs"]) == {9}
    assert not res["pruned"][search.best_index_]
    assert search.best_estimator_.epochs == 9
    with pytest.raises(ValueError, match="one 'epochs' parameter"):
        from sklearn.svm import SVC
        HyperbandSearchCV(SVC(), {"C": Real(0.1, 10)}).fit(X_IRIS, Y_IRIS)


def test_a_search_killed_mid_round_resumes_from_its_last_rung(tmp_path, monkeypatch):
    from skhp.search import pruning

    db = str(tmp_path / "trials.db")
    whole = _narrowing(pruning="halving").fit(X_IRIS, Y_IRIS)

    calls = []
    original = pruning.SuccessiveHalving.survivors

    def killed_at_the_second_rung(self, scores, rung, record=None):
        calls.append(rung)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, scores, rung, record)

    monkeypatch.setattr(pruning.SuccessiveHalving, "survivors", killed_at_the_second_rung)
    with pytest.raises(KeyboardInterrupt):
        _narrowing(pruning="halving", storage=db).fit(X_IRIS, Y_IRIS)
    stored = TrialStore(db).rungs("default", range(9))
    assert sorted({epoch for _, _, epoch in stored}) == [1]  # the finished rung
    assert len(stored) == 9 * 3  # every candidate's scores there, three folds each
    assert sum(bool(state) for _, state in stored.values()) == 3 * 3  # the promoted ones' states

    monkeypatch.setattr(pruning.SuccessiveHalving, "survivors", original)
    trained = []
    advance = PackRun.advance
    monkeypatch.setattr(PackRun, "advance", lambda run, until: (
        trained.append((run.epoch, until)) if run.active.any() else None) or advance(run, until))
    resumed = _narrowing(pruning="halving", storage=db).fit(X_IRIS, Y_IRIS)
    assert min(start for start, _ in trained if start < 9) >= 1  # no rung-1 work again
    np.testing.assert_allclose(resumed.cv_results_["mean_test_score"],
                               whole.cv_results_["mean_test_score"], atol=1e-6)
    assert TrialStore(db).rungs("default", range(9)) == {}  # dropped once the round is stored
    assert [t.status for t in TrialStore(db).trials("default")].count("pruned") == 8


def test_pruning_with_several_metrics_and_train_scores():
    search = SpaceGridSearchCV(KerasClassifier(**MLP, epochs=3), {"learning_rate": [1e-4, 1e-2, 3e-2]},
                               cv=2, pruning="halving", scoring=["accuracy", "neg_log_loss"],
                               refit="neg_log_loss", return_train_score=True).fit(X_IRIS, Y_IRIS)
    res = search.cv_results_
    assert res["pruned"].sum() == 2
    for key in ("mean_test_accuracy", "mean_test_neg_log_loss", "mean_train_accuracy"):
        assert np.isnan(res[key][res["pruned"]]).all() and np.isfinite(res[key][~res["pruned"]]).all()
    # rungs sort by the refit metric
    kept = int(np.flatnonzero(~res["pruned"])[0])
    first = [r[1] for r in res["rung_scores"]]
    assert first[kept] == max(first)
