"""A round's (candidate, fold) jobs: each candidate's clone, its fold, its data ready to train.

:func:`round_jobs` turns a search's round (candidates on the same
splits) into :class:`RoundJob` objects for the jobs skhp trains itself —
packed, pruned rung by rung, or on a cluster — leaving the others (user
models, other estimators, fit parameters skhp does not route) to
scikit-learn's loop, with the reason.
"""

import copy
import time

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import indexable

from skhp._rows import Rows
from skhp._sklearn import safe_indexing
from skhp.search._sklearn import fold_key, routed_fit_params, transformed_target

__all__ = ["RoundJob", "round_jobs", "final_step"]


def final_step(estimator):
    """The last step of a pipeline, or the estimator itself."""
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
    from skhp.packed import pack_reason  # (on first use: see skhp.search._evaluate)

    accept = pack_reason if accept is None else accept
    X, y = indexable(X, y)
    routed = routed_fit_params(search, params)
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
            final = final_step(model)
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
            y_train, y_test = safe_indexing(y, train), safe_indexing(y, test)
            plain = target is None and (not isinstance(model, Pipeline) or len(model.steps) == 1)
            try:
                y_fit = y_train if target is None else transformed_target(target, y_train)
                if plain and isinstance(X, np.ndarray):  # a pack's slots share one copy of X
                    X_train = Rows(X, train)
                else:
                    X_train = _preprocessed(model, safe_indexing(X, train), y_fit)
            except Exception:  # the ordinary path reports the failure as scikit-learn does
                reasons.setdefault(i, "its preprocessing failed")
                continue
            if target is not None:
                target.regressor_ = model  # fitted in place: its steps now, its MLP from the pack
            weights = None if sample_weight is None else safe_indexing(sample_weight, train)
            jobs.append(RoundJob(i, k, estimator, final, X_train, np.asarray(y_fit), weights,
                                 train, test, y_test, time.perf_counter() - start, plain))
    return jobs, reasons, splits
