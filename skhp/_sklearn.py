"""The scikit-learn private names the estimators' layers use, in one adapter.

scikit-learn declares its estimators' parameter constraints with the
classes of ``sklearn.utils._param_validation`` (``Interval``,
``StrOptions``, ``HasMethods``) and indexes array-likes with
``_safe_indexing`` and ``_num_samples``; they have no public home. skhp
reads them here only (the searches' own adapter is
:mod:`skhp.search._sklearn`), so that a scikit-learn release that moves them
changes one file.

Examples
--------
>>> from numbers import Real
>>> Interval(Real, 0, None, closed="neither").is_satisfied_by(0.5)
True
>>> num_samples([[1], [2]]), list(safe_indexing([5, 6, 7], [0, 2]))
(2, [5, 7])
"""

from sklearn.utils import _safe_indexing as safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _num_samples as num_samples

__all__ = ["HasMethods", "Interval", "StrOptions", "num_samples", "safe_indexing"]
