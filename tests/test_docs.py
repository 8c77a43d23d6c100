"""The Sphinx documentation builds with warnings treated as errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # integration: the fast tier is pytest -m "not slow"

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS),
         str(tmp_path / "html")],
        capture_output=True, text=True, timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert out.returncode == 0, out.stderr[-4000:]
    html = (tmp_path / "html" / "api.html").read_text()
    assert "NarrowingSearchCV" in html and "lottery_losses_" in html
    for page in ("schedules", "beale", "lr_find", "searching", "initialization"):
        assert (tmp_path / "html" / "guide" / f"{page}.html").exists()
    beale = (tmp_path / "html" / "guide" / "beale.html").read_text()
    assert "differential_evolution" in beale and "skhp narrowing (book)" in beale  # this build's run
    searching = (tmp_path / "html" / "guide" / "searching.html").read_text()
    assert "rotated_ellipsoid6" in searching and "After 400 evaluations" in searching
    pictures = {p.name for p in (tmp_path / "html" / "_images").iterdir()}
    assert {"schedule_onecycle.png", "beale.png", "lr_find.png", "narrowing_scores.png"} <= pictures
