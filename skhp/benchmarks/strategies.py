"""Search strategies compared on the test functions: runs, gaps to the optimum, mean ranks.

Every strategy minimizes a function of :data:`FUNCTIONS` from a seed with a
budget of evaluations; the best ``f - f*`` after each checkpoint (say 100
and 400 evaluations) is read from that one run, since none of the
strategies depends on its budget (differential evolution is cut at it).
Strategies are ranked on every function and seed (1 = best, ties shared),
ranks averaged. Gaps below :data:`SOLVED` count as equal: the optima of
several functions are known to fewer digits.

``benchmarks/samplers.py`` prints these tables; the search guide draws one
at build time.

Examples
--------
>>> table = compare(["narrowing", "random"], ["beale"], seeds=2, checkpoints=[100])
>>> table["narrowing", "beale"].shape
(2, 1)
>>> ranks = mean_ranks(table, ["narrowing", "random"], ["beale"], 0)
>>> bool(ranks[0] < ranks[1])
True
"""

import json

import numpy as np
from scipy.optimize import differential_evolution
from scipy.stats import rankdata

from skhp.benchmarks.functions import CHECKS, SUITE
from skhp.search import Real, Space
from skhp.search.narrowing import NarrowingOracle
from skhp.search.random import RandomOracle

__all__ = ["FUNCTIONS", "STRATEGIES", "PEERS", "SOLVED", "run", "gaps", "compare", "mean_ranks",
           "format_table", "save_gaps", "load_gaps"]

#: Every function a comparison may use: the suite, then the checks kept apart from it.
FUNCTIONS = {**SUITE, **CHECKS}
#: The strategies by name (``tpe`` and ``cmaes`` are Optuna's, with their default settings).
STRATEGIES = ("narrowing", "narrowing-book", "random", "tpe", "cmaes", "de")
#: Strategies whose runs do not change when skhp's code does.
PEERS = ("tpe", "cmaes", "de")
#: A gap below this counts as reaching the optimum (ties in the ranks).
SOLVED = 1e-8


def _oracle_run(cls, f, budget, seed, batch, **options):
    space = Space({f"x{i}": Real(lo, hi) for i, (lo, hi) in enumerate(f.bounds)})
    if batch and cls is NarrowingOracle:
        options.update(round_size=batch)
    elif batch and cls is RandomOracle:
        options.update(batch=batch)
    oracle = cls(space, max_trials=budget, seed=seed, **options)
    names, values = list(space), []
    while (proposal := oracle.ask()) is not None:
        X = np.array([[p[n] for n in names] for p in proposal.points])
        scores = f(X)
        values.extend(scores.tolist())
        oracle.tell((-scores).tolist())
    return values


def _de_run(f, budget, seed):
    values = []

    def func(x):
        values.append(f(x))
        return values[-1]

    differential_evolution(func, f.bounds, seed=seed, polish=False, maxiter=10**6,
                           callback=lambda *a, **k: len(values) >= budget)
    return values[:budget]


def run(strategy, name, seed, budget, batch=None):
    """The function values in the order ``strategy`` evaluated them (at most ``budget``).

    ``batch``: points proposed at a time (a narrowed round's size, TPE's constant liar,
    CMA-ES asked that many before being told any); None proposes one at a time where
    the strategy can (narrowing's rounds keep their default size).

    Examples
    --------
    >>> len(run("random", "branin", seed=0, budget=30))
    30
    """
    f = FUNCTIONS[name]()
    if strategy == "narrowing":
        return _oracle_run(NarrowingOracle, f, budget, seed, batch)
    if strategy == "narrowing-book":
        return _oracle_run(NarrowingOracle, f, budget, seed, batch, policy="book")
    if strategy == "random":
        return _oracle_run(RandomOracle, f, budget, seed, batch)
    if strategy in ("tpe", "cmaes"):
        from skhp.search.sampler import SamplerOracle

        return _oracle_run(SamplerOracle, f, budget, seed, batch, sampler=strategy,
                           round_size=batch or 1)
    if strategy == "de":
        return _de_run(f, budget, seed)
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


def gaps(values, name, checkpoints):
    """Best ``f - f*`` after each checkpoint's number of evaluations.

    Examples
    --------
    >>> gaps([5.0, 1.0, 3.0], "beale", [1, 3])
    [5.0, 1.0]
    """
    best = np.minimum.accumulate(np.asarray(values, dtype=float))
    fglob = FUNCTIONS[name]().fglob
    return [float(best[min(c, len(best)) - 1] - fglob) for c in checkpoints]


def compare(strategies, names, seeds, checkpoints, batch=None, stored=None, n_jobs=1):
    """``{(strategy, name): array (seeds, checkpoints)}`` of best gaps.

    ``stored`` maps ``(strategy, name)`` to gaps already measured (the same seeds and
    checkpoints): those runs are not made again. Runs are spread over ``n_jobs`` processes.
    """
    from joblib import Parallel, delayed

    stored = stored or {}
    budget = max(checkpoints)
    todo = [(s, n, seed) for s in strategies for n in names for seed in range(seeds)
            if (s, n) not in stored]
    done = Parallel(n_jobs=n_jobs)(delayed(run)(s, n, seed, budget, batch) for s, n, seed in todo)
    runs = {job: gaps(values, job[1], checkpoints) for job, values in zip(todo, done)}
    return {(s, n): np.asarray(stored[s, n]) if (s, n) in stored else
            np.array([runs[s, n, seed] for seed in range(seeds)])
            for s in strategies for n in names}


def mean_ranks(table, strategies, names, column):
    """Each strategy's rank on every (function, seed) at checkpoint ``column``, averaged
    (1 = best; gaps below :data:`SOLVED` tie)."""
    ranks = []
    for n in names:
        values = np.stack([table[s, n][:, column] for s in strategies], axis=1)
        values = np.where(values < SOLVED, 0.0, np.round(values, 9))
        ranks.append(np.apply_along_axis(rankdata, 1, values))
    return np.concatenate(ranks).mean(axis=0)


def format_table(table, strategies, names, checkpoints, column):
    """The median gap per function and the mean ranks at ``checkpoints[column]``, as an
    reStructuredText table (``*`` marks the lowest median)."""
    header = ["function"] + list(strategies)
    rows = []
    for n in names:
        medians = [float(np.median(table[s, n][:, column])) for s in strategies]
        low = min(max(m, SOLVED) for m in medians)
        rows.append([n] + [f"{m:.3g}" + ("*" if max(m, SOLVED) == low else "") for m in medians])
    rows.append(["mean rank"] + [f"{r:.2f}" for r in mean_ranks(table, strategies, names, column)])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([rule, line(header), rule, *map(line, rows), rule])


def save_gaps(path, table, strategies, settings):
    """Write the gaps of ``strategies`` in ``table`` to the JSON file ``path``, with the
    ``settings`` they were measured with (``seeds``, ``checkpoints``, ``batch``) and the
    Optuna version that ran TPE and CMA-ES."""
    import optuna

    with open(path, "w") as fh:
        json.dump({"settings": settings, "optuna": optuna.__version__,
                   "gaps": {f"{s}|{n}": gaps.tolist() for (s, n), gaps in table.items()
                            if s in strategies}}, fh)


def load_gaps(path):
    """``(settings, {(strategy, name): gaps}, optuna version)`` of a :func:`save_gaps` file.

    Examples
    --------
    >>> import os, tempfile
    >>> table = compare(["random"], ["branin"], seeds=2, checkpoints=[10])
    >>> path = os.path.join(tempfile.mkdtemp(), "gaps.json")
    >>> save_gaps(path, table, ["random"], {"seeds": 2, "checkpoints": [10], "batch": None})
    >>> settings, stored, _ = load_gaps(path)
    >>> settings["seeds"], bool((stored["random", "branin"] == table["random", "branin"]).all())
    (2, True)
    """
    with open(path) as fh:
        data = json.load(fh)
    stored = {tuple(key.split("|")): np.array(gaps) for key, gaps in data["gaps"].items()}
    return data["settings"], stored, data["optuna"]
