"""Grid search: the strategy (GridOracle) and its cross-validated search (SpaceGridSearchCV)."""

import math

import numpy as np

from skhp.search._base import OracleSearchCV
from skhp.search._oracle import Proposal, Oracle
from skhp.search._space import Choice, Space, SpaceUnion, as_space

__all__ = ["GridOracle", "SpaceGridSearchCV"]


class GridOracle(Oracle):
    """The points of a regular grid, ``n`` values per range and every choice.

    ``n`` is the largest count whose grid fits ``max_trials``.

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = GridOracle({"x": Real(0, 1), "y": Real(0, 1)}, max_trials=9)
    >>> sorted({p["x"] for p in oracle.ask().points})
    [0.0, 0.5, 1.0]
    """

    def __init__(self, space, max_trials, seed=None):
        super().__init__(space, max_trials, seed)
        # a conditional space shares the budget equally among its spaces
        budget = max_trials / len(self.space.subspaces)
        self.n = [_values_per_range(space, budget) for space in self.space.subspaces]

    def _propose(self, remaining):
        if self.n_trials:
            return None
        points = []
        for space, n in zip(self.space.subspaces, self.n):
            axes = {name: dim.grid(n) for name, dim in space.dimensions.items()}
            mesh = np.array(np.meshgrid(*[np.arange(len(v)) for v in axes.values()], indexing="ij"))
            idx = mesh.reshape(len(axes), -1).T
            points += [{name: axes[name][i] for name, i in zip(axes, row)} for row in idx]
        return Proposal(points, 0, self.space, "grid")


def _values_per_range(space, budget):
    """The largest count of values per range whose grid (with every choice) fits ``budget``."""
    fixed = [d for d in space.dimensions.values() if isinstance(d, Choice)]
    n_fixed = int(np.prod([len(d.values) for d in fixed])) if fixed else 1
    n_ranges = len(space) - len(fixed)
    if not n_ranges:
        return 1
    return max(2, int(math.floor((budget / n_fixed) ** (1 / n_ranges) + 1e-9)))


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
    time_budget, storage, study, progress, pruning, packing, pack_size
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
        "param_grid": [dict, list, Space, SpaceUnion],
    }
    _space_parameter = "param_grid"

    def __init__(self, estimator, param_grid, *, n_iter=30, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", error_score=np.nan,
                 return_train_score=False, time_budget=None, storage=None, study=None,
                 progress=None, pruning=None, packing="auto", pack_size="auto"):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress, pruning=pruning, packing=packing,
                         pack_size=pack_size)
        self.param_grid = param_grid
        self.n_iter = n_iter

    def _search_space(self):
        return as_space(self.param_grid)

    def _make_oracle(self, space):
        return GridOracle(space, max_trials=self.n_iter)
