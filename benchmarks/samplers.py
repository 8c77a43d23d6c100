"""skhp's narrowing search against Optuna's TPE and CMA-ES, scipy's differential evolution
and random search, on the test functions of :mod:`skhp.benchmarks.functions`.

Every strategy minimizes every function of the suite from several seeds with
one budget of evaluations; the best value after the first 50, 100 and 400
evaluations is read from the same run (none of the strategies depends on the
budget, except differential evolution, which is simply cut at it). For each
function and budget the script prints the median over seeds of the best
``f - f*`` per strategy and, per budget, each strategy's mean rank (ranked on
every function and seed, 1 = best, ties shared, averaged). Functions listed in
``HELD_OUT`` are never used to choose narrowing's settings; they are reported
in their own table.

``--round N`` compares strategies that propose N points at a time (a round of
N candidates trains as one pack in skhp): narrowing with ``round_size=N``,
TPE in its constant-liar mode and CMA-ES asked N trials before being told
any, random search; quality is read after 5, 10 and 25
rounds.

Strategies: ``narrowing`` (policy "trust-region", the default),
``narrowing-book`` (policy "book"), ``random`` (skhp's random oracle),
``tpe`` and ``cmaes`` (``optuna.samplers``, default settings, seeded, through
:class:`skhp.search.SamplerOracle`), ``de``
(``scipy.optimize.differential_evolution``, default settings without the
final polish, cut at the budget).

Run: ``pip install -e ".[bench]"`` then ``python benchmarks/samplers.py``
(``--seeds 15 --budget 400``, ``--strategies``, ``--functions``, ``--round 8``,
``--cache FILE`` to keep the peers' runs between invocations, ``--n-jobs``).
"""

import argparse
import json
import os
import time

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import differential_evolution
from scipy.stats import rankdata

from skhp.benchmarks.functions import CHECKS, SUITE
from skhp.search import Real, Space
from skhp.search.narrowing import NarrowingOracle
from skhp.search.random import RandomOracle
from skhp.search.sampler import SamplerOracle

#: Functions never used to tune narrowing's settings: reported on their own.
HELD_OUT = ("goldstein_price", "shekel10", "styblinski_tang8", "griewank5")
FUNCTIONS = {**SUITE, **CHECKS}
STRATEGIES = ("narrowing", "narrowing-book", "random", "tpe", "cmaes", "de")
#: Strategies whose runs do not change when skhp's code does (kept in --cache).
PEERS = ("tpe", "cmaes", "de")
BUDGETS = (50, 100, 400)
ROUNDS = (5, 10, 25)


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


def _de_run(f, budget, seed, batch):
    values = []

    def func(x):
        values.append(f(x))
        return values[-1]

    differential_evolution(func, f.bounds, seed=seed, polish=False, maxiter=10**6,
                           callback=lambda *a, **k: len(values) >= budget)
    return values[:budget]


def run(strategy, name, seed, budget, batch=None):
    """The function values in the order ``strategy`` evaluated them (at most ``budget``)."""
    f = FUNCTIONS[name]()
    if strategy == "narrowing":
        return _oracle_run(NarrowingOracle, f, budget, seed, batch)
    if strategy == "narrowing-book":
        return _oracle_run(NarrowingOracle, f, budget, seed, batch, policy="book")
    if strategy == "random":
        return _oracle_run(RandomOracle, f, budget, seed, batch)
    if strategy in ("tpe", "cmaes"):
        return _oracle_run(SamplerOracle, f, budget, seed, batch, sampler=strategy,
                           round_size=batch or 1)
    if strategy == "de":
        return _de_run(f, budget, seed, batch)
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


def gaps(values, name, checkpoints):
    """Best ``f - f*`` after each checkpoint's number of evaluations."""
    best = np.minimum.accumulate(np.asarray(values, dtype=float))
    fglob = FUNCTIONS[name]().fglob
    return [float(best[min(c, len(best)) - 1] - fglob) for c in checkpoints]


def compare(strategies, names, seeds, budget, batch=None, cache=None, n_jobs=2):
    """``{(strategy, name): array (seeds, checkpoints)}`` of best gaps."""
    checkpoints = [r * batch for r in ROUNDS] if batch else [b for b in BUDGETS if b <= budget]
    budget = max(checkpoints)
    stored = {}
    if cache and os.path.exists(cache):
        with open(cache) as fh:
            stored = json.load(fh)
    key = lambda s, n, seed: f"{s}|{n}|{seed}|{budget}|{batch}"  # noqa: E731
    todo = [(s, n, seed) for s in strategies for n in names for seed in range(seeds)
            if not (s in PEERS and key(s, n, seed) in stored)]
    done = Parallel(n_jobs=n_jobs)(delayed(run)(s, n, seed, budget, batch) for s, n, seed in todo)
    runs = dict(stored)
    runs.update({key(*job): values for job, values in zip(todo, done)})
    if cache:
        with open(cache, "w") as fh:
            json.dump({k: v for k, v in runs.items() if k.split("|")[0] in PEERS}, fh)
    table = {(s, n): np.array([gaps(runs[key(s, n, seed)], n, checkpoints)
                                for seed in range(seeds)])
             for s in strategies for n in names}
    return table, checkpoints


def mean_ranks(table, strategies, names, column):
    """Each strategy's rank on every (function, seed), averaged (1 = best)."""
    ranks = []
    for n in names:
        gaps_ = np.stack([table[s, n][:, column] for s in strategies], axis=1)
        ranks.append(np.apply_along_axis(rankdata, 1, np.round(gaps_, 9)))
    return np.concatenate(ranks).mean(axis=0)


def print_tables(table, checkpoints, strategies, names, batch=None):
    for column, c in enumerate(checkpoints):
        print("\nmedian best f - f* after "
              + (f"{c // batch} rounds of {batch}" if batch else f"{c} evaluations"))
        print(f"{'function':18s}" + "".join(f"{s:>15s}" for s in strategies))
        for n in names:
            row = [float(np.median(table[s, n][:, column])) for s in strategies]
            print(f"{n:18s}" + "".join(f"{v:>14.3g}{'*' if v == min(row) else ' '}" for v in row))
        ranks = mean_ranks(table, strategies, names, column)
        print(f"{'mean rank':18s}" + "".join(f"{r:>15.2f}" for r in ranks))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=15)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--functions", default=",".join(SUITE))
    parser.add_argument("--round", type=int, default=None, help="points proposed at a time")
    parser.add_argument("--cache", default=None, help="JSON file keeping the peers' runs")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    strategies = args.strategies.split(",")
    if args.round:
        strategies = [s for s in strategies if s != "de"]  # no batch mode of its own
    names = args.functions.split(",")
    tic = time.perf_counter()
    table, checkpoints = compare(strategies, names, args.seeds, args.budget, args.round,
                                 args.cache, args.n_jobs)
    tuned = [n for n in names if n not in HELD_OUT]
    held = [n for n in names if n in HELD_OUT]
    print(f"{args.seeds} seeds; * marks the lowest median")
    for title, group in (("tuning functions", tuned), ("held-out functions", held)):
        if group:
            print(f"\n=== {title} ({len(group)}) ===")
            print_tables(table, checkpoints, strategies, group, args.round)
    if tuned and held:
        print("\n=== all functions: mean rank ===")
        for column, c in enumerate(checkpoints):
            ranks = mean_ranks(table, strategies, names, column)
            when = f"{c // args.round} rounds of {args.round}" if args.round else f"{c} evaluations"
            print(f"{when:>16s}: " + "  ".join(
                f"{s} {r:.2f}" for s, r in zip(strategies, ranks)))
    print(f"\n{time.perf_counter() - tic:.0f} s")


if __name__ == "__main__":
    main()
