"""skhp: Keras models as scikit-learn estimators with tunable training craft.

Examples
--------
>>> import skhp
>>> skhp.KerasClassifier(schedule="cosine", warmup=2).get_params()["schedule"]
'cosine'
"""

from importlib.metadata import PackageNotFoundError, version

from skhp.estimators import KerasClassifier, KerasRegressor
from skhp.lr_find import LRFindResult, lr_find
from skhp.schedules import plot_schedule
from skhp.search import GuidedSearchCV, NarrowingSearchCV
from skhp.stabilize import StabilizedWeights, stabilize

try:
    __version__ = version("skhp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "GuidedSearchCV",
    "KerasClassifier",
    "KerasRegressor",
    "NarrowingSearchCV",
    "LRFindResult",
    "lr_find",
    "plot_schedule",
    "stabilize",
    "StabilizedWeights",
    "__version__",
]
