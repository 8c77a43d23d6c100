"""scikit-learn's ``GridSearchCV`` and ``RandomizedSearchCV``, with packed training.

Same classes, same signatures, same results, plus ``packing``: the
(candidate, fold) jobs of skhp's built-in MLP are trained as packs (see
:mod:`skhp.packed`), everything else as scikit-learn trains it. Before any
training, every candidate is checked (:mod:`skhp.search._preflight`): a
misspelt name gets skhp's did-you-mean, and a value the estimator refuses
(``epochs=-1``, a one-class ``y``) fails the search at once, naming it.
"""

from numbers import Integral

from sklearn import model_selection

from skhp.search._base import check_space_names
from skhp.search._evaluate import PackedEvaluation
from skhp.search._preflight import check_candidates, grid_candidates, probe_values

__all__ = ["GridSearchCV", "RandomizedSearchCV"]


def _packed_rounds(search, evaluate_candidates):
    def evaluate(candidates, more_results=None, **kwargs):
        return search._evaluate_round(evaluate_candidates, candidates, more_results=more_results,
                                      **kwargs)
    return evaluate


def _packed_run_search(base):
    """``base._run_search`` with every round evaluated through skhp's packed rounds, after
    every candidate is checked (before any training)."""
    def _run_search(self, evaluate_candidates, callback_ctx=None):
        space = self._space_to_check()
        for part in space if isinstance(space, list) else [space]:
            check_space_names(self.estimator, part)
        candidates, searched = self._candidates_to_check()
        X, y, _ = self._rounds.data
        check_candidates(self.estimator, candidates, X, y, searched=searched)
        # scikit-learn >= 1.9 hands its searches a callback context; older ones do not
        extra = {} if callback_ctx is None else {"callback_ctx": callback_ctx}
        base._run_search(self, _packed_rounds(self, evaluate_candidates), **extra)
    return _run_search


class GridSearchCV(PackedEvaluation, model_selection.GridSearchCV):
    """scikit-learn's ``GridSearchCV`` whose skhp MLP candidates train in packs.

    Parameters
    ----------
    estimator, param_grid, scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in :class:`sklearn.model_selection.GridSearchCV`.
    packing : bool or "auto", default="auto"
        ``"auto"``: train the jobs of skhp's built-in MLP in packs;
        ``False``: train every job on its own. ``packing_`` and the
        ``packing`` column of ``cv_results_`` say how each candidate trained.
    pack_size : int or "auto", default="auto"
        Most slots in one pack; ``"auto"`` sizes packs from a memory budget
        (:func:`skhp.packed.auto_pack_size`).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0),
    ...                       {"learning_rate": [1e-3, 1e-2]}, cv=2).fit(X, y)
    >>> search.cv_results_["packing"].tolist()
    ['packed', 'packed']
    """

    _parameter_constraints = {**model_selection.GridSearchCV._parameter_constraints,
                              **PackedEvaluation._packing_constraint}

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True, cv=None,
                 verbose=0, pre_dispatch="2*n_jobs", error_score=float("nan"),
                 return_train_score=False, packing="auto", pack_size="auto"):
        super().__init__(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score)
        self.packing = packing
        self.pack_size = pack_size

    _run_search = _packed_run_search(model_selection.GridSearchCV)

    def _space_to_check(self):
        return self.param_grid

    def _candidates_to_check(self):
        return grid_candidates(self.param_grid)


class RandomizedSearchCV(PackedEvaluation, model_selection.RandomizedSearchCV):
    """scikit-learn's ``RandomizedSearchCV`` whose skhp MLP candidates train in packs.

    Parameters
    ----------
    estimator, param_distributions, n_iter, scoring, n_jobs, refit, cv, verbose, pre_dispatch, random_state, error_score, return_train_score
        As in :class:`sklearn.model_selection.RandomizedSearchCV`.
    packing, pack_size
        See :class:`GridSearchCV`.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from skhp import KerasClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = RandomizedSearchCV(KerasClassifier(hidden_layer_sizes=(8,), epochs=2),
    ...                             {"learning_rate": loguniform(1e-3, 1e-1)}, n_iter=3, cv=2,
    ...                             random_state=0).fit(X, y)
    >>> len(search.cv_results_["params"]), search.packing_
    (3, ['packed', 'packed', 'packed'])
    """

    _parameter_constraints = {**model_selection.RandomizedSearchCV._parameter_constraints,
                              **PackedEvaluation._packing_constraint}

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None,
                 error_score=float("nan"), return_train_score=False, packing="auto", pack_size="auto"):
        super().__init__(estimator, param_distributions, n_iter=n_iter, scoring=scoring,
                         n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
                         pre_dispatch=pre_dispatch, random_state=random_state,
                         error_score=error_score, return_train_score=return_train_score)
        self.packing = packing
        self.pack_size = pack_size

    _run_search = _packed_run_search(model_selection.RandomizedSearchCV)

    def _space_to_check(self):
        return self.param_distributions

    def _candidates_to_check(self):
        space = self.param_distributions
        if isinstance(self.random_state, Integral) and self.n_iter <= 2000:
            # the very candidates the search draws (its own sampler, its own seed)
            return list(model_selection.ParameterSampler(space, self.n_iter,
                                                         random_state=self.random_state)), ()
        names = {k for part in (space if isinstance(space, list) else [space]) for k in part}
        return probe_values(space), names
