"""Valid inputs that skhp's searches once misread or crashed on: sparse X, DataFrames,
threads, protocols, rules that could not apply, reports without refit."""

import os
import pathlib
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.model_selection import GridSearchCV as SklearnGridSearchCV
from sklearn.model_selection import _search
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skhp.reports
from skhp import KerasClassifier
from skhp.search import GridSearchCV, NarrowingSearchCV, Real
from skhp.search._sklearn import Candidate, evaluating, fold_key
from skhp.search.pruning import SuccessiveHalving


def small(**params):
    return KerasClassifier(**{**dict(hidden_layer_sizes=(8,), epochs=2, random_state=0), **params})


@pytest.mark.parametrize("pack_size", ["auto", 4])
@pytest.mark.parametrize("kind", [sparse.csr_matrix, sparse.csc_matrix])
def test_sparse_x_in_packed_searches(iris, kind, pack_size):
    X, y = iris
    search = GridSearchCV(small(), {"learning_rate": [1e-3, 1e-2]}, cv=2,
                          pack_size=pack_size).fit(kind(X), y)
    assert search.packing_ == ["packed", "packed"]
    dense = GridSearchCV(small(), {"learning_rate": [1e-3, 1e-2]}, cv=2,
                         pack_size=pack_size).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               dense.cv_results_["mean_test_score"])
    narrowing = NarrowingSearchCV(small(), {"learning_rate": Real(1e-3, 1e-1, log=True)},
                                  n_iter=4, n_initial=2, round_size=2, cv=2,
                                  random_state=0).fit(kind(X), y)
    assert np.isfinite(narrowing.cv_results_["mean_test_score"]).all()


def test_a_pandas_pipeline_keeps_its_feature_names(iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    pipe = make_pipeline(StandardScaler(), small()).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "X has feature names, but ... fitted without"
        search = GridSearchCV(pipe, {"kerasclassifier__learning_rate": [1e-3, 1e-2]}, cv=2,
                              ).fit(frame, y)
        search.predict(frame)
    assert search.packing_ == ["packed", "packed"]
    assert list(search.best_estimator_[-1].feature_names_in_) == list(frame.columns)


def test_two_searches_in_two_threads_keep_their_own_known_results():
    """Each thread's evaluating() block sees only its own data's known results."""
    X_a, y_a = np.arange(12.0).reshape(6, 2), np.array([0, 1] * 3)
    X_b, y_b = X_a[::-1].copy(), y_a[::-1].copy()
    params, train, test = {"learning_rate": 0.1}, np.arange(3), np.arange(3, 6)
    known_a = {fold_key(params, 0): {"test_scores": 0.25, "fit_time": 0.0}}
    known_b = {fold_key(params, 0): {"test_scores": 0.75, "fit_time": 0.0}}
    both_inside, seen = threading.Barrier(2), {}

    def run(name, known, X, y):
        with evaluating(known, X, y):
            both_inside.wait(timeout=10)  # the other thread's block is open too
            seen[name] = _search._fit_and_score(
                None, X, y, parameters=Candidate(params), split_progress=(0, 2),
                candidate_progress=(0, 1),
                train=train, test=test)["test_scores"]
            both_inside.wait(timeout=10)

    threads = [threading.Thread(target=run, args=a) for a in
               (("a", known_a, X_a, y_a), ("b", known_b, X_b, y_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": 0.25, "b": 0.75}


def test_searches_fitted_in_threads_each_train(iris):
    X, y = iris
    errors, searches = [], {}

    def run(name, X):
        try:
            searches[name] = GridSearchCV(small(), {"learning_rate": [1e-3, 1e-2]}, cv=2).fit(X, y)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n, X * s)) for n, s in (("a", 1.0), ("b", -1.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors  # two fits' models built at once no longer share layer names
    assert sorted(searches) == ["a", "b"]


def test_n_jobs_2_sends_nothing_to_workers_when_every_fold_packed(iris, monkeypatch):
    X, y = iris
    calls = []
    original = _search._fit_and_score
    monkeypatch.setattr(_search, "_fit_and_score",
                        lambda *a, **k: calls.append(os.getpid()) or original(*a, **k))
    search = GridSearchCV(small(), {"learning_rate": [1e-3, 1e-2]}, cv=2, n_jobs=2).fit(X, y)
    assert search.packing_ == ["packed", "packed"]
    assert calls == [os.getpid()] * 4  # all four folds answered in this process


def test_a_subclass_of_skhp_grid_search(iris):
    X, y = iris

    class Mine(GridSearchCV):
        pass

    search = Mine(small(), {"learning_rate": [1e-3, 1e-2]}, cv=2).fit(X, y)  # recursed forever
    assert search.packing_ == ["packed", "packed"]


def test_storage_as_a_path_object(iris, tmp_path):
    X, y = iris
    path = pathlib.Path(tmp_path) / "trials.db"
    search = NarrowingSearchCV(small(), {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=2,
                               n_initial=2, round_size=2, cv=2, random_state=0, storage=path)
    search.fit(X, y)
    assert path.exists()
    again = NarrowingSearchCV(small(), {"learning_rate": Real(1e-3, 1e-1, log=True)}, n_iter=2,
                              n_initial=2, round_size=2, cv=2, random_state=0,
                              storage=path).fit(X, y)
    assert again.packing_ == ["replayed", "replayed"]


class KeepTheBest:
    """A pruning rule of a user's: two rungs, the best candidate goes on."""

    def rungs(self, epochs):
        return [1, epochs]

    def survivors(self, scores, rung, record=None):
        return [max(scores, key=scores.get)]


def test_a_users_pruning_rule(iris):
    X, y = iris
    search = NarrowingSearchCV(small(epochs=3), {"learning_rate": Real(1e-3, 1e-1, log=True)},
                               n_iter=4, n_initial=4, round_size=4, cv=2, random_state=0,
                               pruning=KeepTheBest()).fit(X, y)
    assert sum(search.cv_results_["pruned"]) == 3
    with pytest.raises(ValueError, match="implementing .rungs. and .survivors."):
        NarrowingSearchCV(small(), {"learning_rate": [1e-3]}, pruning=object()).fit(X, y)


def test_pruning_that_cannot_prune_says_so(iris):
    X, y = iris
    search = NarrowingSearchCV(small(epochs=1), {"learning_rate": Real(1e-3, 1e-1, log=True)},
                               n_iter=2, n_initial=2, round_size=2, cv=2, random_state=0,
                               pruning="halving")
    with pytest.warns(UserWarning, match=r"prunes nothing here: candidates train for epochs=1"):
        search.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        search.set_params(estimator=small(epochs=3), pruning=SuccessiveHalving()).fit(X, y)


def test_reports_of_a_multi_metric_search_without_refit(iris, tmp_path):
    X, y = iris
    from sklearn.svm import SVC

    search = SklearnGridSearchCV(SVC(), {"C": [0.01, 1.0, 10.0]}, cv=3, refit=False,
                                 scoring=["accuracy", "f1_macro"]).fit(X, y)
    written = skhp.reports.write(search, str(tmp_path))
    assert "report.html" in {os.path.basename(p) for p in written}
    best = np.argmax(search.cv_results_["mean_test_accuracy"])
    summary = (tmp_path / "summary.md").read_text()
    assert f"(trial {best})" in summary


def test_an_error_of_the_estimators_own_settings_is_not_blamed_on_a_searched_name():
    X, y = np.random.default_rng(0).normal(size=(30, 4)), np.arange(30) % 2
    est = KerasClassifier(epochs=1, optimizer__centered=True)  # Adam takes no "centered"
    with pytest.raises(ValueError, match="candidate .* is refused: optimizer__centered") as info:
        GridSearchCV(est, {"optimizer__beta_1": [0.8, 0.9]}, cv=2).fit(X, y)
    assert "search space names" not in str(info.value)
    # a searched name that is itself wrong is still named
    with pytest.raises(ValueError, match="search space names 'optimizer__beta_one'"):
        GridSearchCV(KerasClassifier(epochs=1), {"optimizer__beta_one": [0.8]}, cv=2).fit(X, y)
