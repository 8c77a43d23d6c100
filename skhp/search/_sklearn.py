"""The one place where skhp's searches touch scikit-learn's private search machinery.

``BaseSearchCV.fit`` evaluates candidates with the private function
``sklearn.model_selection._search._fit_and_score`` and formats the per-fold
results with the private method ``BaseSearchCV._format_results``. skhp's
searches feed each round's (candidate, fold) results into that machinery so
that ``cv_results_``, ``best_*_``, refit, multi-metric scoring and
``error_score`` stay exactly scikit-learn's:

- :func:`evaluating` stands in for ``_fit_and_score`` during one round: a
  fold whose result is already known (replayed from storage; later packed
  or pruned training) is returned as it is, every other fold is trained by
  scikit-learn's own function, in scikit-learn's own parallel loop;
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

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import _search
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._validation import _score

__all__ = ["evaluating", "RawFoldResults", "fold_key", "score_fold", "transformed_target"]

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


#: Keys a known fold result may carry beyond ``_fit_and_score``'s (pruned training's record).
EXTRA_KEYS = ("epochs", "pruned", "rung_scores")


class _KnownOrTrained:
    """Stands in for ``_fit_and_score``: a known result, else scikit-learn's own training."""

    def __init__(self, known):
        self.known = known

    def __call__(self, estimator, X, y, **kwargs):
        key = fold_key(kwargs["parameters"], kwargs["split_progress"][0])
        result = self.known.get(key)
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


@contextlib.contextmanager
def evaluating(known):
    """During the block, folds in ``known`` (``{fold_key: result}``) are not trained again.

    ``result`` has the keys ``_fit_and_score`` returns (``test_scores``,
    optionally ``train_scores``, ``fit_time``, ``score_time``,
    ``fit_error``). The stand-in is installed only for the block; it is
    pickled to parallel workers with the results it holds.
    """
    if not known:
        yield
        return
    _search._fit_and_score = _KnownOrTrained(dict(known))
    try:
        yield
    finally:
        _search._fit_and_score = _FIT_AND_SCORE


class RawFoldResults:
    """Mixin for a ``BaseSearchCV``: keeps every fold's raw result in ``_fold_results``.

    The list runs in scikit-learn's order: candidates in the order they were
    evaluated, each with its folds in split order.
    """

    def _format_results(self, candidate_params, n_splits, out, more_results=None):
        self._fold_results = list(out)
        return super()._format_results(candidate_params, n_splits, out, more_results)
