"""What the oracle-driven searches share: scikit-learn's BaseSearchCV, fed by an oracle."""

import contextlib
import json
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import _search
from sklearn.model_selection._search import BaseSearchCV

from skhp._routing import suggest
from skhp._validation import check_number
from skhp.search._oracle import sources
from skhp.search._space import Space
from skhp.storage import _dumps, open_store


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
    space = Space(space)
    known = clone(estimator).get_params(deep=True)
    rng = np.random.default_rng(0)
    for name, dim in space.dimensions.items():
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
        try:
            for part in [candidate, *candidate.get_params(deep=True).values()]:
                if hasattr(part, "check_parameter_names"):
                    part.check_parameter_names()
        except ValueError as err:
            raise ValueError(
                f"the search space names {name!r}, which {type(estimator).__name__} does not "
                f"take: {err}"
            ) from None


class OracleSearchCV(BaseSearchCV):
    """A ``BaseSearchCV`` whose candidates come from an oracle, round by round.

    Subclasses build the oracle in ``_make_oracle``. Each round is one call of
    scikit-learn's ``evaluate_candidates``, so cross-validation, scoring,
    ``n_jobs``, ``refit`` and ``error_score`` behave exactly as in
    ``RandomizedSearchCV``; ``cv_results_`` gains the columns ``round``,
    ``step`` and ``space`` (where each candidate was drawn from).

    The oracle maximizes the refit metric (``score`` with single-metric
    scoring); with several metrics the others break ties, in the order given.
    Failed fits (``error_score``) and non-finite scores are never the best.

    With ``storage`` set, each candidate is evaluated on its own (its folds in
    parallel) and written to the store as soon as its folds finish; a search
    run again with the same store and ``study`` replays the stored candidates
    instead of training them (see :mod:`skhp.storage`).
    """

    #: Called with the results so far after every evaluation (the ``skhp`` command's progress bar).
    _progress = None

    def _make_oracle(self, space):
        raise NotImplementedError

    def _search_space(self):
        return Space(self.param_distributions)

    def _oracle_scores(self, results, n):
        metrics = [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]
        primary = self.refit if isinstance(self.refit, str) and self.refit in metrics else (
            "score" if "score" in metrics else metrics[0])
        order = [primary] + [m for m in metrics if m != primary]
        columns = [np.asarray(results[f"mean_test_{m}"][-n:], dtype=float) for m in order]
        return [tuple(float(c[i]) for c in columns) for i in range(n)]

    def _check_names(self, space):
        """Fail before any training if the estimator does not know a parameter."""
        check_space_names(self.estimator, space)

    def _signature(self, space):
        """What makes two searches the same, for refusing a store of another search."""
        # The budget (n_iter) may grow between runs, and what happens after the
        # trials (refit) or how they run (n_jobs ...) does not change them. The
        # space is compared in its described form: scipy distributions' reprs
        # hold memory addresses.
        free = {"estimator", "n_iter", "refit", "n_jobs", "verbose", "pre_dispatch", "storage",
                "study", "error_score", "time_budget", "param_distributions", "param_space"}
        params = self.get_params(deep=False)
        signature = {k: repr(v) for k, v in sorted(params.items()) if k not in free}
        return {**signature, "estimator": repr(self.estimator), "space": space.describe()}

    def _run_search(self, evaluate_candidates):
        space = self._search_space()
        self._check_names(space)
        oracle = self._make_oracle(space)
        store = open_store(getattr(self, "storage", None))
        study = getattr(self, "study", None) or "default"
        stored = {}
        if store is not None:
            store.open_study(study, self._signature(space))
            stored = {t["number"]: t for t in store.trials(study)}
        self.n_trials_replayed_ = 0
        number = 0
        budget = getattr(self, "time_budget", None)
        if budget is not None:
            check_number(budget, "time_budget", low=0, closed="neither")
        deadline = None if budget is None else time.monotonic() + budget
        while (proposal := oracle.ask()) is not None:
            n = len(proposal.points)
            more = {"round": [proposal.round] * n, "step": [proposal.step] * n,
                    "space": sources(proposal)}
            if store is None:
                results = evaluate_candidates(proposal.points, more_results=more)
            else:
                for i, point in enumerate(proposal.points):
                    one = {k: v[i:i + 1] for k, v in more.items()}
                    results = self._stored_candidate(evaluate_candidates, store, study,
                                                     stored.get(number), number, point, one)
                    number += 1
                    if self._progress is not None and i < n - 1:
                        self._progress(results)
            oracle.tell(self._oracle_scores(results, n))
            if self._progress is not None:
                self._progress(results)
            if deadline is not None and time.monotonic() > deadline:
                break
        self.search_history_ = oracle.history
        self._oracle_done(oracle)

    def _stored_candidate(self, evaluate_candidates, store, study, record, number, point, more):
        """Replay candidate ``number`` from its stored ``record``, or evaluate and store it."""
        if record is None:
            results = evaluate_candidates([point], more_results=more)
            store.add_trial(study, number, point, self._folds(results))
            return results
        if record["params"] != json.loads(_dumps(point)):
            raise ValueError(
                f"trial {number} of study {study!r} in {store.path} has parameters "
                f"{record['params']}, but this search proposes {point}: the store holds "
                "another search (different seed?); use a new study name."
            )
        with _replaying(record["folds"]):
            results = evaluate_candidates([point], more_results=more)
        self.n_trials_replayed_ += 1
        return results

    def _folds(self, results):
        """The last candidate's result per fold, in the form ``_fit_and_score`` returns."""
        metrics = [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]
        single = metrics == ["score"]
        folds = []
        for k in range(self.n_splits_):
            test = {m: float(results[f"split{k}_test_{m}"][-1]) for m in metrics}
            fold = {"test_scores": test["score"] if single else test,
                    "fit_time": float(results["mean_fit_time"][-1]),
                    "score_time": float(results["mean_score_time"][-1])}
            if self.return_train_score:
                train = {m: float(results[f"split{k}_train_{m}"][-1]) for m in metrics}
                fold["train_scores"] = train["score"] if single else train
            folds.append(fold)
        return folds

    def _oracle_done(self, oracle):
        pass


class _Replay:
    """Stands in for scikit-learn's ``_fit_and_score``: returns stored fold results."""

    def __init__(self, folds):
        self.folds = folds

    def __call__(self, estimator, X, y, *, test, split_progress, **kwargs):
        fold = dict(self.folds[split_progress[0]])
        fold.setdefault("fit_time", 0.0)
        fold.setdefault("score_time", 0.0)
        return {**fold, "n_test_samples": len(test), "fit_error": None}


@contextlib.contextmanager
def _replaying(folds):
    original = _search._fit_and_score
    _search._fit_and_score = _Replay(folds)
    try:
        yield
    finally:
        _search._fit_and_score = original
