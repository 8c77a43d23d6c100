"""The one place where skhp's searches touch scikit-learn's private search machinery.

``BaseSearchCV.fit`` evaluates candidates with the private function
``sklearn.model_selection._search._fit_and_score`` and formats the per-fold
results with the private method ``BaseSearchCV._format_results``. skhp's
searches feed each round's (candidate, fold) results into that machinery so
that ``cv_results_``, ``best_*_``, refit, multi-metric scoring and
``error_score`` stay exactly scikit-learn's:

- :func:`evaluating` makes ``_fit_and_score`` (replaced once, at import, by
  a stand-in that calls the original for everything it does not know)
  return, during one round, the folds whose result is already known
  (replayed from storage, packed or pruned training) as they are; every
  other fold is trained by scikit-learn's own function, in scikit-learn's
  own parallel loop;
- :class:`RawFoldResults` keeps the per-fold results ``_format_results``
  receives (real fit times, fit errors), which storage writes;
- :func:`transformed_target` fits a ``TransformedTargetRegressor``'s target
  side as its ``fit`` does, so that a packed inner regressor can be scored
  inside it.

Both names are checked against the installed scikit-learn at import, so that
a scikit-learn release that changes them fails here, loudly, rather than
silently in a search.
"""

import contextlib
import inspect
import threading
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import _search
from sklearn.model_selection._search import BaseSearchCV
from sklearn.metrics import check_scoring
from sklearn.model_selection._validation import _score
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel
from sklearn.utils.validation import _num_samples, indexable

__all__ = ["BaseSearchCV", "evaluating", "in_process", "RawFoldResults", "PrunedResults",
           "DefaultScoring", "Candidate", "fold_key", "score_fold", "search_scorers",
           "routed_fit_params", "score_names", "transformed_target"]

_FIT_AND_SCORE = _search._fit_and_score
_NEEDED = {"parameters", "train", "test", "split_progress", "candidate_progress"}
_missing = _NEEDED - set(inspect.signature(_FIT_AND_SCORE).parameters)
_format_arguments = list(inspect.signature(BaseSearchCV._format_results).parameters)
if _missing or _format_arguments[:5] != ["self", "candidate_params", "n_splits", "out", "more_results"]:
    raise ImportError(
        "skhp's searches need scikit-learn's _fit_and_score(parameters, train, test, "
        "split_progress, candidate_progress, ...) and BaseSearchCV._format_results(candidate_params, "
        "n_splits, out, more_results); this scikit-learn has changed them "
        f"(missing {sorted(_missing)}, _format_results{tuple(_format_arguments)}). "
        "Install a scikit-learn version skhp supports (see pyproject.toml)."
    )


if not hasattr(TransformedTargetRegressor, "_fit_transformer"):
    raise ImportError(
        "skhp's packed searches need scikit-learn's TransformedTargetRegressor._fit_transformer; "
        "this scikit-learn has changed it. Install a scikit-learn version skhp supports."
    )


def transformed_target(regressor, y):
    """Fit ``regressor``'s (a ``TransformedTargetRegressor``) target transformer on ``y``.

    Returns the transformed targets its inner regressor trains on; the
    transformer and the target's shape are set on ``regressor`` as its own
    ``fit`` sets them, so that once ``regressor_`` is set it predicts in
    ``y``'s units.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.preprocessing import StandardScaler
    >>> ttr = TransformedTargetRegressor(Ridge(), transformer=StandardScaler())
    >>> transformed_target(ttr, np.array([1.0, 3.0])).tolist()
    [-1.0, 1.0]
    """
    y = np.asarray(y, dtype=float)
    regressor._training_dim = y.ndim
    y_2d = y.reshape(-1, 1) if y.ndim == 1 else y
    regressor._fit_transformer(y_2d)
    y_trans = regressor.transformer_.transform(y_2d)
    if y_trans.ndim == 2 and y_trans.shape[1] == 1 and y.ndim == 1:
        y_trans = y_trans.squeeze(axis=1)
    return y_trans


def fold_key(params, split):
    """The key of one (candidate, fold) result: the candidate's parameters and the split index.

    Examples
    --------
    >>> fold_key({"C": 1.0}, 2)
    ("[('C', '1.0')]", 2)
    """
    return repr(sorted((k, repr(v)) for k, v in params.items())), int(split)


def score_fold(estimator, X, y, scorers, error_score):
    """A fitted estimator's score(s) on one split, as ``_fit_and_score`` computes them."""
    return _score(estimator, X, y, scorers, None, error_score)


def score_names(scorers):
    """The metric names of a search's scorers (:func:`search_scorers`), None for a single score."""
    return list(getattr(scorers, "_scorers", {})) or None


#: Keys a known fold result may carry beyond ``_fit_and_score``'s (pruned training's record).
EXTRA_KEYS = ("epochs", "pruned", "rung_scores")


def data_signature(X, y):
    """A cheap fingerprint of a search's data: its shape, ``y`` and three rows of ``X``.

    Keys known results to the data they were computed on, so that two
    searches running at once (threads) never take each other's results.
    """
    import joblib

    n = _num_samples(X)
    rows = _safe_indexing(X, [0, n // 2, n - 1]) if n else X
    return joblib.hash((n, getattr(X, "shape", None), rows, y))


class Candidate(dict):
    """A candidate's parameters as an skhp search hands them to scikit-learn's loop.

    Known (packed, replayed) results answer only such candidates: a plain
    scikit-learn search running at the same time, on the same data and
    parameters, never gets skhp's results. It is a dict in every other way
    (``cv_results_["params"]``, ``best_params_``).

    Examples
    --------
    >>> Candidate({"C": 1.0}) == {"C": 1.0}, isinstance(Candidate({"C": 1.0}), Candidate)
    (True, True)
    """

    __slots__ = ()


class _KnownOrTrained:
    """Stands in for ``_fit_and_score``: a known result, else scikit-learn's own training.

    One instance is installed for the whole process (it never swaps back and
    forth); each search's :func:`evaluating` block registers its known
    results under its data's signature, so searches fitted at once in
    several threads each find only their own, and only an skhp search's
    candidates (:class:`Candidate`) are looked up. Pickled to parallel workers, it
    carries the results registered at that moment.
    """

    def __init__(self):
        # {token: (data signature, {fold_key: result})}, replaced whole on every change (a
        # reader never sees it half-changed); the lock is the module's, since scikit-learn's
        # delayed() copies this object's attributes into the task it pickles
        self.active = {}

    def register(self, signature, known):
        token = object()
        with _REGISTRY_LOCK:
            self.active = {**self.active, token: (signature, dict(known))}
        return token

    def unregister(self, token):
        with _REGISTRY_LOCK:
            self.active = {k: v for k, v in self.active.items() if k is not token}

    def _lookup(self, X, y, key):
        found, signature = None, None
        for data, known in list(self.active.values()):
            if key in known:
                if signature is None:
                    signature = data_signature(X, y)
                if data == signature:
                    found = known[key]
        return found

    def __call__(self, estimator, X, y, **kwargs):
        result = None
        if self.active and isinstance(kwargs["parameters"], Candidate):  # an skhp search's
            key = fold_key(kwargs["parameters"], kwargs["split_progress"][0])
            result = self._lookup(X, y, key)
        trained_on = None if result is None else result.get("_train")
        if result is None or (trained_on is not None and not np.array_equal(trained_on, kwargs["train"])):
            # unknown, or packed on other splits (a cv that shuffles anew each call)
            return _FIT_AND_SCORE(estimator, X, y, **kwargs)
        # only _fit_and_score's own keys: scikit-learn aggregates the keys of the first result
        result = {k: v for k, v in result.items() if not k.startswith("_") and k not in EXTRA_KEYS}
        result.setdefault("fit_time", 0.0)
        result.setdefault("score_time", 0.0)
        result.setdefault("fit_error", None)
        result["n_test_samples"] = len(kwargs["test"])
        if kwargs.get("return_train_score") and "train_scores" not in result:
            return _FIT_AND_SCORE(estimator, X, y, **kwargs)  # stored without train scores
        return result


_REGISTRY_LOCK = threading.Lock()
_DISPATCH = _KnownOrTrained()
_search._fit_and_score = _DISPATCH  # unknown folds go to scikit-learn's own function unchanged


@contextlib.contextmanager
def evaluating(known, X, y):
    """During the block, folds in ``known`` (``{fold_key: result}``) of data ``X, y`` are not trained again.

    ``result`` has the keys ``_fit_and_score`` returns (``test_scores``,
    optionally ``train_scores``, ``fit_time``, ``score_time``,
    ``fit_error``). Safe with several searches in several threads: each
    block's results are found only for calls on its own data
    (:func:`data_signature`).
    """
    if not known:
        yield
        return
    token = _DISPATCH.register(data_signature(*indexable(X, y)), known)  # as BaseSearchCV.fit has them
    try:
        yield
    finally:
        _DISPATCH.unregister(token)


@contextlib.contextmanager
def in_process(evaluate_candidates, when):
    """During the block, ``evaluate_candidates`` runs its folds in this process ``when`` true.

    A round whose every fold is already known (packed, replayed) has nothing
    for scikit-learn's parallel workers (``n_jobs``) to train; sending them
    its results would start a TensorFlow per worker for nothing (a packed
    4×3 grid took several times longer with ``n_jobs=2``). The search's
    ``Parallel`` (a variable of ``BaseSearchCV.fit`` that
    ``evaluate_candidates`` closes over) is swapped for a sequential one;
    where a scikit-learn release names it otherwise, nothing changes.
    """
    code, cells = evaluate_candidates.__code__, evaluate_candidates.__closure__ or ()
    cell = dict(zip(code.co_freevars, cells)).get("parallel")
    if not when or cell is None:
        yield
        return
    parallel = cell.cell_contents
    cell.cell_contents = Parallel(n_jobs=1, backend="sequential")  # even under joblib's "dask" backend
    try:
        yield
    finally:
        cell.cell_contents = parallel


class RawFoldResults:
    """Mixin for a ``BaseSearchCV``: keeps every fold's raw result in ``_fold_results``.

    The list runs in scikit-learn's order: candidates in the order they were
    evaluated, each with its folds in split order.
    """

    def _format_results(self, candidate_params, n_splits, out, more_results=None):
        self._fold_results = list(out)
        return super()._format_results(candidate_params, n_splits, out, more_results)


class PrunedResults:
    """Mixin for a ``BaseSearchCV``: pruned candidates' non-finite scores raise no warning.

    Pruned candidates' test scores are non-finite by design (they rank last,
    never best); scikit-learn's warning about non-finite scores stays for
    real failures.
    """

    def _format_results(self, candidate_params, n_splits, out, more_results=None):
        pruned = list((more_results or {}).get("pruned", ()))
        if not any(pruned):
            return super()._format_results(candidate_params, n_splits, out, more_results)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = super()._format_results(candidate_params, n_splits, out, more_results)
        means = [v for k, v in results.items() if k.startswith("mean_test_")]
        failed = any(not np.isfinite(m[i]) and not pruned[i] for m in means for i in range(len(pruned)))
        for w in caught:
            if failed or "scores are non-finite" not in str(w.message):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return results


def search_scorers(search):
    """``(scorers, refit metric)`` of a fitted or fitting search, as scikit-learn builds them."""
    return search._get_scorers()


def routed_fit_params(search, params):
    """The search's fit ``params`` routed to the estimator's ``fit`` and the splitter."""
    return search._get_routed_params_for_fit(params)


class DefaultScoring:
    """Mixin for a ``BaseSearchCV``: a search of its own default scoring where ``scoring=None``.

    ``_default_scoring()`` names the scorer (None: scikit-learn's, the
    estimator's ``score``); a scoring the user sets is always the scoring.
    """

    def _default_scoring(self):
        return None

    def _get_scorers(self):
        default = self._default_scoring() if self.scoring is None else None
        if default is None:
            return super()._get_scorers()
        return check_scoring(self.estimator, default), "score"
