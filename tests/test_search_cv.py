"""NarrowingSearchCV and GuidedSearchCV behave like scikit-learn's own searches."""

import pickle

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skhp import KerasClassifier
from skhp.search import GuidedSearchCV, Integer, NarrowingSearchCV, Real

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
SVC_SPACE = {"C": loguniform(1e-3, 1e3), "gamma": loguniform(1e-4, 1e1)}


def test_cv_results_like_randomized_search_plus_rounds():
    search = NarrowingSearchCV(SVC(), SVC_SPACE, n_iter=17, random_state=0, return_train_score=True)
    search.fit(X_IRIS, Y_IRIS)
    res = search.cv_results_
    assert len(res["params"]) == 17
    for key in ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score",
                "mean_train_score", "mean_fit_time", "param_C", "param_gamma"):
        assert len(res[key]) == 17
    assert list(res["round"]) == [0] * 10 + [1] * 5 + [2] * 2
    assert list(res["step"][:10]) == ["explore"] * 10 and set(res["step"][10:]) == {"narrow"}
    assert res["space"][0] == "C=[0.001, 1000] log; gamma=[0.0001, 10] log"
    assert search.best_index_ == int(np.argmax(res["mean_test_score"]))
    assert search.best_score_ == res["mean_test_score"][search.best_index_]
    assert search.best_estimator_.get_params()["C"] == search.best_params_["C"]
    assert [h["n_trials"] for h in search.search_history_] == [10, 5, 2]
    assert pickle.loads(pickle.dumps(search)).predict(X_IRIS[:5]).tolist() == \
        search.predict(X_IRIS[:5]).tolist()


def test_same_seed_same_candidates_and_n_jobs_2_agrees():
    a = NarrowingSearchCV(SVC(), SVC_SPACE, n_iter=15, random_state=3).fit(X_IRIS, Y_IRIS)
    b = NarrowingSearchCV(SVC(), SVC_SPACE, n_iter=15, random_state=3, n_jobs=2).fit(X_IRIS, Y_IRIS)
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_allclose(a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"])


def test_multi_metric_refit():
    search = NarrowingSearchCV(SVC(), SVC_SPACE, n_iter=12, random_state=0,
                               scoring=["accuracy", "f1_macro"], refit="f1_macro")
    search.fit(X_IRIS, Y_IRIS)
    res = search.cv_results_
    assert search.best_index_ == int(np.argmax(res["mean_test_f1_macro"]))
    assert search.best_score_ == res["mean_test_f1_macro"][search.best_index_]
    assert "mean_test_accuracy" in res and hasattr(search, "best_estimator_")
    no_refit = NarrowingSearchCV(SVC(), SVC_SPACE, n_iter=12, random_state=0,
                                 scoring=["accuracy", "f1_macro"], refit=False).fit(X_IRIS, Y_IRIS)
    assert not hasattr(no_refit, "best_estimator_")


class FailingClassifier(ClassifierMixin, BaseEstimator):
    """Fails to fit for ``parameter`` above 0.5; else a logistic regression."""

    def __init__(self, parameter=0.0):
        self.parameter = parameter

    def fit(self, X, y):
        if self.parameter > 0.5:
            raise ValueError("this candidate fails")
        self.model_ = LogisticRegression(max_iter=300).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_failing_candidates_get_error_score_and_the_search_goes_on():
    search = NarrowingSearchCV(FailingClassifier(), {"parameter": Real(0, 1)}, n_iter=20,
                               random_state=0, error_score=np.nan)
    with pytest.warns(FitFailedWarning):
        search.fit(X_IRIS, Y_IRIS)
    scores = search.cv_results_["mean_test_score"]
    params = np.array([p["parameter"] for p in search.cv_results_["params"]])
    assert len(scores) == 20
    assert np.isnan(scores[params > 0.5]).all() and np.isfinite(scores[params <= 0.5]).all()
    assert search.best_params_["parameter"] <= 0.5
    with pytest.raises(ValueError, match="this candidate fails"):
        NarrowingSearchCV(FailingClassifier(), {"parameter": [0.9]}, n_iter=2,
                          error_score="raise").fit(X_IRIS, Y_IRIS)


def test_pipeline_parameters_and_unknown_names():
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    search = NarrowingSearchCV(pipe, {"logisticregression__C": loguniform(1e-3, 1e2)},
                               n_iter=8, random_state=0).fit(X_IRIS, Y_IRIS)
    assert search.best_score_ > 0.9
    with pytest.raises(ValueError, match="names 'logisticregression__D', which Pipeline does not take. "
                                         "Did you mean 'logisticregression__C'"):
        NarrowingSearchCV(pipe, {"logisticregression__D": [1, 2]}, n_iter=2).fit(X_IRIS, Y_IRIS)


@pytest.mark.parametrize("params, message", [
    ({"n_iter": 0}, "The 'n_iter' parameter of NarrowingSearchCV must be an int in the range "
                    r"\[1, inf\). Got 0"),
    ({"n_iter": "ten"}, "The 'n_iter' parameter of NarrowingSearchCV must be an int"),
    ({"factor": 0.5}, "The 'factor' parameter of NarrowingSearchCV must be a float in the range "
                      r"\(1.0, inf\). Got 0.5"),
    ({"keep": 2.0}, "The 'keep' parameter .* Got 2.0"),
    ({"policy": "bok"}, "The 'policy' parameter .* among .*'book'"),
    ({"model": "yes"}, "The 'model' parameter of NarrowingSearchCV must be an instance of 'bool'"),
    ({"study": 3}, "The 'study' parameter .* must be an instance of 'str' or None. Got 3"),
    ({"time_budget": -1}, "The 'time_budget' parameter"),
    ({"param_distributions": {"C": []}}, "empty"),
    ({"param_distributions": {"parameter": "0.1"}}, "expected a list of values"),
])
def test_bad_arguments_fail_before_training(params, message):
    estimator = FailingClassifier(parameter=2.0)  # would fail loudly if any fit ran
    search = NarrowingSearchCV(estimator, {"parameter": [0.1]}, error_score="raise")
    with pytest.raises(ValueError, match=message):
        search.set_params(**params).fit(X_IRIS, Y_IRIS)


def test_searches_pass_scikit_learns_parameter_validation_check():
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation("NarrowingSearchCV", NarrowingSearchCV(LogisticRegression(), {"C": [1.0]}))
    check_param_validation("GuidedSearchCV", GuidedSearchCV(LogisticRegression(), {"C": [1.0]}))


def test_clone_round_trip():
    search = NarrowingSearchCV(SVC(), SVC_SPACE, n_iter=7, round_size=3, random_state=1)
    assert clone(search).get_params()["round_size"] == 3


def test_the_model_s_candidates_are_marked_and_model_false_has_none():
    from skhp.search.narrowing import _MODEL

    space = {"C": Real(1e-2, 1e3, log=True), "gamma": Real(1e-4, 1e1, log=True),
             "kernel": ["rbf", "sigmoid"]}
    search = NarrowingSearchCV(SVC(), space, n_iter=40, random_state=0).fit(X_IRIS, Y_IRIS)
    sources = list(search.cv_results_["space"])
    assert _MODEL in sources
    for i in (i for i, s in enumerate(sources) if s == _MODEL):  # kernel: the best one's
        earlier = search.cv_results_["param_kernel"][:i]
        assert search.cv_results_["param_kernel"][i] in set(earlier)
    off = clone(search).set_params(model=False).fit(X_IRIS, Y_IRIS)
    assert off.get_params()["model"] is False and _MODEL not in list(off.cv_results_["space"])


def test_guided_search_on_a_scikit_learn_estimator():
    search = GuidedSearchCV(SGDClassifier(random_state=0), {"alpha": Real(1e-6, 1.0, log=True)},
                            start={"alpha": 1e-4})
    search.fit(X_IRIS, Y_IRIS)
    assert (search.trace_[0].action, search.trace_[0].chosen) == ("start", {"alpha": 1e-4})
    assert search.trace_[-1].action == "done"
    assert set(search.cv_results_["step"]) == {"start", "coarse alpha", "fine alpha"}
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])


@pytest.mark.slow
def test_guided_search_runs_the_recipe_on_an_skhp_estimator():
    X, y = load_digits(return_X_y=True)
    X, y = X[:360] / 16, y[:360]
    est = KerasClassifier(hidden_layer_sizes=(16,), epochs=3, warmup=1, random_state=0)
    space = {"learning_rate": Real(1e-4, 1e-1, log=True), "batch_size": Integer(8, 128, base=2),
             "schedule": ["constant", "ramp"]}
    search = GuidedSearchCV(est, space, cv=2, n_iter=18,
                            scoring=["neg_log_loss", "accuracy"], refit="neg_log_loss").fit(X, y)
    start = search.trace_[0]
    assert start.chosen == {"learning_rate": 0.001, "batch_size": 32, "schedule": "constant"}
    coarse = [d for d in search.trace_ if d.action == "coarse"]
    assert coarse[0].tried == (1e-4, 1e-3, 1e-2)
    assert [d.action for d in search.trace_ if d.name == "batch_size"][0] == "double"
    # the book's floor: batch sizes never go below 32 although the space starts at 8
    assert min(p["batch_size"] for p in search.cv_results_["params"]) >= 32
    (probe,) = [d for d in search.trace_ if d.action == "probe"]
    stopped, drop = probe.tried[0], probe.chosen
    assert stopped <= 3  # the candidate's own epochs
    assert drop == min(max(stopped - 5 - 1, 1), 3 - 1 - 1)  # 5 before its stop, after warm-up
    ramp = [p for p in search.cv_results_["params"] if p.get("schedule") == "ramp"]
    assert ramp and all(p["schedule__drop_epochs"] == [drop] for p in ramp)
    assert len(search.cv_results_["params"]) <= 18
    losses = search.cv_results_["mean_test_neg_log_loss"]
    assert search.best_index_ == int(np.nanargmax(losses))  # the refit metric decides


@pytest.mark.slow
def test_halving_search_with_epochs_as_the_resource():
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    X, y = load_digits(return_X_y=True)
    search = HalvingRandomSearchCV(
        KerasClassifier(hidden_layer_sizes=(16,), random_state=0),
        {"learning_rate": loguniform(1e-4, 1e-1)}, resource="epochs", min_resources=1,
        max_resources=3, factor=3, n_candidates=3, cv=2, random_state=0,
    ).fit(X[:300] / 16, y[:300])
    assert list(search.n_resources_) == [1, 3]
    assert search.best_estimator_.epochs == 3 and len(search.best_estimator_.history_["loss"]) == 3


@pytest.mark.parametrize("space, message", [
    ({"lerning_rate": [0.1, 0.01]}, "names 'lerning_rate', which KerasClassifier does not take. "
                                    "Did you mean 'learning_rate'?"),
    ({"optimizer__epsilom": [1e-7]}, "optimizer Adam takes no argument 'epsilom'. Did you mean 'epsilon'"),
    ({"model__units": [4, 8]}, "model__ parameters go to a builder function"),
])
def test_misspelled_names_in_a_space_are_refused_before_training(space, message):
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=1)
    for search in (NarrowingSearchCV(est, space, n_iter=2), GuidedSearchCV(est, space, n_iter=2)):
        with pytest.raises(ValueError, match=message):
            search.fit(X_IRIS, Y_IRIS)
        assert not hasattr(search, "cv_results_")


def test_check_space_names_works_for_any_estimator_and_pipelines():
    from skhp.search import check_space_names

    with pytest.raises(ValueError, match="names 'gama', which SVC does not take. Did you mean 'gamma'"):
        check_space_names(SVC(), {"gama": [1.0]})
    pipe = make_pipeline(StandardScaler(), KerasClassifier())
    check_space_names(pipe, {"kerasclassifier__schedule__alpha": [0.1], "kerasclassifier__epochs": [1]})
    with pytest.raises(ValueError, match="nesterof"):
        check_space_names(pipe, {"kerasclassifier__optimizer__nesterof": [True]})


def test_random_and_grid_searches_take_the_same_path_with_storage(tmp_path):
    from skhp.search import RandomSearchCV, SpaceGridSearchCV

    db = f"sqlite:///{tmp_path / 'rg.db'}"
    space = {"C": Real(1e-2, 1e2, log=True), "kernel": ["rbf", "linear"]}
    random = RandomSearchCV(SVC(), space, n_iter=6, round_size=2, random_state=0, storage=db,
                            study="random").fit(X_IRIS, Y_IRIS)
    assert random.cv_results_["round"].tolist() == [0, 0, 1, 1, 2, 2]
    again = RandomSearchCV(SVC(), space, n_iter=8, round_size=2, random_state=0, storage=db,
                           study="random").fit(X_IRIS, Y_IRIS)
    assert again.n_trials_replayed_ == 6 and again.cv_results_["params"][:6] == random.cv_results_["params"]
    grid = SpaceGridSearchCV(SVC(), space, n_iter=8, storage=db, study="grid").fit(X_IRIS, Y_IRIS)
    assert len(grid.cv_results_["params"]) == 8  # 4 values of C x 2 kernels: the grid fits n_iter
    assert sorted({p["kernel"] for p in grid.cv_results_["params"]}) == ["linear", "rbf"]


def test_searches_take_a_list_of_dicts_as_scikit_learn_does():
    from skhp.search import RandomSearchCV, SpaceGridSearchCV

    space = [{"kernel": ["rbf"], "gamma": Real(1e-3, 1.0, log=True)},
             {"kernel": ["linear"], "C": Real(0.1, 10.0, log=True)}]
    for search in (NarrowingSearchCV(SVC(), space, n_iter=16, random_state=0),
                   RandomSearchCV(SVC(), space, n_iter=8, random_state=0),
                   SpaceGridSearchCV(SVC(), space, n_iter=8)):
        search.fit(X_IRIS, Y_IRIS)
        kinds = {frozenset(p) for p in search.cv_results_["params"]}
        assert kinds == {frozenset({"kernel", "gamma"}), frozenset({"kernel", "C"})}, type(search)
        assert search.best_score_ > 0.9
    with pytest.raises(ValueError, match="the guided recipe tunes one space"):
        GuidedSearchCV(SVC(), space).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="names 'gama'"):
        NarrowingSearchCV(SVC(), [{"C": [1.0]}, {"gama": [1.0]}], n_iter=2).fit(X_IRIS, Y_IRIS)


def test_a_fit_s_round_state_lives_in_one_evaluator_that_ends_with_the_fit(tmp_path):
    X, y = load_iris(return_X_y=True)
    seen = []

    def progress(results):  # called between rounds, while the fit runs
        seen.append((type(search._rounds).__name__, search.__getstate__()))

    search = NarrowingSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=3, random_state=0),
                               {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=4, cv=2,
                               round_size=2, pruning="halving", random_state=0, progress=progress,
                               storage=f"sqlite:///{tmp_path / 'trials.db'}")
    search.fit(X, y)
    assert seen and {name for name, _ in seen} == {"RoundEvaluator"}
    assert all("_rounds" not in state for _, state in seen)  # pickles leave it (and the data) out
    left = {name for name in vars(search) if name.startswith("_") and not name.startswith("__")}
    assert not left & {"_rounds", "_data", "_templates", "_rung_record", "_extras", "_round_rungs",
                       "_rule", "_round_numbers", "_store", "_cluster"}
    assert set(search.cv_results_["packing"]) == {"packed"} and any(search.cv_results_["pruned"])


def test_the_guided_recipe_decides_by_validation_loss_by_default():
    X, y = load_iris(return_X_y=True)
    space = {"C": Real(1e-3, 1e3, log=True)}
    search = GuidedSearchCV(LogisticRegression(max_iter=500), space, cv=3).fit(X, y)
    losses = search.cv_results_["mean_test_score"]
    assert (losses < 0).all()  # neg_log_loss, not accuracy
    assert search.best_score_ == max(losses)
    assert search.score(X, y) < 0
    chosen = GuidedSearchCV(LogisticRegression(max_iter=500), space, cv=3,
                            scoring="accuracy").fit(X, y)
    assert (chosen.cv_results_["mean_test_score"] > 0).all()  # a set scoring is the scoring
    regression = GuidedSearchCV(SVC(), {"C": Real(0.1, 10, log=True)}, cv=3)  # no predict_proba
    assert (regression.fit(X, y).cv_results_["mean_test_score"] > 0).all()


def test_the_ramp_drops_five_epochs_before_the_candidates_own_stop(monkeypatch):
    X, y = load_iris(return_X_y=True)
    est = KerasClassifier(hidden_layer_sizes=(4,), epochs=20, warmup=2, random_state=0)
    search = GuidedSearchCV(est, {"schedule": ["constant", "ramp"]}, cv=2, n_iter=3)
    probes = []

    def probe(params):  # stopped at epoch 14 of 20, its best at 12
        probes.append(params)
        return {"best_epoch": 12, "losses": [1.0] * 14}

    monkeypatch.setattr(search, "_run_probe", probe)
    search.fit(X, y)
    assert probes[0]["epochs"] == 20 and probes[0]["early_stopping"] == 2
    ramp = [p for p in search.cv_results_["params"] if p.get("schedule") == "ramp"]
    assert ramp and ramp[0]["schedule__drop_epochs"] == [14 - 5 - 2]


def test_a_plain_scikit_learn_search_beside_an_skhp_one_gets_its_own_scores():
    import threading

    from sklearn.model_selection import GridSearchCV as Plain
    from sklearn.model_selection import ParameterGrid

    from skhp.search._sklearn import evaluating, fold_key

    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1.0]}
    # what an skhp search on this data would have registered for these very candidates
    known = {fold_key(p, k): {"test_scores": 0.123, "fit_time": 0.0, "score_time": 0.0,
                              "fit_error": None} for p in ParameterGrid(grid) for k in range(3)}
    beside = {}

    def plain():
        search = Plain(LogisticRegression(max_iter=500), grid, cv=3).fit(X, y)
        beside["scores"] = search.cv_results_["mean_test_score"]

    with evaluating(known, X, y):
        thread = threading.Thread(target=plain)
        thread.start()
        thread.join()
    alone = Plain(LogisticRegression(max_iter=500), grid, cv=3).fit(X, y).cv_results_
    np.testing.assert_array_equal(beside["scores"], alone["mean_test_score"])
    assert not np.isclose(beside["scores"], 0.123).any()
