"""Importing the search side of skhp, and the command's help, do not start TensorFlow."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("code", [
    "import skhp.search",
    "import skhp.optimize",
    "import skhp; skhp.__version__",
    "from skhp.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    "from skhp.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass",
])
def test_no_tensorflow_until_an_estimator_is_used(code):
    check = code + "\nimport sys\nassert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "I0000" not in run.stderr and "E0000" not in run.stderr  # no TensorFlow log lines


def test_public_names_load_on_first_use():
    import skhp

    assert {"KerasClassifier", "stabilize", "lr_find", "NarrowingSearchCV"} <= set(dir(skhp))
    assert callable(skhp.stabilize) and callable(skhp.lr_find)
    with pytest.raises(AttributeError, match="no attribute 'KerasClasifier'"):
        skhp.KerasClasifier
