"""The Beale test function and an honest comparison of search strategies on it.

f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2 on
[-4.5, 4.5]^2, with its global minimum f(3, 0.5) = 0, long flat valleys and a
local minimum on the boundary near (-4.5, 1.19). The runner compares
scipy.optimize's local methods (from random starting points), its global
methods, and skhp's grid, random, narrowing and guided strategies, over many
seeds: success rate (best point within 1e-2 of (3, 0.5)), median function
evaluations, median final value.

Run ``python -m skhp.benchmarks.beale --help``.
"""

import argparse
import csv
import sys
import time
from functools import partial

import numpy as np
import scipy.optimize

from skhp.optimize import minimize as skhp_minimize

__all__ = ["Beale", "beale", "BOUNDS", "OPTIMUM", "METHODS", "run", "format_table",
           "save_csv", "plot_contour", "main"]

#: The search box.
BOUNDS = [(-4.5, 4.5), (-4.5, 4.5)]
#: Where the global minimum (f = 0) lies.
OPTIMUM = np.array([3.0, 0.5])
#: Distance to :data:`OPTIMUM` that counts as a success.
SUCCESS_DISTANCE = 1e-2


def beale(x):
    """The Beale function at ``x = (x, y)`` (arrays of points work too).

    Examples
    --------
    >>> beale([3.0, 0.5])
    0.0
    >>> round(beale([0.0, 0.0]), 4)
    14.2031
    """
    a, b = x[0], x[1]
    value = (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2
    return float(value) if np.ndim(value) == 0 else value


class Beale:
    """The Beale function with its bounds, optimum and an evaluation record.

    Attributes
    ----------
    bounds : list of (float, float)
    global_optimum : ndarray
    fglob : float
        The value at the optimum, 0.
    nfev : int
        Evaluations so far.
    points : list of ndarray
        Every point evaluated, in order.

    Examples
    --------
    >>> f = Beale()
    >>> f([3.0, 0.5]), f.nfev
    (0.0, 1)
    """

    bounds = BOUNDS
    global_optimum = OPTIMUM
    fglob = 0.0

    def __init__(self):
        self.nfev = 0
        self.points = []

    def __call__(self, x):
        self.nfev += 1
        self.points.append(np.array(x, dtype=float))
        return beale(x)


def _start(seed):
    return np.random.default_rng(seed).uniform(-4.5, 4.5, 2)


def _scipy_local(method, f, seed, maxfev):
    bounds = None if method == "BFGS" else BOUNDS
    return scipy.optimize.minimize(f, _start(seed), method=method, bounds=bounds).x


def _differential_evolution(f, seed, maxfev):
    return scipy.optimize.differential_evolution(f, BOUNDS, seed=seed).x


def _dual_annealing(f, seed, maxfev):
    return scipy.optimize.dual_annealing(f, BOUNDS, seed=seed).x


def _skhp(method, f, seed, maxfev, **options):
    return skhp_minimize(f, BOUNDS, method=method, seed=seed, maxfev=maxfev, options=options).x


#: Method name -> (kind, runner(f, seed, maxfev) -> best x).
METHODS = {
    "Nelder-Mead": ("scipy local", partial(_scipy_local, "Nelder-Mead")),
    "Powell": ("scipy local", partial(_scipy_local, "Powell")),
    "BFGS": ("scipy local", partial(_scipy_local, "BFGS")),
    "L-BFGS-B": ("scipy local", partial(_scipy_local, "L-BFGS-B")),
    "differential_evolution": ("scipy global", _differential_evolution),
    "dual_annealing": ("scipy global", _dual_annealing),
    "skhp grid": ("skhp", partial(_skhp, "grid")),
    "skhp random": ("skhp", partial(_skhp, "random")),
    "skhp guided": ("skhp", partial(_skhp, "guided")),
    "skhp narrowing": ("skhp", partial(_skhp, "narrowing")),
    "skhp narrowing (book)": ("skhp", partial(_skhp, "narrowing", policy="book")),
}


def run(methods=None, n_seeds=20, maxfev=1000, first_seed=0):
    """Run each method once per seed on the Beale function.

    Parameters
    ----------
    methods : list of str or None, default=None
        Names from :data:`METHODS`; None runs them all.
    n_seeds : int, default=20
        Runs per method (each local method starts from a different random
        point, each global or skhp one gets a different seed).
    maxfev : int, default=1000
        Evaluation budget of skhp's strategies.
    first_seed : int, default=0
        Seeds are ``first_seed, first_seed + 1, ...``.

    Returns
    -------
    list of dict
        One row per method: ``method``, ``kind``, ``success`` (runs within
        1e-2 of the optimum), ``runs``, ``success_rate``, ``median_nfev``,
        ``median_f``, ``median_distance``, ``seconds``, and ``best_points``
        (each run's final point).

    Examples
    --------
    >>> row, = run(["skhp narrowing"], n_seeds=2)
    >>> row["success"], row["median_nfev"] <= 1000
    (2, True)
    """
    rows = []
    for name in methods or list(METHODS):
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; choose from {list(METHODS)}.")
        kind, runner = METHODS[name]
        nfev, values, distances, points = [], [], [], []
        tic = time.perf_counter()
        for seed in range(first_seed, first_seed + n_seeds):
            f = Beale()
            x = np.asarray(runner(f, seed, maxfev), dtype=float)
            nfev.append(f.nfev)
            values.append(beale(x))
            distances.append(float(np.linalg.norm(x - OPTIMUM)))
            points.append(x)
        success = int(sum(d < SUCCESS_DISTANCE for d in distances))
        rows.append({
            "method": name, "kind": kind, "success": success, "runs": n_seeds,
            "success_rate": success / n_seeds, "median_nfev": float(np.median(nfev)),
            "median_f": float(np.median(values)), "median_distance": float(np.median(distances)),
            "seconds": time.perf_counter() - tic, "best_points": points,
        })
    return rows


_COLUMNS = ["method", "kind", "success", "runs", "success_rate", "median_nfev", "median_f",
            "median_distance", "seconds"]


def format_table(rows):
    """The rows of :func:`run` as an aligned text table.

    Examples
    --------
    >>> print(format_table([{"method": "m", "kind": "k", "success": 1, "runs": 2,
    ...     "success_rate": 0.5, "median_nfev": 10.0, "median_f": 0.1,
    ...     "median_distance": 0.2, "seconds": 0.01}]).splitlines()[2].split())
    ['m', 'k', '1/2', '50%', '10', '0.1', '0.2', '0.0']
    """
    header = ["method", "kind", "success", "rate", "median nfev", "median f",
              "median dist", "time s"]
    body = [[r["method"], r["kind"], f"{r['success']}/{r['runs']}", f"{r['success_rate']:.0%}",
             f"{r['median_nfev']:.0f}", f"{r['median_f']:.3g}", f"{r['median_distance']:.3g}",
             f"{r['seconds']:.1f}"] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    for row in body:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def save_csv(rows, path):
    """Write the rows of :func:`run` (without the points) to a CSV file."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def plot_contour(rows, path, trajectory_seed=0):
    """Contour plot of the Beale surface with every run's final point per method.

    The evaluations of one narrowing run (seed ``trajectory_seed``) are drawn
    as a faint trail, to show where the search spent its budget.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(-4.5, 4.5, 400)
    xx, yy = np.meshgrid(grid, grid)
    zz = beale((xx, yy))
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.contourf(xx, yy, np.log10(zz + 1e-3), levels=30, cmap="viridis", alpha=0.8)
    f = Beale()
    skhp_minimize(f, BOUNDS, method="narrowing", seed=trajectory_seed)
    trail = np.array(f.points)
    ax.plot(trail[:, 0], trail[:, 1], ".", color="white", ms=2, alpha=0.5,
            label=f"narrowing evaluations (seed {trajectory_seed})")
    markers = "ov^<>sPXD*"
    for marker, row in zip(markers, rows):
        pts = np.array(row["best_points"])
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=40, edgecolor="black",
                   label=f"{row['method']} ({row['success']}/{row['runs']})")
    ax.plot(*OPTIMUM, "r+", ms=20, mew=2, label="optimum (3, 0.5)")
    ax.set(xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), xlabel="x", ylabel="y",
           title="Beale function (log10 f): final point of every run")
    ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    """Command line: run the comparison, print the table, save CSV and plot."""
    parser = argparse.ArgumentParser(
        prog="python -m skhp.benchmarks.beale",
        description="Compare scipy.optimize and skhp strategies on the Beale function.",
    )
    parser.add_argument("--seeds", type=int, default=20, help="runs per method (default 20)")
    parser.add_argument("--maxfev", type=int, default=1000,
                        help="evaluation budget of skhp's strategies (default 1000)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), metavar="METHOD",
                        help="methods to run (default all): " + ", ".join(METHODS))
    parser.add_argument("--csv", help="write the table to this CSV file")
    parser.add_argument("--plot", help="write the contour plot to this PNG file")
    args = parser.parse_args(argv)
    rows = run(args.methods, n_seeds=args.seeds, maxfev=args.maxfev)
    print(format_table(rows))
    if args.csv:
        save_csv(rows, args.csv)
        print(f"table written to {args.csv}")
    if args.plot:
        plot_contour(rows, args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
