"""The one evaluation path of a round: replayed, packed, or trained one by one.

A search's round is a list of candidates, each cross-validated on the same
splits. Before scikit-learn's ``evaluate_candidates`` trains them, the
(candidate, fold) jobs of skhp estimators whose model packs are trained as
packs (:mod:`skhp.packed`) — here, or on a Dask cluster's workers — and scored
with the search's own scorers on ordinary per-slot estimators; one
:class:`RoundEvaluator` per fit holds what the rounds share. Their results
join those replayed from storage and are handed to scikit-learn's loop as
known (:func:`evaluating`), which trains the rest (user models, other
estimators) the ordinary way. So
``cv_results_``, ``best_*_``, refit, multi-metric scoring and ``error_score``
are exactly scikit-learn's whichever way a fold was trained.

:class:`PackedEvaluation` is the mixin that gives a ``BaseSearchCV`` the
``packing`` parameter.

The search's modules import :mod:`skhp.packed` and the estimators inside the
functions that train, so that ``import skhp.search`` starts no TensorFlow.
"""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import indexable

from skhp._sklearn import Interval, StrOptions
from skhp.search._jobs import final_step, round_jobs
from skhp.search._rungs import pruned_round
from skhp.search._scoring import FoldScorer, failed_result, lend_model, scores_of
from skhp.search._sklearn import (
    EXTRA_KEYS,
    Candidate,
    PrunedResults,
    evaluating,
    fold_key,
    in_process,
    search_scorers,
)

__all__ = ["PackedEvaluation", "RoundEvaluator", "packed_results"]


def packed_results(rounds, candidates, known=()):
    """Train the packable (candidate, fold) jobs of one round in packs and score them.

    Parameters
    ----------
    rounds : RoundEvaluator
        The fit's rounds: its search (estimator, ``cv``, scorers,
        ``error_score``, ``return_train_score``, ``pack_size``), data,
        shared Keras models and where packs train.
    candidates : list of dict
        The round's parameter sets.
    known : container of fold keys
        Jobs already known (replayed): not trained again.

    Returns
    -------
    results : dict
        ``{fold_key: result}`` in ``_fit_and_score``'s format, for :func:`evaluating`.
    reasons : dict
        ``{candidate index: reason}`` for candidates trained the ordinary way.
    """
    search = rounds.search
    X, y, params = rounds.data
    jobs, reasons, _ = round_jobs(search, candidates, X, y, params, known)
    if not jobs:
        return {}, reasons
    X, y = indexable(X, y)
    scoring = rounds.scoring()
    scorers = scoring.scorers
    results = {}
    for job, out in zip(jobs, rounds.train(jobs)):
        i, k = job.candidate, job.fold
        if isinstance(out, str):
            reasons.setdefault(i, out)
            continue
        rounds.trained_at(out.get("worker"))
        result = {"fit_time": out["seconds"] + job.prep, "fit_error": None, "_train": job.train}
        if out["diverged"]:
            result.update(failed_result(search, scorers, (
                f"the training loss of {candidates[i]} became non-finite (diverged) "
                f"after {out['epochs']} epochs")))
            results[fold_key(candidates[i], k)] = result
            continue
        if "test_scores" in out:  # scored where it trained (a cluster's worker)
            result.update(scores_of(out))
            results[fold_key(candidates[i], k)] = result
            continue
        lend_model(job.final, job.X_train, job.y_fit, out, rounds.templates)
        result.update(scoring.score(job, X, y))
        results[fold_key(candidates[i], k)] = result
    return results, reasons


class RoundEvaluator:
    """What the rounds of one search's fit share, and where their packs train.

    Created by the search's ``fit`` and dropped when it ends: the data
    (``X``, ``y``, fit parameters), the Keras models lent to slots of one
    shape (``templates``), the median rule's record of completed
    candidates' rung scores (``rung_record``), what pruned training
    recorded of each fold for storage (``extras``), the store and study
    rung states go to (``store``), the last round's rungs (``rungs``) and
    the cluster the data was scattered to, and the models packs were planned from
    (``planned``: a later round's slots of a build seen before redraw its weights, not
    build it again). Packs train in this process, or
    on the workers of joblib's active ``"dask"`` backend
    (:meth:`train`, :meth:`cluster`).

    Parameters
    ----------
    search : BaseSearchCV
        The search being fitted (a :class:`PackedEvaluation`).
    X, y : array-like
        Its data.
    params : dict
        Its fit parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> from skhp.search import GridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(4,), epochs=1), {"learning_rate": [1e-2]})
    >>> rounds = RoundEvaluator(search, X, y, {})
    >>> rounds.cluster() is None  # joblib's default backend: packs train here
    True
    """

    def __init__(self, search, X, y, params):
        self.search, self.data = search, (X, y, params)
        self.templates = {}  # shape -> fitted estimator whose Keras model slots borrow
        self.planned = {}  # build -> the Keras model packs plan its slots from (every round's)
        self.rung_record = {}  # {epoch: completed candidates' mean scores there}
        self.extras = {}  # fold key -> what pruned training recorded of it (stored with it)
        self.store = None  # (TrialStore, study) of an oracle search with storage
        self.rungs = []  # the last round's rungs: epoch, candidates scored, kept
        self._cluster = None

    def cluster(self):
        """The search's data on the workers of joblib's active Dask backend
        (:class:`skhp.packed.ClusterData`, scattered once per fit), or None: packs train here."""
        from skhp.packed import ClusterData, dask_client

        client = dask_client()
        if client is None:
            return None
        if self._cluster is None or self._cluster.client is not client:
            self._cluster = ClusterData(client, *self.data[:2])
        return self._cluster

    def scoring(self):
        """The search's :class:`~skhp.search._scoring.FoldScorer` (here and on a worker)."""
        search = self.search
        return FoldScorer(search_scorers(search)[0], search.error_score, search.return_train_score)

    def train(self, jobs):
        """The round's jobs (:class:`RoundJob`) trained as packs to their last epoch, here or
        on the cluster's workers (scored there); :func:`skhp.packed.train_packs`' results."""
        from skhp.packed import train_packs, train_packs_on_cluster

        cluster = self.cluster()
        if cluster is None:
            return train_packs([job.data for job in jobs], self.search.pack_size, self.planned)
        return train_packs_on_cluster(cluster, [(job.candidate, job.travelling) for job in jobs],
                                      self.search.pack_size, self.scoring())

    def trained_at(self, worker, n=1):
        """Count ``n`` packed jobs trained on ``worker`` (None: this process) in ``pack_workers_``."""
        if n:
            where = worker or "in-process"
            workers = self.search.pack_workers_
            workers[where] = workers.get(where, 0) + n

    def evaluate(self, evaluate_candidates, candidates, known=None, more_results=None, rule=None,
                 numbers=None, **kwargs):
        """Evaluate one round: known results as they are, packs where possible, the rest by
        scikit-learn's loop; ``rule`` (a pruning rule) trains it rung by rung, ``numbers``
        are its candidates' trial numbers in the store."""
        search = self.search
        candidates = list(candidates)
        known = dict(known or {})
        X, y, params = self.data
        reasons = {i: "packing=False" for i in range(len(candidates))}
        more_results = dict(more_results or {})
        self.rungs = []
        if rule is not None and candidates:
            results, info, reasons, self.rungs = pruned_round(self, candidates, known, rule, numbers)
            known.update(results)
            for key, result in results.items():
                self.extras[key] = {k: result[k] for k in EXTRA_KEYS if k in result}
            columns = search._pruned_columns(candidates, known, info)
            for i, row in enumerate(columns["rung_scores"]):
                name = fold_key(candidates[i], 0)[0]
                failed = any(known[key].get("fit_error") for key in known if key[0] == name)
                if i not in info and not columns["pruned"][i] and not failed:
                    for epoch, score in row.items():  # replayed: the median rule's record
                        if np.isfinite(score):
                            self.rung_record.setdefault(epoch, []).append(score)
            more_results.update(columns)
        elif search.packing is not False and candidates:
            packed, reasons = packed_results(self, candidates, known)
            known.update(packed)
        labels = [reasons.get(i, "packed") for i in range(len(candidates))]
        search.packing_.extend(labels)
        more_results["packing"] = labels
        n_splits = getattr(search, "n_splits_", None)
        all_known = n_splits is not None and all(
            fold_key(c, k) in known for c in candidates for k in range(n_splits))
        with evaluating(known, X, y), in_process(evaluate_candidates, all_known):
            return evaluate_candidates([Candidate(c) for c in candidates],
                                       more_results=more_results, **kwargs)


class PackedEvaluation(PrunedResults):
    """Mixin for a ``BaseSearchCV``: a ``packing`` parameter and packed rounds.

    ``packing="auto"`` (the default) trains the (candidate, fold) jobs of
    skhp estimators in packs where their model packs, everything else the
    ordinary way;
    ``packing=False`` trains every job the ordinary way. After ``fit``,
    ``packing_`` holds, per candidate, ``"packed"`` or the reason it was
    trained on its own (also the ``packing`` column of ``cv_results_``),
    and ``pack_workers_`` how many packed (candidate, fold) jobs trained
    where: ``"in-process"``, or a Dask worker's address under joblib's
    ``"dask"`` backend (packs go to the workers, pruned rounds rung by rung).
    """

    _packing_constraint = {"packing": ["boolean", StrOptions({"auto"})],
                           "pack_size": [Interval(Integral, 1, None, closed="left"),
                                         StrOptions({"auto"})]}

    def fit(self, X, y=None, **params):
        """Run the search with cross-validation, then refit the best candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets.
        **params : dict
            Passed on as in scikit-learn's searches (``groups``, fit parameters).

        Returns
        -------
        self
        """
        self._rounds = RoundEvaluator(self, X, y, params)  # this fit's rounds share it
        self.packing_ = []
        self.pack_workers_ = {}
        try:
            return super().fit(X, y, **params)
        finally:
            del self._rounds

    def __getstate__(self):
        # The data and the shared Keras models of a running fit stay in this process:
        # scikit-learn (>= 1.9) pickles the search into every parallel task.
        state = dict(super().__getstate__())
        state.pop("_rounds", None)
        return state

    def _pruned_columns(self, candidates, known, info):
        """``epochs_trained``, ``pruned`` and ``rung_scores`` of a round's candidates."""
        columns = {"epochs_trained": [], "pruned": [], "rung_scores": []}
        for i, candidate in enumerate(candidates):
            if i in info:
                row = info[i]
            else:  # replayed from storage, or trained by scikit-learn's loop
                folds = [known[key] for key in known if key[0] == fold_key(candidate, 0)[0]]
                rungs = {}
                for fold in folds:
                    for epoch, score in fold.get("rung_scores") or ():
                        rungs.setdefault(int(epoch), []).append(score)
                row = {"epochs": max((f.get("epochs") or 0 for f in folds), default=None),
                       "pruned": any(f.get("pruned") for f in folds),
                       "rung_scores": {e: float(np.mean(v)) for e, v in rungs.items()}}
                if not folds:
                    estimator = clone(self.estimator).set_params(**clone(candidate, safe=False))
                    model = getattr(estimator, "regressor", estimator)  # inside a TransformedTargetRegressor
                    row["epochs"] = final_step(model).get_params().get("epochs")
            columns["epochs_trained"].append(row["epochs"])
            columns["pruned"].append(bool(row["pruned"]))
            columns["rung_scores"].append(row["rung_scores"])
        return columns

    def _evaluate_round(self, evaluate_candidates, candidates, known=None, more_results=None,
                        **kwargs):
        """Evaluate one round of this fit (see :meth:`RoundEvaluator.evaluate`)."""
        return self._rounds.evaluate(evaluate_candidates, candidates, known, more_results,
                                     **kwargs)
