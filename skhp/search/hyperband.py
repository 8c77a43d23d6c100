"""Hyperband: brackets of successive halving (HyperbandOracle, HyperbandSearchCV)."""

from numbers import Integral

import numpy as np
from sklearn.base import clone

from skhp._sklearn import Interval
from skhp._validation import check_number
from skhp.search._base import OracleSearchCV
from skhp.search._oracle import Oracle, Proposal
from skhp.search._space import Space, SpaceUnion, as_space
from skhp.search.pruning import BracketHalving, hyperband_brackets

__all__ = ["HyperbandOracle", "HyperbandSearchCV", "epochs_parameter"]


class HyperbandOracle(Oracle):
    """Hyperband's candidates: one round per bracket, random points from the whole space.

    Bracket ``b`` (from the most aggressive down to 0, as KerasTuner runs
    them; see :func:`skhp.search.pruning.hyperband_brackets`) is one round
    of ``sizes[0]`` random points; :meth:`rule` gives the round's
    :class:`~skhp.search.pruning.BracketHalving`, which trains them to
    ``epochs[0]`` and lets the best ``sizes[r]`` continue to ``epochs[r]``.

    Parameters
    ----------
    space : Space or dict
    max_epochs : int
        Epochs of a candidate that reaches the last rung.
    factor : int, default=3
    iterations : int, default=1
        Times the whole set of brackets runs.
    seed : int or None

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = HyperbandOracle({"x": Real(0, 1)}, max_epochs=9, seed=0)
    >>> proposal = oracle.ask()
    >>> len(proposal.points), proposal.step, oracle.rule(proposal.round).rungs(9)
    (9, 'bracket 2', [1, 3, 9])
    """

    def __init__(self, space, max_epochs, factor=3, iterations=1, seed=None):
        self.max_epochs = check_number(max_epochs, "max_epochs", low=1, integer=True)
        self.factor = check_number(factor, "factor", low=2, integer=True)
        self.iterations = check_number(iterations, "hyperband_iterations", low=1, integer=True)
        self.brackets = hyperband_brackets(self.max_epochs, self.factor) * self.iterations
        super().__init__(space, sum(b["sizes"][0] for b in self.brackets), seed)

    def rule(self, round):
        """The halving rule of round ``round`` (its bracket's rungs and survivors)."""
        bracket = self.brackets[round]
        return BracketHalving(bracket["epochs"], bracket["sizes"][1:])

    def _propose(self, remaining):
        if self._round >= len(self.brackets):
            return None
        bracket = self.brackets[self._round]
        points = self._draw(self.space, min(bracket["sizes"][0], remaining))
        return Proposal(points, 0, self.space, f"bracket {bracket['bracket']}")


def epochs_parameter(estimator):
    """The name of the ``epochs`` parameter of the skhp estimator in ``estimator`` (also in a pipeline).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhp import KerasClassifier
    >>> epochs_parameter(make_pipeline(StandardScaler(), KerasClassifier()))
    'kerasclassifier__epochs'
    """
    names = [k for k in estimator.get_params(deep=True)
             if (k == "epochs" or k.endswith("__epochs")) and not k.endswith("fit__epochs")]
    if len(names) != 1:
        raise ValueError(
            f"HyperbandSearchCV trains an estimator with one 'epochs' parameter (an skhp "
            f"estimator, also inside a pipeline); {type(estimator).__name__} has "
            f"{names or 'none'}.")
    return names[0]


class HyperbandSearchCV(OracleSearchCV):
    """Cross-validated Hyperband: brackets of successive halving on continued training.

    Li et al.'s Hyperband as KerasTuner runs it (same brackets for the same
    ``max_epochs`` and ``factor``; see
    :func:`skhp.search.pruning.hyperband_brackets`): each bracket is one
    round of random candidates from ``param_distributions``, trained on every
    CV fold to the bracket's first rung; the best (mean CV score) continue
    their training — from their weights and optimizer state — to the next
    rung, the rest are pruned (NaN scores, ``pruned`` in ``cv_results_``).
    Every bracket ends at ``max_epochs``; the best candidate that got there
    is refit.

    Parameters
    ----------
    estimator : estimator object
        An skhp estimator, or a pipeline ending in one.
    param_distributions : dict or Space
        As for :class:`NarrowingSearchCV`.
    max_epochs : int or None, default=None
        Epochs of a candidate at the last rung; None: the estimator's
        ``epochs``. Set as the estimator's ``epochs`` in every candidate, so
        that learning-rate schedules span the whole fit.
    factor : int, default=3
        η: rungs grow and candidates shrink by this factor.
    hyperband_iterations : int, default=1
        Times the whole set of brackets runs.
    random_state : int, RandomState or None, default=None
    time_budget, storage, study, progress, packing, pack_size
        As for :class:`NarrowingSearchCV`.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``RandomizedSearchCV``.

    Attributes
    ----------
    cv_results_ : dict of arrays
        As in ``RandomizedSearchCV``, with ``round``, ``step`` (``"bracket
        b"``), ``space``, ``epochs_trained``, ``pruned`` and ``rung_scores``.
    search_history_ : list of dict
        One entry per bracket, with its ``rungs``.
    best_estimator_, best_score_, best_params_, best_index_, n_trials_replayed_
        As for :class:`NarrowingSearchCV`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> from skhp.search import HyperbandSearchCV, Real
    >>> X, y = load_iris(return_X_y=True)
    >>> search = HyperbandSearchCV(KerasClassifier(hidden_layer_sizes=(8,), random_state=0),
    ...                            {"learning_rate": Real(1e-3, 1e-1, log=True)},
    ...                            max_epochs=3, cv=2, random_state=0).fit(X, y)
    >>> [h["step"] for h in search.search_history_], int(search.cv_results_["pruned"].sum())
    (['bracket 1', 'bracket 0'], 2)
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_distributions": [dict, list, Space, SpaceUnion],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "factor": [Interval(Integral, 2, None, closed="left")],
        "hyperband_iterations": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }
    _space_parameter = "param_distributions"

    def __init__(self, estimator, param_distributions, *, max_epochs=None, factor=3,
                 hyperband_iterations=1, random_state=None, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", error_score=np.nan,
                 return_train_score=False, time_budget=None, storage=None, study=None,
                 progress=None, packing="auto", pack_size="auto"):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score,
                         time_budget=time_budget, storage=storage, study=study,
                         progress=progress, packing=packing, pack_size=pack_size)
        del self.pruning  # each bracket has its own rule; not a parameter here
        self.param_distributions = param_distributions
        self.max_epochs = max_epochs
        self.factor = factor
        self.hyperband_iterations = hyperband_iterations
        self.random_state = random_state

    def _max_epochs(self):
        name = epochs_parameter(self.estimator)
        if self.max_epochs is not None:
            return name, self.max_epochs
        return name, int(clone(self.estimator).get_params(deep=True)[name])

    def _search_space(self):
        return as_space(self.param_distributions)

    def _check_pruning(self):
        self._max_epochs()  # refuse an estimator without epochs before any training
        return None

    def _rule_for(self, proposal, oracle):
        return oracle.rule(proposal.round)

    def _make_oracle(self, space):
        name, epochs = self._max_epochs()
        if self.max_epochs is not None:  # every candidate trains (its schedule spans) max_epochs
            spaces = [Space({**sub.dimensions, name: [epochs]}) for sub in space.subspaces]
            space = spaces[0] if len(spaces) == 1 else SpaceUnion(spaces)
        return HyperbandOracle(space, max_epochs=epochs, factor=self.factor,
                               iterations=self.hyperband_iterations, seed=self.random_state)
