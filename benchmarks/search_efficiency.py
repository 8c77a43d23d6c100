"""Trials needed to reach a target CV score: NarrowingSearchCV vs RandomizedSearchCV.

The searches get the same space, budget, CV splits and seeds (NarrowingSearchCV
its default settings, 10 random candidates then rounds of 5, with each
narrowing policy, "trust-region" and "book"); for each seed
the script finds the first trial whose mean CV score reaches the target and
prints the median over seeds and the ratio narrowing / random (target: at
most 0.5) for each policy. A search that never reaches the target counts as budget + 1.

Problems:

- ``svc``: an RBF SVC on 600 digits, C and gamma over wide log ranges
  (cheap, so it runs many seeds);
- ``mlp``: an skhp MLP (32,) on 900 digits, 5 epochs, learning rate, batch
  size, weight decay and initializer.

Run: ``python benchmarks/search_efficiency.py`` (``--problems``, ``--seeds``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from skhp import KerasClassifier  # noqa: E402
from skhp.search import Choice, Integer, NarrowingSearchCV, Real, Space  # noqa: E402


def _svc():
    X, y = load_digits(return_X_y=True)
    space = {"C": Real(1e-3, 1e4, log=True), "gamma": Real(1e-7, 1e1, log=True)}
    return SVC(), space, X[:600] / 16, y[:600], dict(budget=60, target=0.99, cv=3)


def _mlp():
    X, y = load_digits(return_X_y=True)
    space = {"learning_rate": Real(1e-5, 1.0, log=True), "batch_size": Integer(16, 512, base=2),
             "weight_decay": Real(1e-6, 1e-1, log=True),
             "initializer": Choice(["he_normal", "glorot_uniform", "lecun_normal", "random_uniform"])}
    est = KerasClassifier(hidden_layer_sizes=(32,), epochs=5, random_state=0)
    return est, space, X[:900] / 16, y[:900], dict(budget=30, target=0.92, cv=2)


PROBLEMS = {"svc": _svc, "mlp": _mlp}
POLICIES = ("trust-region", "book")


def trials_to_target(search, target, budget):
    """1-based index of the first candidate reaching ``target`` (budget + 1 if none)."""
    scores = np.nan_to_num(search.cv_results_["mean_test_score"], nan=-np.inf)
    hits = np.flatnonzero(scores >= target)
    return int(hits[0]) + 1 if hits.size else budget + 1


def compare(problem, seeds, policies=POLICIES):
    estimator, space, X, y, cfg = PROBLEMS[problem]()
    cv = StratifiedKFold(cfg["cv"], shuffle=True, random_state=0)
    counts = {**{policy: [] for policy in policies}, "random": []}
    tic = time.perf_counter()
    for seed in range(seeds):
        for policy in policies:
            narrowing = NarrowingSearchCV(estimator, space, n_iter=cfg["budget"], cv=cv,
                                          policy=policy, random_state=seed, refit=False).fit(X, y)
            counts[policy].append(trials_to_target(narrowing, cfg["target"], cfg["budget"]))
        random = RandomizedSearchCV(estimator, Space(space).to_param_distributions(),
                                    n_iter=cfg["budget"], cv=cv,
                                    random_state=seed, refit=False).fit(X, y)
        counts["random"].append(trials_to_target(random, cfg["target"], cfg["budget"]))
    med = {k: float(np.median(v)) for k, v in counts.items()}
    return {"problem": problem, "target": cfg["target"], "budget": cfg["budget"], "seeds": seeds,
            "median": med, "ratio": {p: med[p] / med["random"] for p in policies},
            "counts": counts, "seconds": time.perf_counter() - tic}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per problem (default 20 for svc, 5 for mlp)")
    args = parser.parse_args()
    print(f"{'problem':<8} {'target':>7} {'budget':>6} {'seeds':>5} {'search':>24} "
          f"{'median trials':>13} {'/ random':>8}")
    for problem in args.problems:
        seeds = args.seeds or {"svc": 20, "mlp": 5}[problem]
        r = compare(problem, seeds)
        for name in (*POLICIES, "random"):
            label = "random" if name == "random" else f"narrowing ({name})"
            ratio = 1.0 if name == "random" else r["ratio"][name]
            print(f"{r['problem']:<8} {r['target']:>7} {r['budget']:>6} {r['seeds']:>5} "
                  f"{label:>24} {r['median'][name]:>13.1f} {ratio:>8.2f}")
        for name, counts in r["counts"].items():
            print(f"  trials to target per seed, {name}: {counts}")
        print(f"  {r['seconds']:.0f} s")

if __name__ == "__main__":
    main()
