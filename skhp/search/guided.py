"""GuidedSearchCV: the manual tuning recipe of an expert, automated."""

import numbers

import numpy as np
from sklearn.base import clone

from skhp.search._base import OracleSearchCV
from skhp.search._oracle import Decision, GuidedOracle
from skhp.search._space import Choice, Integer, Real, Space

__all__ = ["GuidedSearchCV"]

#: The space searched when none is given (for skhp estimators).
DEFAULT_SPACE = {
    "learning_rate": Real(1e-5, 1.0, log=True),
    "batch_size": Integer(8, 4096, base=2),
    "schedule": Choice(["constant", "cosine", "ramp"]),
}


class GuidedSearchCV(OracleSearchCV):
    """Cross-validated search that follows the manual tuning recipe, step by step.

    With the default space (for skhp estimators) the steps are:

    1. coarse learning rate, batch size fixed (the estimator's, else 32 below
       50,000 samples and 256 above): try the centre (the estimator's
       learning rate, 1e-3 by default) and one decade either side; if a side
       wins, move the centre half-way towards it (1e-3 and 1e-2 give 5e-3) and
       try a decade either side of it; repeat until the centre is best;
    2. batch size: double it from the book's floor (32 → 64 → 128 ...) while
       the score improves; keep the last good one (it never halves below the
       floor unless the plan says ``("batch_size", "walk")``);
    3. fine learning rate: step 1 again around the coarse one, with steps of 2;
    4. schedule: cosine annealing against the current schedule, kept if it
       clearly helps; else a ramp whose drop sits a few epochs (up to 5) before
       the best epoch of a run to the plateau with early stopping (patience 2),
       shifted by the warm-up epochs.

    Each step starts from the best candidate so far. Any space can be given
    instead, for any scikit-learn estimator: ranges get steps 1 and 3,
    integers and ordered choices step 2, unordered choices step 4 (see
    :class:`skhp.search.GuidedOracle`). The recipe's decision rule (lowest
    validation loss, accuracy breaking ties) is
    ``scoring=["neg_log_loss", "accuracy"], refit="neg_log_loss"``: the refit
    metric decides and the others break ties.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune.
    param_space : dict, Space or None, default=None
        What to search over (as ``param_distributions`` of
        :class:`NarrowingSearchCV`); None is :data:`DEFAULT_SPACE`.
    start : dict or None, default=None
        Starting values; by default the estimator's own values where they lie
        in the space, else the middle of each range.
    plan : list of (str, str) or None, default=None
        The steps as ``(parameter, action)`` pairs, actions ``"coarse"``,
        ``"fine"``, ``"double"``, ``"walk"``, ``"choose"``, ``"schedule"``
        (see :class:`skhp.search.GuidedOracle`); None derives the recipe.
    n_iter : int, default=60
        Most candidates; the recipe usually ends well before.
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
    trace_ : list of Decision
        Every decision of the recipe: its action, parameter, values tried and
        value kept, and as readable text (``str(decision)``).
    cv_results_ : dict of arrays
        As in ``RandomizedSearchCV``, with ``round``, ``step`` (e.g. ``"coarse
        learning_rate"``) and ``space``.
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, multimetric_
        As in ``RandomizedSearchCV``.
    n_trials_replayed_ : int
        Candidates taken from ``storage`` instead of being trained again.
    search_history_ : list of dict
        One entry per round of candidates.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import SGDClassifier
    >>> from skhp.search import GuidedSearchCV, Real
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GuidedSearchCV(SGDClassifier(random_state=0),
    ...                         {"alpha": Real(1e-6, 1.0, log=True)}, start={"alpha": 1e-4})
    >>> print(search.fit(X, y).trace_[1])
    coarse alpha: tried 1e-05, 0.0001, 0.001; 0.001 is better, centre moves to 0.0005
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_space": [dict, Space, None],
        "start": [dict, None],
        "plan": [list, None],
    }

    def __init__(self, estimator, param_space=None, *, start=None, plan=None, n_iter=60,
                 scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False,
                 time_budget=None, storage=None,
                 study=None, progress=None):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress)
        self.param_space = param_space
        self.start = start
        self.plan = plan
        self.n_iter = n_iter

    def fit(self, X, y=None, **params):
        """Run the recipe with cross-validation, then refit the best candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets.
        **params : dict
            Passed on as in ``RandomizedSearchCV.fit``.

        Returns
        -------
        self : GuidedSearchCV
        """
        self._data = (X, y, params)
        try:
            return super().fit(X, y, **params)
        finally:
            del self._data

    _space_parameter = "param_space"

    def _search_space(self):
        return Space(DEFAULT_SPACE if self.param_space is None else self.param_space)

    def _start(self, space):
        if self.start is not None:
            return dict(self.start)
        given = self.estimator.get_params()
        start = {}
        for name, dim in space.dimensions.items():
            value = given.get(name)
            if name == "batch_size" and value is None:
                # the book's floor, or the space's value nearest to it
                X = self._data[0]
                n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
                value = _nearest(dim, 32 if n_samples < 50_000 else 256)
            if name == "learning_rate" and not isinstance(value, numbers.Real):
                value = 1e-3
            if value is not None and dim.contains(value):
                start[name] = value
        return start

    def _make_oracle(self, space):
        extras = {}
        if "schedule" in space and isinstance(space["schedule"], Choice) \
                and "ramp" in space["schedule"].values:
            extras["schedule"] = {"ramp": self._ramp_at_plateau}
        oracle = GuidedOracle(space, max_trials=self.n_iter, plan=self.plan,
                              start=self._start(space), extras=extras)
        self._oracle = oracle
        return oracle

    def _ramp_at_plateau(self, point):
        """The ramp's drop epoch, from a run to the plateau with early stopping (patience 2).

        The probe may run up to four times the estimator's epochs; the drop
        sits a few epochs (up to 5) before its best epoch, counted in the
        schedule's own epochs (after warm-up), and inside the real run.
        """
        params = self.estimator.get_params()
        if "early_stopping" not in params or "epochs" not in params:
            return {}
        X, y, fit_params = self._data
        settings = {**params, **point}
        epochs, warmup = int(settings["epochs"]), int(settings.get("warmup") or 0)
        probe = clone(self.estimator).set_params(
            **{**point, "schedule": "constant", "early_stopping": 2, "epochs": 4 * epochs,
               "validation_split": settings.get("validation_split") or 0.2})
        try:
            probe.fit(X, y, **fit_params)
        except Exception as err:  # the ramp keeps its default drop
            self._oracle.trace.append(Decision(
                "probe", "schedule", (), None, False,
                f"schedule: the early-stopping run failed ({err}); the ramp keeps its default drop"))
            return {}
        losses = probe.history_.get("val_loss", probe.history_["loss"])
        plateau = int(np.argmin(losses)) + 1
        drop = plateau - min(5, plateau // 4) - warmup
        drop = int(min(max(drop, 1), max(epochs - warmup - 1, 1)))
        self._oracle.trace.append(Decision(
            "probe", "schedule", (plateau,), drop, False,
            f"schedule: a run with early stopping (patience 2) had its best epoch at "
            f"{plateau} of {len(losses)}; the ramp drops at epoch {drop} after "
            f"{warmup} warm-up epochs"))
        return {"schedule__drop_epochs": [drop]}

    def _oracle_done(self, oracle):
        self.trace_ = list(oracle.trace)
        del self._oracle


def _nearest(dim, value):
    """The value of ``dim`` (integers or an ordered choice) nearest to ``value``."""
    if isinstance(dim, Integer):
        values = dim.values() or [min(max(value, dim.low), dim.high)]
    elif isinstance(dim, Choice):
        values = [v for v in dim.values if isinstance(v, numbers.Real)] or [value]
    else:
        return value
    return min(values, key=lambda v: (abs(np.log(v / value)) if v > 0 else np.inf, v))
