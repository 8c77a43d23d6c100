"""Stabilize weights once, then search from them.

Searching on unstabilized weights discards combinations that would have been
good: a learning rate that is right for trained weights can blow up fresh
ones. :func:`stabilize` runs the lottery draws and/or the warm-up once and
returns an estimator whose every clone (in a search, in a joblib or Dask
worker, after pickling) starts from those weights.
"""

import numpy as np
from sklearn.base import clone

from skhp._validation import check_number

__all__ = ["StabilizedWeights", "stabilize"]


class StabilizedWeights:
    """Read-only model weights that travel with an estimator's parameters.

    Clones share one instance (it is immutable), pickling carries the arrays,
    and :meth:`save` / :meth:`load` keep them in an ``.npz`` file whose path
    the estimators' ``initial_weights`` also accepts.

    Parameters
    ----------
    weights : list of ndarray
        ``model.get_weights()`` of the stabilized model.
    info : dict or None, default=None
        How they were made (shown in the repr).

    Examples
    --------
    >>> import numpy as np
    >>> w = StabilizedWeights([np.zeros((4, 3)), np.zeros(3)], {"warmup": 5})
    >>> w
    StabilizedWeights(2 arrays, 15 values, warmup=5)
    >>> w.shapes
    [(4, 3), (3,)]
    """

    def __init__(self, weights, info=None):
        self.weights = [np.array(w) for w in weights]
        for w in self.weights:
            w.flags.writeable = False
        self.info = dict(info or {})

    @property
    def shapes(self):
        """The shape of every array, in ``model.get_weights()`` order."""
        return [tuple(w.shape) for w in self.weights]

    def __repr__(self):
        made = "".join(f", {k}={v}" for k, v in self.info.items())
        return f"StabilizedWeights({len(self.weights)} arrays, {sum(w.size for w in self.weights)} values{made})"

    def __deepcopy__(self, memo):
        return self  # immutable: clones of an estimator can share it

    def __getstate__(self):
        return {"weights": [np.array(w) for w in self.weights], "info": self.info}

    def __setstate__(self, state):
        self.__init__(state["weights"], state["info"])

    def save(self, path):
        """Write the weights to an ``.npz`` file; returns ``path``."""
        arrays = {f"w{i}": w for i, w in enumerate(self.weights)}
        info = np.array(repr(sorted(self.info.items())))
        np.savez(path, _info=info, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read weights written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            names = sorted((k for k in data.files if k != "_info"), key=lambda k: int(k[1:]))
            return cls([data[k] for k in names], {"file": str(path)})

    def apply_to(self, model):
        """Set ``model``'s weights, or say clearly why they do not fit it."""
        shapes = [tuple(w.shape) for w in model.get_weights()]
        if shapes != self.shapes:
            raise ValueError(
                "initial_weights do not match the model: they were stabilized for weight "
                f"shapes {self.shapes}, the model has {shapes}. A search that also changes "
                "the architecture (hidden_layer_sizes, the model builder) cannot start every "
                "candidate from one set of weights; stabilize each architecture separately."
            )
        model.set_weights(self.weights)


def stabilize(estimator, X, y, *, warmup=None, warmup_lr=None, lottery=None, **fit_params):
    """Run lottery draws and/or warm-up once; return an estimator that starts from the result.

    A clone of ``estimator`` trains for the warm-up epochs only (its
    ``lottery`` draws first, if any), with the learning rate rising linearly
    from ``warmup_lr`` to the estimator's ``learning_rate``. The returned
    estimator is another clone of ``estimator`` with ``initial_weights`` set
    to those weights and ``warmup=0, lottery=0`` (both done); every clone of it
    starts from the same weights, so a search over learning rate, batch size,
    schedule or smoothing compares them from one stable start.

    Parameters
    ----------
    estimator : skhp.KerasClassifier or skhp.KerasRegressor
        The estimator to stabilize (not modified).
    X, y : array-like
        Training data.
    warmup : int or None, default=None
        Warm-up epochs; None takes the estimator's ``warmup``, or 5 when that
        is 0 and no lottery is asked for either.
    warmup_lr : float or None, default=None
        Starting rate of the warm-up; None takes the estimator's.
    lottery : int or None, default=None
        Lottery draws; None takes the estimator's ``lottery``.
    **fit_params
        Passed to ``fit``.

    Returns
    -------
    estimator
        An unfitted clone with ``initial_weights`` set; its
        ``initial_weights.info`` says what was done.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.base import clone
    >>> import skhp
    >>> X, y = load_iris(return_X_y=True)
    >>> est = skhp.KerasClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    >>> stable = skhp.stabilize(est, X, y, warmup=2, lottery=3)
    >>> stable.initial_weights  # doctest: +ELLIPSIS
    StabilizedWeights(4 arrays, 67 values, warmup=2, lottery=3, lottery_best=...)
    >>> clone(stable).initial_weights is stable.initial_weights
    True
    """
    params = estimator.get_params()
    missing = {"warmup", "warmup_lr", "lottery", "initial_weights"} - set(params)
    if missing:
        raise TypeError(
            f"stabilize needs an skhp estimator (KerasClassifier or KerasRegressor); "
            f"{type(estimator).__name__} has no {sorted(missing)}."
        )
    lottery = params["lottery"] if lottery is None else lottery
    warmup = params["warmup"] if warmup is None else warmup
    check_number(lottery, "lottery", low=0, integer=True)
    check_number(warmup, "warmup", low=0, integer=True)
    if warmup == 0 and lottery < 2:
        warmup = 5
    pre = clone(estimator).set_params(
        epochs=max(warmup, 1), warmup=warmup, lottery=lottery, schedule="constant",
        early_stopping=0, initial_weights=None,
        **({} if warmup_lr is None else {"warmup_lr": warmup_lr}),
    )
    if warmup == 0:  # the lottery only: keep the kept draw as it is, no epoch after it
        fit_params = {**fit_params, "epochs": 0}
    pre.fit(X, y, **fit_params)
    info = {"warmup": warmup, "lottery": lottery}
    if lottery >= 2:
        info["lottery_best"] = pre.lottery_best_
    weights = StabilizedWeights(pre.model_.get_weights(), info)
    return clone(estimator).set_params(initial_weights=weights, warmup=0, lottery=0)
