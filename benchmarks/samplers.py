"""skhp's narrowing search against Optuna's TPE and CMA-ES, random search and scipy's
differential evolution, on the test functions of :mod:`skhp.benchmarks.functions`.

Every strategy minimizes every function from several seeds with one budget;
the best value after 100 and 400 evaluations is read from the same run (see
:mod:`skhp.benchmarks.strategies`). Printed for each checkpoint: the median
over seeds of the best ``f - f*`` per strategy and function, each strategy's
mean rank (1 = best), and, for narrowing, the functions where its median is
more than 10 times the best peer's (gaps below 1e-8 count as solved). The
suite's functions are reported apart from the checks (``CHECKS``: Branin,
six-hump camel, Zakharov 6, Schwefel 4, a rotated ellipsoid), which were
never looked at while narrowing's mechanisms were chosen.

``--round N`` compares strategies proposing N points at a time (a round of N
candidates trains as one pack in skhp): narrowing with ``round_size=N``, TPE
in its constant-liar mode, CMA-ES asked N trials before being told any,
random search; quality is read after 5, 10 and 25 rounds.

``--save-peers FILE`` writes the peers' gaps (TPE, CMA-ES, differential
evolution, random) for the docs' table, which runs narrowing itself at build
time.

Run: ``pip install -e ".[bench]"`` then ``python benchmarks/samplers.py``
(``--seeds 10``, ``--strategies``, ``--functions``, ``--round 8``, ``--cache FILE``
to keep the peers' runs between invocations, ``--n-jobs``).
"""

import argparse
import os
import time

import numpy as np

from skhp.benchmarks.functions import CHECKS, SUITE
from skhp.benchmarks.strategies import (
    PEERS,
    SOLVED,
    STRATEGIES,
    compare,
    format_table,
    load_gaps,
    mean_ranks,
    save_gaps,
)

CHECKPOINTS = (100, 400)
ROUNDS = (5, 10, 25)
#: The peers kept by --save-peers (random search's runs do not change with narrowing's code).
SAVED = ("tpe", "cmaes", "random")


def _settings(seeds, checkpoints, batch):
    return {"seeds": seeds, "checkpoints": list(checkpoints), "batch": batch}


def _load(path, settings):
    """The stored gaps of ``path`` if they were measured with these ``settings``."""
    if not path or not os.path.exists(path):
        return {}
    stored_settings, stored, _ = load_gaps(path)
    return stored if stored_settings == settings else {}


def ten_times_worse(table, names, column, peers=("tpe", "cmaes", "random")):
    """The functions where narrowing's median gap is more than 10 times the best peer's."""
    out = []
    for n in names:
        best = min(max(float(np.median(table[p, n][:, column])), SOLVED) for p in peers
                   if (p, n) in table)
        mine = max(float(np.median(table["narrowing", n][:, column])), SOLVED)
        if mine > 10 * best:
            out.append(f"{n} ({mine:.3g} vs {best:.3g})")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--strategies", default="narrowing,tpe,cmaes,random")
    parser.add_argument("--functions", default=",".join([*SUITE, *CHECKS]))
    parser.add_argument("--round", type=int, default=None, help="points proposed at a time")
    parser.add_argument("--cache", default=None, help="JSON file keeping the peers' runs")
    parser.add_argument("--save-peers", default=None, help="JSON file for the docs' table")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    strategies = args.strategies.split(",")
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        parser.error(f"unknown strategies {sorted(unknown)}; choose from {STRATEGIES}")
    if args.round:
        strategies = [s for s in strategies if s != "de"]  # no batch mode of its own
    checkpoints = [r * args.round for r in ROUNDS] if args.round else list(CHECKPOINTS)
    names = args.functions.split(",")
    tic = time.perf_counter()
    settings = _settings(args.seeds, checkpoints, args.round)
    stored = {k: v for k, v in _load(args.cache, settings).items() if k[0] in PEERS + ("random",)}
    table = compare(strategies, names, args.seeds, checkpoints, args.round, stored, args.n_jobs)
    if args.cache:
        save_gaps(args.cache, table, PEERS + ("random",), settings)
    if args.save_peers:
        save_gaps(args.save_peers, table, SAVED, settings)
    print(f"{args.seeds} seeds; median best f - f*, * marks the lowest (gaps below {SOLVED:g} "
          "tie)")
    groups = [("suite", [n for n in names if n in SUITE]),
              ("checks, kept apart", [n for n in names if n in CHECKS])]
    for column, c in enumerate(checkpoints):
        when = f"{c // args.round} rounds of {args.round}" if args.round else f"{c} evaluations"
        for title, group in groups:
            if group:
                print(f"\n=== {title}: after {when} ===")
                print(format_table(table, strategies, group, checkpoints, column))
        ranks = mean_ranks(table, strategies, names, column)
        print(f"\nall {len(names)} functions, mean rank after {when}: " + "  ".join(
            f"{s} {r:.2f}" for s, r in zip(strategies, ranks)))
        if "narrowing" in strategies and len(strategies) > 1:
            worse = ten_times_worse(table, names, column,
                                    [s for s in strategies if s != "narrowing"])
            print("narrowing more than 10x worse than the best peer on: "
                  + (", ".join(worse) if worse else "none"))
    print(f"\n{time.perf_counter() - tic:.0f} s")


if __name__ == "__main__":
    main()
