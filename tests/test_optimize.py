"""skhp.optimize.minimize and the Beale benchmark runner."""

import csv

import numpy as np
import pytest
from scipy.optimize import Bounds, OptimizeResult

from skhp.benchmarks import beale as bench
from skhp.optimize import minimize


def test_beale_function_values():
    assert bench.beale([3.0, 0.5]) == 0.0
    # (1.5 - 1 + 1)^2 + (2.25 - 1 + 1)^2 + (2.625 - 1 + 1)^2 at (1, 1)
    assert bench.beale([1.0, 1.0]) == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)
    grid = bench.beale((np.array([3.0, 1.0]), np.array([0.5, 1.0])))
    np.testing.assert_allclose(grid, [0.0, 14.203125])


@pytest.mark.parametrize("method", ["narrowing", "random", "grid", "guided"])
def test_minimize_returns_a_valid_optimize_result(method):
    res = minimize(bench.beale, bench.BOUNDS, method=method, seed=0, maxfev=300)
    assert isinstance(res, OptimizeResult)
    assert set(res) >= {"x", "fun", "nfev", "nit", "success", "message"}
    assert res.x.shape == (2,) and np.all(np.abs(res.x) <= 4.5)
    assert res.fun == pytest.approx(bench.beale(res.x))
    assert 1 <= res.nfev <= 300 and res.nit >= 1
    assert isinstance(res.message, str)


def test_narrowing_finds_the_beale_optimum_over_seeds():
    # several seeds, not one path (a path changes with the CPU's floating point)
    runs = []
    for seed in range(5):
        f = bench.Beale()
        res = minimize(f, bench.BOUNDS, seed=seed)
        assert res.nfev == f.nfev <= 1000
        runs.append(res)
    found = [r for r in runs if r.success and np.linalg.norm(r.x - bench.OPTIMUM) < 1e-2]
    assert len(found) >= 4, [(r.message, r.x) for r in runs]
    assert all("converged" in r.message for r in found)


def test_budget_and_callback_stop_the_search():
    res = minimize(bench.beale, bench.BOUNDS, seed=0, maxfev=50)
    assert res.nfev == 50 and not res.success
    assert "maximum number of function evaluations" in res.message
    seen = []

    def callback(intermediate):
        seen.append(intermediate.fun)
        return len(seen) == 3

    res = minimize(bench.beale, Bounds([-4.5, -4.5], [4.5, 4.5]), seed=0, callback=callback)
    assert len(seen) == 3 and not res.success and res.message == "stopped by the callback"
    assert seen == sorted(seen, reverse=True)  # the best value so far never gets worse


def test_args_and_failed_evaluations():
    def f(x, shift):
        return np.nan if x[0] < 0 else (x[0] - shift) ** 2
    res = minimize(f, [(-1, 1)], args=(0.5,), seed=0, maxfev=200)
    assert abs(res.x[0] - 0.5) < 1e-2
    res = minimize(lambda x: np.inf, [(-1, 1)], maxfev=10)
    assert not res.success and np.isnan(res.fun) and "every evaluation failed" in res.message


@pytest.mark.parametrize("kwargs, error, message", [
    ({"method": "annealing"}, ValueError, "method='annealing' is not valid; allowed values"),
    ({"method": "narowing"}, ValueError, "Did you mean 'narrowing'"),
    ({"maxfev": 0}, ValueError, "maxfev == 0, must be >= 1"),
    ({"tol": 0}, ValueError, "tol == 0, must be > 0"),
    ({"bounds": [(1, 0)]}, ValueError, "low must not exceed high"),
    ({"bounds": [1, 2]}, ValueError, "bounds must be a sequence of"),
    ({"bounds": []}, ValueError, "at least one"),
    ({"func": 3}, TypeError, "func must be callable"),
])
def test_bad_arguments(kwargs, error, message):
    call = {"func": bench.beale, "bounds": bench.BOUNDS, **kwargs}
    with pytest.raises(error, match=message):
        minimize(call.pop("func"), call.pop("bounds"), **call)


def test_runner_table_csv_and_plot(tmp_path):
    rows = bench.run(["L-BFGS-B", "skhp random", "skhp narrowing"], n_seeds=3)
    by_name = {r["method"]: r for r in rows}
    assert by_name["skhp narrowing"]["success"] == 3
    assert by_name["skhp random"]["median_nfev"] == 1000
    table = bench.format_table(rows)
    assert table.splitlines()[0].split()[:3] == ["method", "kind", "success"]
    assert "skhp narrowing" in table and "3/3" in table
    bench.save_csv(rows, tmp_path / "beale.csv")
    with open(tmp_path / "beale.csv") as fh:
        read = list(csv.DictReader(fh))
    assert [r["method"] for r in read] == ["L-BFGS-B", "skhp random", "skhp narrowing"]
    assert "best_points" not in read[0]
    bench.plot_contour(rows, tmp_path / "beale.png")
    assert (tmp_path / "beale.png").stat().st_size > 10_000


def test_runner_command_line(tmp_path, capsys):
    assert bench.main(["--seeds", "2", "--methods", "Nelder-Mead", "skhp narrowing",
                       "--csv", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "Nelder-Mead" in out and "table written to" in out
    with pytest.raises(SystemExit):
        bench.main(["--methods", "gradient-descent"])
