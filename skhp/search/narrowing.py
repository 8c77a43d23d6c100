"""NarrowingSearchCV: random search that narrows around the best candidates."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from skhp.search._base import OracleSearchCV
from skhp.search._oracle import NarrowingOracle
from skhp.search._space import Space

__all__ = ["NarrowingSearchCV"]


class NarrowingSearchCV(OracleSearchCV):
    """Cross-validated narrowing random search over hyperparameters.

    Random candidates over the whole space first, then rounds drawn from the
    space narrowed around the best candidate (``[x / 2, 2 x]`` for log-scale
    ranges such as a learning rate, neighbouring values of an ordered choice,
    the best unordered choice kept with probability ``keep``), narrowing
    further while no round improves, widening again while rounds improve, and
    starting over on the whole space once a narrowing has converged or
    ``patience`` candidates bring no improvement. See
    :class:`skhp.search.NarrowingOracle` for the strategy itself.

    Used exactly like ``RandomizedSearchCV``; works with any scikit-learn
    estimator.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune.
    param_distributions : dict or Space
        Parameter name to a :class:`Real`, :class:`Integer`, :class:`Choice`,
        a list of values or a scipy.stats distribution (``loguniform``,
        ``uniform`` and ``randint`` become ranges that can narrow).
    n_iter : int, default=30
        Number of candidates in all.
    n_initial : int or None, default=None
        Candidates of each whole-space round; None means ``2 * round_size``.
    round_size : int, default=5
        Candidates per narrowed round (one call of ``evaluate_candidates``,
        run in parallel with ``n_jobs``).
    factor : float, default=2.0
        Size of the first neighbourhood: ``[x / factor, x * factor]``.
    policy : {"trust-region", "book"}, default="trust-region"
        How the neighbourhood adapts. ``"book"``: an improving round narrows
        further around the new best, ``patience`` candidates without
        improvement go back to the whole space. ``"trust-region"``: an
        improving round re-centres and widens (``grow``), a round without
        improvement narrows further (``shrink``), a converged neighbourhood
        goes back to the whole space.
    shrink : float, default=0.5
        Neighbourhood size multiplier when narrowing further.
    grow : float, default=2.0
        ``"trust-region"``: size multiplier after an improving round (capped
        at the first neighbourhood's size).
    patience : int or None, default=None
        Candidates without improvement before starting over on the whole
        space; None means ``2 * round_size`` for ``"book"`` and waiting until
        the neighbourhood has converged for ``"trust-region"``.
    min_scale : float, default=1e-2
        Neighbourhood size (relative to the first) at which a narrowing has converged.
    keep : float, default=0.7
        Probability of the best value of an unordered choice in a narrowed round.
    random_state : int or None, default=None
        Seed of the draws; a fixed value makes the search reproducible.
    time_budget : float or None, default=None
        Seconds after which no new round starts (the running one finishes);
        None: only ``n_iter`` limits the search.
    storage : str, TrialStore or None, default=None
        ``"sqlite:///path.db"`` (or a path): write every finished candidate
        there and, when the search runs again, replay the stored ones instead
        of training them (see :mod:`skhp.storage`).
    study : str or None, default=None
        Name of this search in ``storage`` (None: ``"default"``); a store's
        study written by a different search is refused.
    progress : callable or None, default=None
        Called as ``progress(results)`` with the ``cv_results_`` so far
        after every evaluated candidate (the ``skhp`` command draws its
        progress bar with it).
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``RandomizedSearchCV``.

    Attributes
    ----------
    cv_results_ : dict of arrays
        As in ``RandomizedSearchCV``, with ``round``, ``step`` (``"explore"``,
        ``"narrow"`` or ``"restart"``) and ``space`` (the space the candidate
        was drawn from, as text).
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, multimetric_
        As in ``RandomizedSearchCV``.
    n_trials_replayed_ : int
        Candidates taken from ``storage`` instead of being trained again.
    search_history_ : list of dict
        One entry per round: number, step, space, candidates, best score so
        far and whether the round improved it.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhp.search import NarrowingSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = NarrowingSearchCV(LogisticRegression(max_iter=500),
    ...                            {"C": loguniform(1e-4, 1e2)}, n_iter=15, random_state=0)
    >>> bool(search.fit(X, y).best_score_ > 0.95)
    True
    >>> [h["step"] for h in search.search_history_]
    ['explore', 'narrow']
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_distributions": [dict, Space],
        "n_initial": [Interval(Integral, 1, None, closed="left"), None],
        "round_size": [Interval(Integral, 1, None, closed="left")],
        "factor": [Interval(Real, 1, None, closed="neither")],
        "policy": [StrOptions(set(NarrowingOracle.POLICIES))],
        "shrink": [Interval(Real, 0, 1, closed="neither")],
        "grow": [Interval(Real, 0, 2, closed="right")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "min_scale": [Interval(Real, 0, 1, closed="neither")],
        "keep": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, param_distributions, *, n_iter=30, n_initial=None,
                 round_size=5, factor=2.0, policy="trust-region", shrink=0.5, grow=2.0, patience=None,
                 min_scale=1e-2, keep=0.7, random_state=None, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs",
                 error_score=np.nan, return_train_score=False, time_budget=None, storage=None,
                 study=None, progress=None):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress)
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.n_initial = n_initial
        self.round_size = round_size
        self.factor = factor
        self.policy = policy
        self.shrink = shrink
        self.grow = grow
        self.patience = patience
        self.min_scale = min_scale
        self.keep = keep
        self.random_state = random_state

    _space_parameter = "param_distributions"

    def _search_space(self):
        return Space(self.param_distributions)

    def _make_oracle(self, space):
        return NarrowingOracle(
            space, max_trials=self.n_iter, n_initial=self.n_initial,
            round_size=self.round_size, factor=self.factor, policy=self.policy, shrink=self.shrink,
            grow=self.grow, patience=self.patience, min_scale=self.min_scale,
            keep=self.keep, seed=self.random_state,
        )
