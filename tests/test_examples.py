"""Every example script runs to the end on a tiny budget and prints what it shows."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # integration: the fast tier is pytest -m "not slow"

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: script -> (tiny-budget arguments, text its output must contain, pictures it writes)
TINY = {
    "beale_baselines.py": (["--seeds", "1", "--out", "{tmp}"], "skhp narrowing", 1),
    "beale_surrogate.py": (["--samples", "200", "--trials", "3", "--epochs", "1"],
                           "surrogate minimum at", 0),
    "dask_search.py": (["--trials", "4", "--epochs", "3", "--workers", "1", "--pruning", "halving"],
                       "trials pruned between rungs", 0),
    "initializer_grid.py": (["--epochs", "1"], "best:", 0),
    "keras_tuner_build.py": (["--trials", "2", "--epochs", "1"], "best CV accuracy", 0),
    "lottery_draws.py": (["--draws", "2", "--epochs", "1", "--seeds", "1"], "kept draw", 0),
    "lr_range_test.py": (["--epochs", "1", "--plots", "{tmp}"], 'learning_rate="auto" trained at', 2),
    "onecycle_vs_constant.py": (["--epochs", "1", "--seeds", "1"], "1cycle", 0),
    "pipeline.py": (["--trials", "2", "--epochs", "1"], "test ROC AUC", 0),
    "schedules_compared.py": (["--epochs", "1", "--seeds", "1", "--plots", "{tmp}"], "1cycle", 8),
    "search_strategies.py": (["--trials", "2", "--epochs", "1"], "guided search's decisions", 0),
    "smoothing_weight_decay.py": (["--epochs", "1"], "mean max p", 0),
    "stabilized_search.py": (["--trials", "2", "--epochs", "1", "--warmup", "1", "--lottery", "2"],
                             "stabilized weights", 0),
    "warmup.py": (["--epochs", "2", "--warmup", "1"], "warm-up", 0),
}


@pytest.mark.parametrize("script", sorted(TINY))
def test_example_runs(script, tmp_path):
    args, expected, pictures = TINY[script]
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *[a.format(tmp=tmp_path) for a in args]],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert expected in out.stdout
    assert len(list(tmp_path.glob("*.png"))) == pictures


def test_every_example_has_a_smoke_setting():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(TINY)
