"""The Beale benchmark: scipy.optimize's methods against skhp's strategies.

Prints the comparison table (success within 1e-2 of the optimum (3, 0.5),
median evaluations, median final value) and writes the CSV and the contour plot.

Run: ``python examples/beale_baselines.py`` (``--seeds``, ``--out FOLDER``).
"""

import argparse
import os

from skhp.benchmarks import beale


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--out", default=".", help="folder for beale.csv and beale.png")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = beale.run(n_seeds=args.seeds)
    print(beale.format_table(rows))
    beale.save_csv(rows, os.path.join(args.out, "beale.csv"))
    beale.plot_contour(rows, os.path.join(args.out, "beale.png"))
    print(f"beale.csv and beale.png written to {args.out}")


if __name__ == "__main__":
    main()
