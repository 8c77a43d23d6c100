"""Search spaces, search strategies and the scikit-learn searches built on them.

- spaces: :class:`Real`, :class:`Integer`, :class:`Choice`,
  :class:`Distribution`, gathered in a :class:`Space`;
- strategies, pure objects that propose points and are told scores:
  :class:`RandomOracle`, :class:`GridOracle`, :class:`NarrowingOracle`,
  :class:`GuidedOracle`, and :class:`SamplerOracle` for Optuna's samplers;
- cross-validated searches on scikit-learn's ``BaseSearchCV``, all through
  one evaluation path (parallel rounds, storage, time budget, progress):
  :class:`NarrowingSearchCV`, :class:`GuidedSearchCV`, :class:`RandomSearchCV`,
  :class:`SpaceGridSearchCV`, :class:`HyperbandSearchCV`, :class:`SamplerSearchCV`, and
  scikit-learn's own :class:`GridSearchCV` and :class:`RandomizedSearchCV`
  with packed training of skhp's MLP;
- :func:`space_from`: the space a KerasTuner build function of ``hp`` declares;
- pruning rules that stop bad candidates early, on continued training
  (:mod:`skhp.search.pruning`): :class:`SuccessiveHalving`, :class:`MedianRule`.

Examples
--------
>>> from skhp.search import Real, Space
>>> Space({"learning_rate": Real(1e-4, 1e-1, log=True)}).describe()
'learning_rate=[0.0001, 0.1] log'
"""

from skhp.search._base import check_space_names
from skhp.search._oracle import Proposal, Trial
from skhp.search._preflight import check_candidates
from skhp.search._space import Choice, Dimension, Distribution, Integer, Real, Space, SpaceUnion
from skhp.search.build_space import space_from
from skhp.search.grid import GridOracle, SpaceGridSearchCV
from skhp.search.guided import Decision, GuidedOracle, GuidedSearchCV
from skhp.search.hyperband import HyperbandOracle, HyperbandSearchCV
from skhp.search.narrowing import NarrowingOracle, NarrowingSearchCV
from skhp.search.pruning import MedianRule, SuccessiveHalving
from skhp.search.random import RandomOracle, RandomSearchCV
from skhp.search.sampler import SamplerOracle, SamplerSearchCV
from skhp.search.sklearn_cv import GridSearchCV, RandomizedSearchCV

__all__ = [
    "Choice", "Decision", "Dimension", "Distribution", "GridOracle", "GridSearchCV", "GuidedOracle",
    "GuidedSearchCV", "HyperbandOracle", "HyperbandSearchCV", "Integer", "MedianRule",
    "NarrowingOracle", "NarrowingSearchCV", "Proposal", "RandomOracle", "RandomSearchCV",
    "SamplerOracle", "SamplerSearchCV", "SuccessiveHalving",
    "RandomizedSearchCV", "Real",
    "Space", "SpaceGridSearchCV", "SpaceUnion", "Trial",
    "check_candidates", "check_space_names", "space_from",
]
