"""skhp: Keras models as scikit-learn estimators with tunable training craft.

Public names are imported on first use, so that ``import skhp.search``,
``skhp.optimize`` and ``skhp --help`` do not start TensorFlow.

Examples
--------
>>> import skhp
>>> skhp.KerasClassifier(schedule="cosine", warmup=2).get_params()["schedule"]
'cosine'
"""

import importlib
import sys
import types
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skhp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

#: Public name -> the module that defines it.
_LAZY = {
    "KerasClassifier": "skhp.estimators",
    "KerasRegressor": "skhp.estimators",
    "LRFindResult": "skhp.lr_find",
    "lr_find": "skhp.lr_find",
    "plot_schedule": "skhp.schedules",
    "GuidedSearchCV": "skhp.search",
    "NarrowingSearchCV": "skhp.search",
    "StabilizedWeights": "skhp.stabilize",
    "stabilize": "skhp.stabilize",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'skhp' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """The package, keeping ``skhp.stabilize`` and ``skhp.lr_find`` the functions.

    Importing a submodule sets the package attribute of its name to the
    module; the functions of the same name (``skhp.stabilize``,
    ``skhp.lr_find``) must win, as they did when they were imported eagerly.
    """

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
