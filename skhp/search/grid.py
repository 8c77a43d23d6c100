"""SpaceGridSearchCV: a regular grid over a space, sized to a budget of candidates."""

import numpy as np

from skhp.search._base import OracleSearchCV
from skhp.search._oracle import GridOracle
from skhp.search._space import Space

__all__ = ["SpaceGridSearchCV"]


class SpaceGridSearchCV(OracleSearchCV):
    """Cross-validated grid search over a space, with as many points as ``n_iter`` allows.

    Every choice is tried with every other; ranges get ``k`` evenly spaced
    values each (log-spaced on a log scale), ``k`` the largest count whose
    grid fits ``n_iter`` candidates (at least 2). The grid is one round,
    evaluated (candidates x folds over ``n_jobs``) and stored like the other
    skhp searches.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune.
    param_grid : dict or Space
        Ranges and choices (:class:`Real`, :class:`Integer`, :class:`Choice`, lists).
    n_iter : int, default=30
        Most candidates; the grid may hold fewer.
    time_budget, storage, study, progress
        As for :class:`NarrowingSearchCV`.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``GridSearchCV``.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, multimetric_
        As in ``GridSearchCV``, with ``round``, ``step`` and ``space``.
    n_trials_replayed_ : int
        Candidates taken from ``storage`` instead of being trained again.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.svm import SVC
    >>> from skhp.search import Real, SpaceGridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SpaceGridSearchCV(SVC(), {"C": Real(0.1, 10, log=True), "kernel": ["rbf", "linear"]},
    ...                            n_iter=6).fit(X, y)
    >>> sorted({p["C"] for p in search.cv_results_["params"]})
    [0.1, 1.0, 10.0]
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_grid": [dict, Space],
    }
    _space_parameter = "param_grid"

    def __init__(self, estimator, param_grid, *, n_iter=30, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", error_score=np.nan,
                 return_train_score=False, time_budget=None, storage=None, study=None,
                 progress=None):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress)
        self.param_grid = param_grid
        self.n_iter = n_iter

    def _search_space(self):
        return Space(self.param_grid)

    def _make_oracle(self, space):
        return GridOracle(space, max_trials=self.n_iter)
