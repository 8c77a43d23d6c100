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
"""

import copy
import time
import traceback
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import indexable

from skhp._rows import Rows
from skhp.search._sklearn import (
    Candidate,
    EXTRA_KEYS,
    evaluating,
    fold_key,
    in_process,
    score_fold,
    transformed_target,
)

__all__ = ["PackedEvaluation", "RoundEvaluator", "packed_results", "round_jobs", "RoundJob"]


def _final_step(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def _preprocessed(estimator, X_train, y_train):
    """Fit a pipeline's transformers on the training split; return it transformed for the MLP.

    What the final step would receive in the pipeline's own ``fit``: a
    DataFrame keeps its column names (the fitted slot's
    ``feature_names_in_``), sparse output stays sparse (packs densify it).
    """
    if not isinstance(estimator, Pipeline) or len(estimator.steps) == 1:
        return X_train
    head = estimator[:-1]  # the same step objects: fitting it fits the pipeline's steps
    return head.fit_transform(X_train, y_train)


class RoundJob:
    """One (candidate, fold) job of a round, its fold split and its data ready for the MLP.

    ``estimator`` is the candidate's clone (a pipeline's transformers
    already fitted on the fold, a ``TransformedTargetRegressor``'s target
    side too); ``final`` is its skhp estimator (in place inside it), which
    trains on ``X_train, y_fit`` (with ``weights``).
    """

    def __init__(self, candidate, fold, estimator, final, X_train, y_fit, weights, train, test,
                 y_test, prep, plain=False):
        self.candidate, self.fold, self.estimator, self.final = candidate, fold, estimator, final
        self.X_train, self.y_fit, self.weights = X_train, y_fit, weights
        self.train, self.test, self.y_test, self.prep = train, test, y_test, prep
        self.plain = plain  # X_train, y_fit are the search's rows ``train`` as they are

    @property
    def data(self):
        """``(final, X_train, y_fit, weights)``: a job of :func:`skhp.packed.start_packs`."""
        return self.final, self.X_train, self.y_fit, self.weights

    @property
    def travelling(self):
        """The job as it goes to a cluster's worker: the search's row indices for its data
        when it trains on them as they are (see :func:`skhp.packed.train_packs_on_cluster`)."""
        job = copy.copy(self)
        if self.plain:  # the worker takes rows ``train`` of its copy of the search's data
            job.X_train = job.y_fit = None
        job.y_test = None  # the worker indexes its copy of the search's y
        return job


def round_jobs(search, candidates, X, y, params, known=(), accept=None):
    """The (candidate, fold) jobs of a round that skhp trains itself, ready to train.

    Parameters
    ----------
    search : BaseSearchCV
    candidates : list of dict
    X, y : array-like
    params : dict
        The search's fit parameters.
    known : container of fold keys
        Jobs already known (replayed): left out.
    accept : callable or None
        ``accept(final)`` returns None for a final skhp estimator skhp
        trains, else the reason it does not (default: it packs,
        :func:`skhp.packed.pack_reason`).

    Returns
    -------
    jobs : list of RoundJob
    reasons : dict
        ``{candidate index: reason}`` for candidates (some of) whose jobs
        scikit-learn's loop trains, or ``"replayed"``.
    splits : list of (train, test)
    """
    from skhp.packed import pack_reason

    accept = pack_reason if accept is None else accept
    X, y = indexable(X, y)
    routed = search._get_routed_params_for_fit(params)
    fit_params = dict(routed.estimator.fit)
    sample_weight = fit_params.pop("sample_weight", None)
    if fit_params:
        return [], {i: f"fit parameters {sorted(fit_params)} go to the estimator's own fit"
                    for i in range(len(candidates))}, []
    cv = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    splits = list(cv.split(X, y, **routed.splitter.split))
    jobs, reasons = [], {}
    for i, candidate in enumerate(candidates):
        if all(fold_key(candidate, k) in known for k in range(len(splits))):
            reasons[i] = "replayed"
        for k, (train, test) in enumerate(splits):
            if fold_key(candidate, k) in known:
                continue
            estimator = clone(search.estimator).set_params(**clone(candidate, safe=False))
            target = estimator if isinstance(estimator, TransformedTargetRegressor) else None
            model = estimator if target is None else target.regressor
            final = _final_step(model)
            try:
                if hasattr(final, "check_parameters"):
                    final.check_parameters()
            except Exception:  # the ordinary path fails it as scikit-learn does (error_score)
                reasons.setdefault(i, "its parameters are invalid")
                continue
            reason = accept(final)
            if reason is not None:
                reasons.setdefault(i, reason)
                continue
            start = time.perf_counter()
            y_train, y_test = _safe_indexing(y, train), _safe_indexing(y, test)
            plain = target is None and (not isinstance(model, Pipeline) or len(model.steps) == 1)
            try:
                y_fit = y_train if target is None else transformed_target(target, y_train)
                if plain and isinstance(X, np.ndarray):  # a pack's slots share one copy of X
                    X_train = Rows(X, train)
                else:
                    X_train = _preprocessed(model, _safe_indexing(X, train), y_fit)
            except Exception:  # the ordinary path reports the failure as scikit-learn does
                reasons.setdefault(i, "its preprocessing failed")
                continue
            if target is not None:
                target.regressor_ = model  # fitted in place: its steps now, its MLP from the pack
            weights = None if sample_weight is None else _safe_indexing(sample_weight, train)
            jobs.append(RoundJob(i, k, estimator, final, X_train, np.asarray(y_fit), weights,
                                 train, test, y_test, time.perf_counter() - start, plain))
    return jobs, reasons, splits


def score_names(scorers):
    """The metric names of a search's scorers (``_get_scorers()[0]``), None for a single score."""
    return list(getattr(scorers, "_scorers", {})) or None


def per_metric(names, value):
    """``value`` as a fold's test scores: itself for a single score, else one per metric name."""
    return value if names is None else {name: value for name in names}


def failed_result(search, scorers, message):
    """A fold result of a failed fit, as ``_fit_and_score`` gives one (``error_score``)."""
    if search.error_score == "raise":
        raise ValueError(message)
    failed = per_metric(score_names(scorers), search.error_score)
    result = {"fit_error": "".join(traceback.format_exception_only(ValueError(message))),
              "test_scores": failed, "score_time": 0.0}
    if search.return_train_score:
        result["train_scores"] = failed
    return result


def score_job(search, job, scorers, X, y, train_scores=None):
    """``job``'s fitted estimator's test (and, if asked, train) scores on its fold."""
    train_scores = search.return_train_score if train_scores is None else train_scores
    result = {"test_scores": score_fold(job.estimator, _safe_indexing(X, job.test), job.y_test,
                                        scorers, search.error_score)}
    if train_scores:
        result["train_scores"] = score_fold(job.estimator, _safe_indexing(X, job.train),
                                            _safe_indexing(y, job.train), scorers,
                                            search.error_score)
    return result


def _traced_call(model):
    """``model``'s inference call as a TensorFlow function (traced once per input shape)."""
    import tensorflow as tf

    return tf.function(model, reduce_retracing=True)


def lend_model(final, X_train, y_train, out, templates):
    """Fit ``final`` with a slot's result, sharing one Keras model per shape (``templates``)."""
    from skhp.packed import as_fitted

    shape = out["key"]
    template = templates.get(shape)
    as_fitted(final, X_train, y_train, out, template)
    if template is None:
        # Later slots of this shape reuse this one's Keras model: swapping
        # weights costs nothing, a model per slot costs a build and a trace.
        # They score through one traced call of it (the weights are read at each call;
        # copies and pickles leave it out, so it is set on the template too).
        templates[shape] = copy.copy(final)
        final._compiled_call = templates[shape]._compiled_call = _traced_call(final.model_)


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
    from skhp.packed._cluster import scores_of

    search = rounds.search
    X, y, params = rounds.data
    jobs, reasons, _ = round_jobs(search, candidates, X, y, params, known)
    if not jobs:
        return {}, reasons
    X, y = indexable(X, y)
    scorers, _ = search._get_scorers()
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
        start = time.perf_counter()
        result.update(score_job(search, job, scorers, X, y))
        result["score_time"] = time.perf_counter() - start
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
    the cluster the data was scattered to. Packs train in this process, or
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
        """``(scorers, error_score, train_scores)``: how a worker scores the folds it trained."""
        search = self.search
        return search._get_scorers()[0], search.error_score, search.return_train_score

    def train(self, jobs):
        """The round's jobs (:class:`RoundJob`) trained as packs to their last epoch, here or
        on the cluster's workers (scored there); :func:`skhp.packed.train_packs`' results."""
        from skhp.packed import train_packs, train_packs_on_cluster

        cluster = self.cluster()
        if cluster is None:
            return train_packs([job.data for job in jobs], self.search.pack_size)
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
            from skhp.search._rungs import pruned_round

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


class PackedEvaluation:
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

    def _format_results(self, candidate_params, n_splits, out, more_results=None):
        pruned = list((more_results or {}).get("pruned", ()))
        if not any(pruned):
            return super()._format_results(candidate_params, n_splits, out, more_results)
        # Pruned candidates' test scores are non-finite by design (they rank last, never
        # best); scikit-learn's warning about non-finite scores stays for real failures.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = super()._format_results(candidate_params, n_splits, out, more_results)
        means = [v for k, v in results.items() if k.startswith("mean_test_")]
        failed = any(not np.isfinite(m[i]) and not pruned[i] for m in means for i in range(len(pruned)))
        for w in caught:
            if failed or "scores are non-finite" not in str(w.message):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return results

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
                    row["epochs"] = _final_step(model).get_params().get("epochs")
            columns["epochs_trained"].append(row["epochs"])
            columns["pruned"].append(bool(row["pruned"]))
            columns["rung_scores"].append(row["rung_scores"])
        return columns

    def _evaluate_round(self, evaluate_candidates, candidates, known=None, more_results=None,
                        **kwargs):
        """Evaluate one round of this fit (see :meth:`RoundEvaluator.evaluate`)."""
        return self._rounds.evaluate(evaluate_candidates, candidates, known, more_results,
                                     **kwargs)
