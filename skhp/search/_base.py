"""What the oracle-driven searches share: scikit-learn's BaseSearchCV, fed by an oracle."""

import os
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone

from skhp._sklearn import HasMethods, Interval, StrOptions
from skhp._validation import suggest
from skhp.search._oracle import sources
from skhp.search._preflight import check_candidates, probe_values
from skhp.search._space import as_space
from skhp.search._evaluate import PackedEvaluation
from skhp.search._sklearn import BaseSearchCV, RawFoldResults, fold_key
from skhp.search.pruning import PRUNING, RULE_METHODS, check_pruning
from skhp.storage import STORE_METHODS, open_store


def check_space_names(estimator, space):
    """Refuse a search space naming a parameter ``estimator`` does not take.

    Every name must be one of ``estimator.get_params(deep=True)``, or a routed
    ``prefix__name`` that an skhp estimator (also inside a pipeline) accepts.
    The error names the parameter and suggests the closest known one; it is
    raised before any training.

    Parameters
    ----------
    estimator : estimator object
        The estimator to search over.
    space : dict or Space
        The search space.

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> check_space_names(SVC(), {"C": [1, 10], "gama": [0.1, 1]})
    Traceback (most recent call last):
    ...
    ValueError: the search space names 'gama', which SVC does not take. Did you mean 'gamma'? ...
    """
    base = clone(estimator)
    known = base.get_params(deep=True)
    # a name is blamed only for what it breaks: the estimator's own names are checked apart
    # (by the candidates' preflight), so that an error of theirs names them, not this one
    own_error = _parameter_names_error(base)
    rng = np.random.default_rng(0)
    dims = [item for sub in as_space(space).subspaces for item in sub.dimensions.items()]
    for name, dim in dims:
        if name not in known and "__" not in name:
            raise ValueError(
                f"the search space names {name!r}, which {type(estimator).__name__} does not "
                f"take.{suggest(name, known)} Its parameters are {sorted(known)}."
            )
        if name in known and "__" not in name:
            continue
        try:
            candidate = clone(estimator).set_params(**{name: dim.sample(rng, 1)[0]})
        except ValueError as err:
            raise ValueError(
                f"the search space names {name!r}, which {type(estimator).__name__} does not "
                f"take.{suggest(name, known)} ({err})"
            ) from None
        error = _parameter_names_error(candidate)
        if error is not None and error != own_error:
            raise ValueError(
                f"the search space names {name!r}, which {type(estimator).__name__} does not "
                f"take: {error}"
            ) from None


def _parameter_names_error(estimator):
    """The message of the first ``check_parameter_names`` failure of ``estimator`` or of
    a step of it (None when every skhp estimator in it accepts its names)."""
    try:
        for part in [estimator, *estimator.get_params(deep=True).values()]:
            if hasattr(part, "check_parameter_names"):
                part.check_parameter_names()
    except ValueError as err:
        return str(err)
    return None


_STORAGE = [str, os.PathLike, HasMethods(list(STORE_METHODS)), None]


class OracleSearchCV(PackedEvaluation, RawFoldResults, BaseSearchCV):
    """A ``BaseSearchCV`` whose candidates come from an oracle, round by round.

    Subclasses build the oracle in ``_make_oracle``. Each round is one call of
    scikit-learn's ``evaluate_candidates``, so cross-validation, scoring,
    ``n_jobs``, ``refit`` and ``error_score`` behave exactly as in
    ``RandomizedSearchCV``; ``cv_results_`` gains the columns ``round``,
    ``step`` and ``space`` (where each candidate was drawn from).

    The oracle maximizes the refit metric (``score`` with single-metric
    scoring); with several metrics the others break ties, in the order given.
    Failed fits (``error_score``) and non-finite scores are never the best.

    Every round goes through one evaluation path (:mod:`skhp.search._evaluate`):
    folds whose results are already known are handed over as they are, the
    jobs of skhp's built-in MLP are trained in packs (``packing="auto"``,
    see :mod:`skhp.packed`), and the rest run in scikit-learn's parallel
    loop (``n_jobs``). With ``storage`` set, the round's candidates
    are marked running in the store, and written with each fold's result
    (scores, real fit time, any fit error) when the round ends; a search run
    again with the same store and ``study`` replays the stored candidates
    instead of training them (see :mod:`skhp.storage`). A search killed
    mid-round loses that round's work; with ``pruning``, only the work of
    the running rung.

    With ``pruning`` (:mod:`skhp.search.pruning`), a round trains rung by
    rung (:mod:`skhp.search._rungs`) and the rule stops bad candidates
    between rungs.
    """

    _parameter_constraints = {
        **BaseSearchCV._parameter_constraints,
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "storage": _STORAGE,
        "study": [str, None],
        "progress": [callable, None],
        "pruning": [StrOptions(set(PRUNING)), HasMethods(list(RULE_METHODS)), None],
        **PackedEvaluation._packing_constraint,
    }

    #: Parameters that do not change which candidates a search proposes or
    #: how they score: a store written with other values of them resumes.
    _free_in_storage = frozenset({"estimator", "n_iter", "refit", "n_jobs", "verbose",
                                  "pre_dispatch", "storage", "study", "error_score",
                                  "time_budget", "progress", "packing", "pack_size"})

    #: The parameter holding the search space (compared as a described Space).
    _space_parameter = None

    def __init__(self, estimator, *, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False,
                 time_budget=None, storage=None, study=None, progress=None, pruning=None,
                 packing="auto", pack_size="auto"):
        super().__init__(estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score)
        self.time_budget = time_budget
        self.storage = storage
        self.study = study
        self.progress = progress
        self.pruning = pruning
        self.packing = packing
        self.pack_size = pack_size

    def _make_oracle(self, space):
        raise NotImplementedError

    def _search_space(self):
        """The :class:`Space` searched (subclasses name their space parameter)."""
        raise NotImplementedError

    def _oracle_scores(self, results, n):
        metrics = [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]
        primary = self.refit if isinstance(self.refit, str) and self.refit in metrics else (
            "score" if "score" in metrics else metrics[0])
        order = [primary] + [m for m in metrics if m != primary]
        columns = [np.asarray(results[f"mean_test_{m}"][-n:], dtype=float) for m in order]
        return [tuple(float(c[i]) for c in columns) for i in range(n)]

    def _check_names(self, space):
        """Fail before any training if the estimator does not know a parameter, or refuses
        a value the space can take (or the data)."""
        check_space_names(self.estimator, space)
        X, y, _ = self._rounds.data
        names = {name for sub in space.subspaces for name in sub.dimensions}
        check_candidates(self.estimator, probe_values(space), X, y, searched=names)

    def _signature(self, space):
        """What makes two searches the same, for refusing a store of another search."""
        # The budget (n_iter) may grow between runs, and what happens after the
        # trials (refit) or how they run (n_jobs ...) does not change them. The
        # space is compared in its exact JSON form (scipy distributions' reprs
        # hold memory addresses; their names and arguments are compared).
        params = self.get_params(deep=False)
        free = self._free_in_storage | {self._space_parameter}
        signature = {k: repr(v) for k, v in sorted(params.items()) if k not in free}
        if signature.get("pruning") == "None":
            del signature["pruning"]  # stores written before pruning existed resume
        return {**signature, "estimator": repr(self.estimator), "space": space.to_dict()}

    def _check_pruning(self):
        return check_pruning(self.pruning, type(self).__name__)

    def _rule_for(self, proposal, oracle):
        """The pruning rule of ``proposal``'s round (Hyperband's differ per bracket)."""
        return self._check_pruning()

    def _run_search(self, evaluate_candidates):
        space = self._search_space()
        self._check_names(space)
        self._check_pruning()  # before any training
        store = open_store(self.storage)
        study = self.study or "default"
        stored = {}
        if store is not None:
            store.open_study(study, self._signature(space))
            stored = {t.number: t for t in store.trials(study) if t.status != "running"}
        self._rounds.store = (store, study)  # rung states, and probe runs that are not trials
        oracle = self._make_oracle(space)
        self.n_trials_replayed_ = 0
        number = 0
        deadline = None if self.time_budget is None else time.monotonic() + self.time_budget
        while (proposal := oracle.ask()) is not None:
            points, n = proposal.points, len(proposal.points)
            numbers = list(range(number, number + n))
            number += n
            more = {"round": [proposal.round] * n, "step": [proposal.step] * n,
                    "space": sources(proposal)}
            known = {}
            for trial, point in zip(numbers, points):
                if trial in stored:
                    known.update(self._replayed(store, study, stored[trial], point))
                elif store is not None:
                    store.start_trial(study, trial, point)
            results = self._evaluate_round(evaluate_candidates, points, known, more,
                                           rule=self._rule_for(proposal, oracle), numbers=numbers)
            if store is not None:
                folds, k = self._fold_results[-n * self.n_splits_:], self.n_splits_
                store.add_trials(study, [
                    (trial, point, [{**fold, **self._rounds.extras.get(fold_key(point, j), {})}
                                    for j, fold in enumerate(folds[i * k:(i + 1) * k])])
                    for i, (trial, point) in enumerate(zip(numbers, points)) if trial not in stored])
            oracle.tell(self._oracle_scores(results, n))
            if self._rounds.rungs:
                oracle.history[-1]["rungs"] = self._rounds.rungs
            if self.progress is not None:
                self.progress(results)
            if deadline is not None and time.monotonic() > deadline:
                break
        self.search_history_ = oracle.history
        self._oracle_done(oracle)

    def _replayed(self, store, study, record, point):
        """The stored fold results of ``record``, keyed for :func:`evaluating`."""
        if record.params != point:
            raise ValueError(
                f"trial {record.number} of study {study!r} in {store.path} has parameters "
                f"{record.params}, but this search proposes {point}: the store holds "
                "another search (different seed?); use a new study name."
            )
        self.n_trials_replayed_ += 1
        return {fold_key(point, k): fold for k, fold in enumerate(record.folds)}

    def _oracle_done(self, oracle):
        pass
