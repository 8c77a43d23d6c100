"""Every example script runs to the end on a tiny budget and prints what it shows."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: script -> (tiny-budget arguments, text its output must contain, pictures it writes)
TINY = {
    "schedules_compared.py": (["--epochs", "1", "--seeds", "1", "--plots", "{tmp}"], "1cycle", 3),
    "beale_surrogate.py": (["--samples", "200", "--trials", "3", "--epochs", "1"],
                           "surrogate minimum at", 0),
    "stabilized_search.py": (["--trials", "2", "--epochs", "1", "--warmup", "1", "--lottery", "2"],
                             "stabilized weights", 0),
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
