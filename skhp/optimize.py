"""Minimize a function over a box with skhp's search strategies.

The same oracles that drive :class:`skhp.search.NarrowingSearchCV` minimize a
plain Python function here, with the interface and result type of
``scipy.optimize``, so that the strategies can be compared with scipy's
methods on test functions (see :mod:`skhp.benchmarks.beale`).
"""

import math

import numpy as np
from scipy.optimize import Bounds, OptimizeResult

from skhp._validation import check_choice, check_number
from skhp.search.grid import GridOracle
from skhp.search.guided import GuidedOracle
from skhp.search.narrowing import NarrowingOracle
from skhp.search.random import RandomOracle
from skhp.search._space import Real, Space

__all__ = ["minimize", "METHODS"]

#: The strategies :func:`minimize` accepts.
METHODS = {"narrowing": NarrowingOracle, "random": RandomOracle, "grid": GridOracle,
           "guided": GuidedOracle}


def _space_from_bounds(bounds):
    if isinstance(bounds, Bounds):
        bounds = list(zip(np.atleast_1d(bounds.lb), np.atleast_1d(bounds.ub)))
    try:
        pairs = [(float(lo), float(hi)) for lo, hi in bounds]
    except (TypeError, ValueError):
        raise ValueError(
            f"bounds must be a sequence of (low, high) pairs or a scipy Bounds, got {bounds!r}."
        ) from None
    if not pairs:
        raise ValueError("bounds must give at least one (low, high) pair.")
    return Space({f"x{i}": Real(lo, hi) for i, (lo, hi) in enumerate(pairs)})


def _agree(points, space, tol):
    """Whether the last converged point lies within ``tol`` (relative to the box) of an earlier one."""
    if len(points) < 2:
        return False
    unit = [[d.to_unit(p[n]) for n, d in space.dimensions.items()] for p in points]
    last = np.array(unit[-1])
    return any(np.max(np.abs(last - np.array(u))) < tol for u in unit[:-1])


def minimize(func, bounds, method="narrowing", *, args=(), maxfev=1000, tol=1e-3,
             seed=None, callback=None, options=None):
    """Minimize ``func`` over the box ``bounds`` without gradients.

    Parameters
    ----------
    func : callable
        ``func(x, *args) -> float`` with ``x`` a 1-D array. NaN or infinite
        values count as failed evaluations (never the best).
    bounds : sequence of (float, float) or scipy.optimize.Bounds
        Lower and upper bound of each coordinate.
    method : {"narrowing", "random", "grid", "guided"}, default="narrowing"
        The strategy (see :mod:`skhp.search`).
    args : tuple, default=()
        Extra arguments to ``func``.
    maxfev : int, default=1000
        Most function evaluations.
    tol : float, default=1e-3
        ``"narrowing"`` counts a narrowing as converged once its neighbourhood
        has shrunk below ``tol`` (relative to the first one), and stops with
        success when two narrowings converged to the same point, within
        ``tol`` times the box on every side.
    seed : int or None, default=None
        Seed of the strategy's draws.
    callback : callable or None, default=None
        Called after every round as ``callback(intermediate_result)``, an
        ``OptimizeResult`` with ``x`` and ``fun`` of the best point so far;
        returning True stops the search.
    options : dict or None, default=None
        Keyword arguments of the strategy's oracle (e.g. ``round_size``,
        ``factor``, ``patience`` for narrowing, whose full-space rounds have
        20 points here unless ``n_initial`` says otherwise).

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x``, ``fun``, ``nfev``, ``nit`` (rounds), ``success``, ``message``,
        and ``history`` (the rounds of the strategy).

    Examples
    --------
    >>> from skhp.optimize import minimize
    >>> res = minimize(lambda x: (x[0] - 1) ** 2 + (x[1] + 2) ** 2, [(-5, 5), (-5, 5)], seed=0)
    >>> res.success, res.x.round(2).tolist()
    (True, [1.0, -2.0])
    """
    check_choice(method, "method", METHODS)
    if not callable(func):
        raise TypeError(f"func must be callable, got {func!r}.")
    maxfev = check_number(maxfev, "maxfev", low=1, integer=True)
    tol = check_number(tol, "tol", low=0, closed="neither")
    space = _space_from_bounds(bounds)
    options = dict(options or {})
    if method == "narrowing":
        options.setdefault("min_scale", tol)
        options.setdefault("n_initial", 20)
    oracle = METHODS[method](space, max_trials=maxfev, seed=seed, **options)
    names = list(space)

    def best():
        return np.array([oracle.best_params[n] for n in names]), -oracle.best_score

    success, message = True, f"the {method} strategy finished"
    while (proposal := oracle.ask()) is not None:
        values = []
        for point in proposal.points:
            value = float(func(np.array([point[n] for n in names]), *args))
            values.append(-value if math.isfinite(value) else math.nan)
        oracle.tell(values)
        if callback is not None and oracle.best_params is not None:
            x, fun = best()
            if callback(OptimizeResult(x=x, fun=fun)) is True:
                success, message = False, "stopped by the callback"
                break
        if method == "narrowing" and _agree(oracle.converged, space, tol):
            message = f"two narrowings converged to the same point (within tol={tol:g})"
            break
    else:
        if method == "narrowing" or (method == "guided" and oracle.n_trials >= maxfev):
            success, message = False, "maximum number of function evaluations reached"
        elif method == "guided":
            # One pass of coordinate line searches has no convergence test: in a
            # curved valley it ends wherever no single-coordinate step helps.
            success = False
            message = (f"the guided recipe ended after {oracle.n_trials} evaluations; its "
                       "coordinate line searches have no convergence test, so the point is "
                       "not known to be a minimum")
    if oracle.best_params is None:
        x, fun = np.full(len(names), np.nan), np.nan
        success, message = False, "every evaluation failed (NaN or infinite)"
    else:
        x, fun = best()
    return OptimizeResult(x=x, fun=fun, nfev=oracle.n_trials, nit=len(oracle.history),
                          success=success, message=message, history=oracle.history)
