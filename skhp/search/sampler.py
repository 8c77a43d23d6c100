"""Optuna's samplers as skhp strategies: the oracle (SamplerOracle) and its
cross-validated search (SamplerSearchCV).

Any ``optuna.samplers`` sampler (TPE, CMA-ES, Gaussian process, QMC, ...)
proposes the candidates; skhp evaluates them with its storage, packing,
pruning, time budget, progress and reports. Optuna is an optional
dependency (``pip install "skhp[optuna]"``); it is imported when a search starts.
"""

import copy
import importlib.util
import math
import warnings
from numbers import Integral

import numpy as np

from skhp._sklearn import HasMethods, Interval, StrOptions
from skhp._validation import check_number
from skhp.search._base import OracleSearchCV
from skhp.search._oracle import Oracle, Proposal, score_key
from skhp.search._space import Distribution, Integer, Real, Space, SpaceUnion, as_space

__all__ = ["SAMPLERS", "missing_package", "make_sampler", "SamplerOracle", "SamplerSearchCV"]

#: Sampler names :func:`make_sampler` knows, with the ``optuna.samplers`` class each names.
SAMPLERS = {"tpe": "TPESampler", "cmaes": "CmaEsSampler", "gp": "GPSampler",
            "qmc": "QMCSampler", "random": "RandomSampler"}
#: Packages a sampler needs beyond optuna (Optuna imports them only when sampling).
_NEEDS = {"cmaes": "cmaes", "gp": "torch"}


def missing_package(sampler):
    """The package the named ``sampler`` needs and that is not installed, else None.

    Examples
    --------
    >>> missing_package("random") is None
    True
    """
    for package in ("optuna", _NEEDS.get(sampler)):
        if package is not None and importlib.util.find_spec(package) is None:
            return package
    return None


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError("Optuna's samplers need optuna: pip install optuna "
                          "(or pip install 'skhp[optuna]').") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def make_sampler(sampler, seed=None, batch=1):
    """An ``optuna.samplers`` sampler from a name in :data:`SAMPLERS`, seeded.

    A sampler object is deep-copied (each search starts it afresh, so that
    a rerun or a resumed search proposes the same points). TPE asked for
    ``batch > 1`` points at a time runs in its constant-liar mode; CMA-ES
    searches ranges and draws choices at random (Optuna's own behaviour),
    without logging so for every trial.

    Examples
    --------
    >>> type(make_sampler("tpe", seed=0)).__name__
    'TPESampler'
    """
    optuna = _optuna()
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return copy.deepcopy(sampler)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)} or an optuna.samplers "
                         f"sampler object, got {sampler!r}.")
    missing = missing_package(sampler)
    if missing is not None:  # found here, not after the first round has trained
        raise ImportError(f"Optuna's {sampler!r} sampler needs {missing}: pip install {missing}")
    cls = getattr(optuna.samplers, SAMPLERS[sampler])
    if sampler == "tpe":
        return cls(seed=seed, constant_liar=batch > 1)
    if sampler == "cmaes":  # it draws choices at random, and would log so for every trial
        return cls(seed=seed, warn_independent_sampling=False)
    with warnings.catch_warnings():  # "experimental" notices of the GP and QMC samplers
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(seed=seed)


class _Encoding:
    """One :class:`Space`'s dimensions as Optuna suggestions, and the values back.

    Ranges stay ranges (log ones log); a ``base`` range and an ordered
    choice become an integer index (their order kept); an unordered choice a
    categorical index (Optuna's categories must be plain values).
    """

    def __init__(self, space, prefix=""):
        self.dims, self.prefix = space.dimensions, prefix
        for name, dim in self.dims.items():
            if isinstance(dim, Distribution):
                raise ValueError(
                    f"parameter {name!r}: Optuna's samplers draw from ranges and choices, not "
                    f"from {dim.describe()}; give it as a Real, Integer or Choice "
                    "(scipy's uniform, loguniform and randint become ranges).")

    def suggest(self, trial):
        point = {}
        for name, dim in self.dims.items():
            key = self.prefix + name
            if isinstance(dim, Real):
                point[name] = trial.suggest_float(key, dim.low, dim.high, log=dim.log)
            elif isinstance(dim, Integer) and dim.base is None:
                point[name] = trial.suggest_int(key, dim.low, dim.high, step=dim.step or 1,
                                                log=dim.log)
            else:
                values = dim.values() if isinstance(dim, Integer) else dim.values
                if isinstance(dim, Integer) or dim.ordered:
                    point[name] = values[trial.suggest_int(key, 0, len(values) - 1)]
                else:
                    point[name] = values[trial.suggest_categorical(key, list(range(len(values))))]
        return point


class SamplerOracle(Oracle):
    """Points proposed by an Optuna sampler, ``round_size`` at a time.

    Each round asks the sampler for ``round_size`` trials before telling it
    any score (TPE by name then uses its constant-liar mode); scores are
    told as Optuna trial values (maximized). A failed or pruned point is
    told as a pruned trial: TPE ranks those below every completed one, where
    it ignores failed trials (and so keeps proposing where trials fail). A
    conditional space (:class:`SpaceUnion`) first suggests which of its
    spaces, then that space's parameters.

    Parameters
    ----------
    space : Space, SpaceUnion or dict
        What to search over: ranges and choices (not arbitrary scipy distributions).
    max_trials : int
        Budget of points.
    sampler : str or optuna.samplers.BaseSampler, default="tpe"
        A name in :data:`SAMPLERS` (seeded with ``seed``) or a sampler object
        (copied; its own seed applies).
    round_size : int, default=1
        Points per round.
    seed : int or None, default=None
        Seed of a sampler given by name.

    Examples
    --------
    >>> from skhp.search import Real
    >>> oracle = SamplerOracle({"x": Real(-4, 4)}, max_trials=40, seed=0)
    >>> while (proposal := oracle.ask()) is not None:
    ...     oracle.tell([-(p["x"] - 1) ** 2 for p in proposal.points])
    >>> abs(oracle.best_params["x"] - 1) < 0.2
    True
    """

    def __init__(self, space, max_trials, sampler="tpe", round_size=1, seed=None):
        super().__init__(space, max_trials, seed)
        self.round_size = check_number(round_size, "round_size", low=1, integer=True)
        if isinstance(seed, np.random.RandomState):
            seed = int(self.rng.integers(2**31 - 1))
        self.sampler = make_sampler(sampler, seed, self.round_size)
        spaces = self.space.subspaces if isinstance(self.space, SpaceUnion) else [self.space]
        prefix = len(spaces) > 1
        self._encodings = [_Encoding(s, f"{i}:" if prefix else "") for i, s in enumerate(spaces)]
        optuna = _optuna()
        self.study = optuna.create_study(direction="maximize", sampler=self.sampler)
        self._asked = []

    def _propose(self, remaining):
        self._asked = [self.study.ask() for _ in range(min(self.round_size, remaining))]
        points = []
        for trial in self._asked:
            i = 0 if len(self._encodings) == 1 else trial.suggest_categorical(
                "space", list(range(len(self._encodings))))
            points.append(self._encodings[i].suggest(trial))
        name = type(self.sampler).__name__
        return Proposal(points, 0, self.space, name, [name] * len(points))

    def _update(self, proposal, scores, improved):
        from optuna.trial import TrialState

        for trial, score in zip(self._asked, scores):
            value = score_key(score)[0]
            if math.isfinite(value):
                self.study.tell(trial, value)
            else:
                self.study.tell(trial, state=TrialState.PRUNED)
        self._asked = []


class SamplerSearchCV(OracleSearchCV):
    """Cross-validated search whose candidates an Optuna sampler proposes.

    Optuna's samplers (TPE, CMA-ES, Gaussian process, ...) with skhp's
    evaluation: rounds of ``round_size`` candidates (one parallel, packed
    evaluation each), storage and resuming, pruning, time budget, progress,
    and ``cv_results_`` / reports as every skhp search.

    Parameters
    ----------
    estimator : estimator object
        The estimator to tune.
    param_distributions : dict, list of dict or Space
        As for :class:`NarrowingSearchCV`: ranges, choices, scipy's uniform,
        loguniform and randint (other scipy distributions are refused).
    sampler : str or optuna.samplers.BaseSampler, default="tpe"
        ``"tpe"``, ``"cmaes"``, ``"gp"``, ``"qmc"``, ``"random"`` (seeded
        with ``random_state``), or a sampler object.
    n_iter : int, default=30
        Number of candidates in all.
    round_size : int, default=5
        Candidates asked of the sampler before any is scored; 1 is Optuna's
        sequential use, larger rounds train together (packing, ``n_jobs``).
    random_state : int or None, default=None
        Seed of a sampler given by name.
    time_budget, storage, study, progress, pruning, packing, pack_size
        As for :class:`NarrowingSearchCV`.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``RandomizedSearchCV``.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_, multimetric_
        As in ``RandomizedSearchCV``, with ``round``, ``step`` (the sampler's
        class name) and ``space``.
    study_ : optuna.Study
        The in-memory study the sampler was told the scores in.
    n_trials_replayed_ : int
        Candidates taken from ``storage`` instead of being trained again.
    search_history_ : list of dict
        One entry per round.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.svm import SVC
    >>> from skhp.search import Real, SamplerSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SamplerSearchCV(SVC(), {"C": Real(1e-2, 1e2, log=True)}, sampler="tpe",
    ...                          n_iter=10, random_state=0).fit(X, y)
    >>> bool(search.best_score_ > 0.95), str(search.cv_results_["step"][0])
    (True, 'TPESampler')
    """

    _parameter_constraints = {
        **OracleSearchCV._parameter_constraints,
        "param_distributions": [dict, list, Space, SpaceUnion],
        "sampler": [StrOptions(set(SAMPLERS)), HasMethods(["sample_independent"])],
        "round_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }
    _space_parameter = "param_distributions"

    def __init__(self, estimator, param_distributions, *, sampler="tpe", n_iter=30, round_size=5,
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
        self.sampler = sampler
        self.n_iter = n_iter
        self.round_size = round_size
        self.random_state = random_state

    def _search_space(self):
        space = as_space(self.param_distributions)
        make_sampler(self.sampler)  # fails before the store records a study for this search
        for sub in (space.subspaces if isinstance(space, SpaceUnion) else [space]):
            _Encoding(sub)
        return space

    def _signature(self, space):
        signature = super()._signature(space)
        if not isinstance(self.sampler, str):  # an object's repr holds its address
            signature["sampler"] = type(self.sampler).__name__
        return signature

    def _make_oracle(self, space):
        return SamplerOracle(space, max_trials=self.n_iter, sampler=self.sampler,
                             round_size=self.round_size, seed=self.random_state)

    def _oracle_done(self, oracle):
        self.study_ = oracle.study
