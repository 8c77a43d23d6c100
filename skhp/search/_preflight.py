"""What a search checks before any training: every value of its space, and its data.

A grid's every candidate (or each value alone, for grids too large to walk),
the values a distribution or a range can take, and the data the estimator
must fit (a classifier's classes, an image shape) are checked by the skhp
estimators' own :meth:`check_parameters`; a misspelt name gets the
did-you-mean of :func:`skhp.search.check_space_names`. So a search whose
space holds ``epochs=-1`` fails at once, naming the parameter and what it
allows, instead of training the other candidates and scoring that one NaN.
"""

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from skhp.search._space import Choice, Integer, Real, as_space

__all__ = ["check_candidates", "probe_values", "grid_candidates"]

#: Past this many candidates a grid's values are checked one at a time.
_MAX_WALKED = 2000


def _skhp_parts(estimator):
    """``(part, top)`` for each skhp estimator inside ``estimator`` (``top``: it takes X as given)."""
    parts = [(estimator, True)] + [(p, False) for p in estimator.get_params(deep=True).values()]
    return [(part, top) for part, top in parts if hasattr(part, "check_parameters")]


def _check_one(estimator, params, X, y):
    candidate = clone(estimator).set_params(**clone(params, safe=False))
    for part, top in _skhp_parts(candidate):
        part.check_parameter_names()
        part.check_parameters(X if top else None, y)


def check_candidates(estimator, candidates, X=None, y=None, searched=()):
    """Refuse, before any training, a candidate the estimator's fit would refuse.

    Parameters
    ----------
    estimator : estimator object
        The search's estimator (an skhp estimator, or a pipeline holding one).
    candidates : iterable of dict
        Parameter settings to check.
    X, y : array-like or None
        The search's data (a classifier's classes, an image shape must fit it).
    searched : collection of str
        Names the space varies: a candidate of one value alone (``probe_values``)
        is not refused for a rule that ties it to one of them.

    Examples
    --------
    >>> from skhp import KerasClassifier
    >>> check_candidates(KerasClassifier(), [{"epochs": 2}, {"epochs": -1}])
    Traceback (most recent call last):
    ...
    ValueError: the search's candidate {'epochs': -1} is refused: The 'epochs' parameter ...
    """
    if not any(True for _ in _skhp_parts(estimator)):
        return
    for params in candidates:
        try:
            _check_one(estimator, params, X, y)
            y = None  # the targets do not change with the candidate: checked once
        except (ValueError, TypeError) as error:
            others = [name.rsplit("__", 1)[-1] for name in searched if name not in params]
            if any(other in str(error) for other in others):
                continue  # a rule tying it to another searched value: that pair decides
            kind = ValueError if isinstance(error, ValueError) else TypeError
            raise kind(f"the search's candidate {params} is refused: {error}") from None


def grid_candidates(param_grid):
    """The candidates of a scikit-learn ``param_grid`` to check: all of them, or each value
    alone past a size (as dicts of one name)."""
    grid = ParameterGrid(param_grid)
    if len(grid) <= _MAX_WALKED:
        return list(grid), ()
    grids = param_grid if isinstance(param_grid, list) else [param_grid]
    return [{k: v} for g in grids for k, values in g.items() for v in values], \
        {k for g in grids for k in g}


def probe_values(space, n=8):
    """One-value candidates covering a space: every value of a list or a finite dimension, the
    ends and ``n`` draws of a range or a scipy distribution.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> [c["lr"] for c in probe_values({"lr": loguniform(1e-3, 1e-1)}, n=0)]
    [0.001, 0.1]
    """
    rng = np.random.default_rng(0)
    items = []
    spaces = space if isinstance(space, list) else [space]
    for part in spaces:
        if isinstance(part, dict) and all(not isinstance(v, (Choice, Integer, Real))
                                          for v in part.values()):
            for name, values in part.items():
                if hasattr(values, "rvs"):
                    low, high = values.support()
                    ends = [float(v) for v in (low, high) if np.isfinite(v)]
                    draws = list(values.rvs(size=n, random_state=0)) if n else []
                    items += [(name, v) for v in ends + draws]
                else:
                    items += [(name, v) for v in values]
            continue
        for sub in as_space(part).subspaces:
            for name, dim in sub.dimensions.items():
                if isinstance(dim, Choice):
                    items += [(name, v) for v in dim.values]
                else:
                    items += [(name, v) for v in [dim.low, dim.high] + list(dim.sample(rng, n))]
    seen, candidates = set(), []
    for name, value in items:
        key = (name, repr(value))
        if key not in seen:
            seen.add(key)
            candidates.append({name: value})
    return candidates
