"""How a search scores its folds, whichever way they trained: one fold scorer.

A fold trained in a pack, rung by rung, on a cluster's worker or by the
estimator's own fit is scored the same way: :class:`FoldScorer` lends the
slot's weights to an ordinary fitted estimator (:func:`lend_model`) and
scores it on its test fold (and train fold, when asked) with the search's
scorers, as scikit-learn's ``_fit_and_score`` does; :func:`failed_result`
is a failed fit's result in the same format.
"""

import copy
import time
import traceback

from skhp._sklearn import safe_indexing
from skhp.search._sklearn import score_fold, score_names

__all__ = ["FoldScorer", "lend_model", "failed_result", "per_metric", "scores_of"]


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


def lend_model(final, X_train, y_train, out, templates):
    """Fit ``final`` with a slot's result, sharing one Keras model per shape (``templates``)."""
    shape = out["key"]
    template = templates.get(shape)
    # Later slots of this shape reuse this one's Keras model and its traced call: swapping
    # weights costs nothing, a model per slot costs a build and a trace.
    final.fitted_from_slot(X_train, y_train, out, template, traced=True)
    if template is None:
        templates[shape] = copy.copy(final)




def scores_of(out):
    """The scores a :class:`FoldScorer` set in a slot's result ``out``.

    Examples
    --------
    >>> scores_of({"test_scores": 0.9, "score_time": 0.01, "state": {}})
    {'test_scores': 0.9, 'score_time': 0.01}
    """
    return {k: out[k] for k in ("test_scores", "train_scores", "score_time") if k in out}


class FoldScorer:
    """A search's scorers applied to one fitted (candidate, fold) job; picklable, so that a
    cluster's worker scores the folds it trained the same way.

    Parameters
    ----------
    scorers : scorer or dict
        The search's scorers (:func:`skhp.search._sklearn.search_scorers`).
    error_score : "raise" or float
    train_scores : bool
        Whether train folds are scored too (``return_train_score``).

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.metrics import get_scorer
    >>> X, y = np.zeros((6, 1)), np.array([0, 0, 0, 0, 1, 1])
    >>> job = SimpleNamespace(estimator=DummyClassifier().fit(X, y), test=[0, 5], train=[1, 2],
    ...                       y_test=y[[0, 5]])
    >>> FoldScorer(get_scorer("accuracy"), np.nan, False).score(job, X, y)["test_scores"]
    0.5
    """

    def __init__(self, scorers, error_score, train_scores):
        self.scorers, self.error_score, self.train_scores = scorers, error_score, train_scores

    def with_train_scores(self, train_scores):
        """This scorer, scoring train folds only where ``train_scores`` (and it did) says."""
        return FoldScorer(self.scorers, self.error_score, self.train_scores and train_scores)

    def score(self, job, X, y):
        """``job``'s fitted estimator's ``test_scores`` (``train_scores`` when asked) on its
        fold of the search's ``X, y``, and ``score_time``."""
        start = time.perf_counter()
        y_test = job.y_test if job.y_test is not None else safe_indexing(y, job.test)
        result = {"test_scores": score_fold(job.estimator, safe_indexing(X, job.test), y_test,
                                            self.scorers, self.error_score)}
        if self.train_scores:
            result["train_scores"] = score_fold(job.estimator, safe_indexing(X, job.train),
                                                safe_indexing(y, job.train), self.scorers,
                                                self.error_score)
        result["score_time"] = time.perf_counter() - start
        return result

    def __call__(self, job, X_train, y_train, out, X, y, templates):
        """Score a slot's result ``out`` on its fold: its scores, also set in ``out``."""
        lend_model(job.final, X_train, y_train, out, templates)
        scores = self.score(job, X, y)
        out.update(scores)
        return scores
