"""Random search: the strategy (RandomOracle) and its cross-validated search (RandomSearchCV)."""

from numbers import Integral

import numpy as np

from skhp._sklearn import Interval
from skhp._validation import check_number
from skhp.search._base import OracleSearchCV
from skhp.search._oracle import Proposal, Oracle
from skhp.search._space import Space, SpaceUnion, as_space

__all__ = ["RandomOracle", "RandomSearchCV"]


class RandomOracle(Oracle):
    """Points drawn at random from the whole space (``RandomizedSearchCV``'s strategy).

    Parameters
    ----------
    space : Space or dict
        What to search over (see :class:`skhp.search.Space`).
    max_trials : int
        Number of points in all.
    batch : int or None, default=None
        Points per proposal; None proposes them all at once.
    seed : int or None, default=None
        Seed of the draws.

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = RandomOracle({"x": Real(-1, 1)}, max_trials=4, seed=0)
    >>> proposal = oracle.ask()
    >>> len(proposal.points)
    4
    >>> oracle.tell([-p["x"] ** 2 for p in proposal.points]); oracle.ask() is None
    True
    """

    def __init__(self, space, max_trials, batch=None, seed=None):
        super().__init__(space, max_trials, seed)
        self.batch = max_trials if batch is None else check_number(batch, "batch", low=1, integer=True)

    def _propose(self, remaining):
        return Proposal(self._draw(self.space, min(self.batch, remaining)), 0, self.space, "random")


class RandomSearchCV(OracleSearchCV):
    """Cross-validated random search, with skhp's storage, time budget and progress.

    The candidates of scikit-learn's ``RandomizedSearchCV``, drawn from a
    :class:`skhp.search.Space` (ranges, choices, scipy distributions) in rounds
    of ``round_size``: each round is one parallel evaluation (candidates x
    folds over ``n_jobs``), stored when ``storage`` is set, and
    ``time_budget`` is checked between rounds.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune.
    param_distributions : dict or Space
        As for :class:`NarrowingSearchCV`.
    n_iter : int, default=30
        Number of candidates.
    round_size : int or None, default=None
        Candidates per round; None draws them all in one round.
    random_state : int, RandomState or None, default=None
        Seed of the draws.
    time_budget, storage, study, progress, pruning, packing, pack_size
        As for :class:`NarrowingSearchCV`.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``RandomizedSearchCV``.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, multimetric_
        As in ``RandomizedSearchCV``, with ``round``, ``step`` and ``space``.
    n_trials_replayed_ : int
        Candidates taken from ``storage`` instead of being trained again.
    search_history_ : list of dict
        One entry per round.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.svm import SVC
    >>> from skhp.search import RandomSearchCV, Real
    >>> X, y = load_iris(return_X_y=True)
    >>> search = RandomSearchCV(SVC(), {"C": Real(1e-2, 1e2, log=True)}, n_iter=6,
    ...                         round_size=3, random_state=0).fit(X, y)
    >>> len(search.cv_results_["params"]), search.cv_results_["round"].tolist()
    (6, [0, 0, 0, 1, 1, 1])
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_distributions": [dict, list, Space, SpaceUnion],
        "round_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }
    _space_parameter = "param_distributions"

    def __init__(self, estimator, param_distributions, *, n_iter=30, round_size=None,
                 random_state=None, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False,
                 time_budget=None, storage=None, study=None, progress=None,
                 pruning=None, packing="auto", pack_size="auto"):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress, pruning=pruning, packing=packing,
                         pack_size=pack_size)
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.round_size = round_size
        self.random_state = random_state

    def _search_space(self):
        return as_space(self.param_distributions)

    def _make_oracle(self, space):
        return RandomOracle(space, max_trials=self.n_iter, batch=self.round_size,
                            seed=self.random_state)
