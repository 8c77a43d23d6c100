"""Every example script runs to the end on a tiny budget."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TINY = {"schedules_compared.py": ["--epochs", "1", "--seeds", "1"]}


@pytest.mark.parametrize("script", sorted(TINY))
def test_example_runs(script, tmp_path):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *TINY[script], "--plots", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1cycle" in out.stdout
    assert len(list(tmp_path.glob("*.png"))) == 3


def test_every_example_has_a_smoke_setting():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(TINY)
