"""The search space a KerasTuner build function declares: :func:`space_from`."""

import itertools
import math

import numpy as np

from skhp.hyperparameters import (MAX_BUILDS, branch_values, explore_builds, hp_build_function,
                                  integer_values)
from skhp.search._space import Choice, Integer, Real, Space, SpaceUnion

__all__ = ["space_from"]

def _float_values(config):
    low, high, step = float(config["min_value"]), float(config["max_value"]), config.get("step")
    if config.get("sampling") == "log":
        count = int(math.floor(math.log(high / low) / math.log(step) + 1e-9)) + 1
        return [low * step**i for i in range(count)]
    count = int(math.floor((high - low) / step + 1e-9)) + 1
    return [float(round(low + i * step, 12)) for i in range(count)]


def dimension(decl):
    """The skhp dimension of one :class:`~skhp.hyperparameters.Declared` hyperparameter.

    ``Int`` is an :class:`Integer` (``step`` kept; a log range with a step
    multiplies: the powers of ``step`` as a ``base``, or the ordered choice of
    its values), ``Float`` a :class:`Real` (with a ``step``, the ordered
    choice of its values), ``Choice`` a :class:`Choice` with its ``ordered``,
    ``Boolean`` the choice of False and True, ``Fixed`` its one value.

    Examples
    --------
    >>> from skhp.hyperparameters import Declared
    >>> dimension(Declared("Int", "conv1", {"min_value": 32, "max_value": 96, "step": 32}))
    Integer(low=32, high=96, log=False, base=None, step=32)
    >>> dimension(Declared("Float", "lr", {"min_value": 1e-4, "max_value": 1e-2, "sampling": "log"}))
    Real(low=0.0001, high=0.01, log=True)
    """
    config, kind = decl.config, decl.kind
    sampling = config.get("sampling", "linear")
    if sampling not in ("linear", "log", None):
        raise ValueError(
            f"hp.{kind}({decl.name!r}, sampling={sampling!r}): skhp's ranges draw on a linear or "
            "log scale; declare it with sampling='linear' or 'log', or give a search space of "
            f"your own for hp__{decl.name}.")
    log = sampling == "log"
    if kind == "Int":
        low, high, step = int(config["min_value"]), int(config["max_value"]), config.get("step")
        if not step or step == 1:
            return Integer(low, high, log=log)
        if not log:
            return Integer(low, high, step=int(step))
        if low in integer_values({"min_value": 1, "max_value": low, "step": step,
                                   "sampling": "log"}):  # low is a power of step
            return Integer(low, high, base=int(step))
        return Choice(integer_values(config), ordered=True)
    if kind == "Float":
        if config.get("step"):
            return Choice(_float_values(config), ordered=True)
        return Real(float(config["min_value"]), float(config["max_value"]), log=log)
    if kind == "Choice":
        return Choice(list(config["values"]), ordered=bool(config.get("ordered")))
    if kind == "Boolean":
        return Choice([False, True])
    if kind == "Fixed":
        return Choice([config["value"]])
    raise ValueError(f"hyperparameter {decl.name!r} of kind {kind} has no skhp dimension.")


def _conditions(runs, found, switches):
    """Each hyperparameter's conditions: KerasTuner's declared ones, and the values of the
    hyperparameter that switched it on in the runs where it was active."""
    conditions = {}
    for name, decl in found.items():
        conditions[name] = tuple(decl.conditions)
        parent = switches.get(name)
        if parent is not None and parent not in {p for p, _ in decl.conditions}:
            seen = {repr(values[parent]): values[parent] for _, active, values in runs
                    if name in active and parent in values}
            conditions[name] += ((parent, tuple(seen.values())),)
    return {name: conds for name, conds in conditions.items() if conds}


def _parent_values(decl):
    """Every value of a hyperparameter that switches others on or off."""
    if decl.kind == "Fixed":
        return [decl.config["value"]]
    values = integer_values(decl.config) if decl.kind == "Int" else branch_values(decl)
    if values is None or len(values) > MAX_BUILDS:
        raise ValueError(f"hyperparameter {decl.name!r} switches others on or off but has "
                         f"too many values to enumerate ({decl.kind}); make it a Choice.")
    return values


def space_from(build, **kwargs):
    """The search space a KerasTuner-style build function declares, over ``hp__<name>``.

    Runs ``build`` (building its model) with a recording ``hp``; each
    ``Choice``, ``Boolean`` and short ``Int`` is tried at each of its values,
    one at a time, so that hyperparameters declared inside ``if`` branches
    (``if hp.Choice("kind", ["mlp", "cnn"]) == "cnn": ...``) are found, as
    are KerasTuner's ``conditional_scope`` and ``parent_name``/
    ``parent_values``. A build function without conditions gives a
    :class:`Space`; with them a :class:`SpaceUnion`, one space per
    combination of the switching values (drawn with the probabilities
    KerasTuner's random draws give them).

    Declarations map as :func:`dimension` says: ``Int`` to :class:`Integer`
    (``step`` kept), ``Float`` to :class:`Real` (``sampling="log"`` to a
    log range), ``Choice`` to :class:`Choice` (its ``ordered``),
    ``Boolean`` to ``Choice([False, True])``, ``Fixed`` to a choice of one.

    Parameters
    ----------
    build : callable
        ``build(hp, ...)`` returning a Keras model, or a ``keras_tuner.HyperModel``.
    **kwargs
        Further arguments the build function takes (e.g. ``meta``).

    Returns
    -------
    Space or SpaceUnion
        For any skhp search (``NarrowingSearchCV``, ``HyperbandSearchCV``,
        ``SamplerSearchCV``...); ``.to_param_distributions()`` gives
        scikit-learn's ``RandomizedSearchCV`` the same space.

    Examples
    --------
    >>> import keras
    >>> def build(hp):
    ...     model = keras.Sequential([keras.Input((4,)),
    ...                               keras.layers.Dense(hp.Int("units", 32, 96, step=32))])
    ...     lr = hp.Choice("learning_rate", [1e-2, 1e-3])
    ...     model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    ...     return model
    >>> space_from(build).describe()
    'hp__units=[32, 96] step 32; hp__learning_rate={0.01, 0.001}'
    """
    function = hp_build_function(build)
    if function is None:
        raise TypeError(f"space_from takes a build function of hp (def build(hp): ...) or a "
                        f"keras_tuner.HyperModel, got {build!r}.")
    runs, found, switches = explore_builds(function, kwargs)
    conditions = _conditions(runs, found, switches)
    names = list(found)
    dims = {name: dimension(found[name]) for name in names}
    parents = [name for name in names if any(p == name for conds in conditions.values()
                                             for p, _ in conds)]
    if not parents:
        return Space({f"hp__{name}": dims[name] for name in names})
    missing = [p for conds in conditions.values() for p, _ in conds if p not in found]
    if missing:
        raise ValueError(f"a condition names {missing[0]!r}, which the build function never declares.")
    choices = [_parent_values(found[p]) for p in parents]
    counts, order = {}, []
    for combo in itertools.product(*choices):
        values = dict(zip(parents, combo))
        active = []
        for name in names:  # parents are declared before what they switch
            if all(p in active and values[p] in v for p, v in conditions.get(name, ())):
                active.append(name)
        key = tuple((name, repr(values[name])) for name in active if name in values)
        if key not in counts:
            order.append((key, active, {p: values[p] for p in parents if p in active}))
        counts[key] = counts.get(key, 0) + 1
    spaces, weights = [], []
    for key, active, fixed in order:
        spaces.append(Space({f"hp__{name}": Choice([fixed[name]]) if name in fixed else dims[name]
                             for name in active}))
        weights.append(counts[key])
    total = float(np.sum(weights))
    return SpaceUnion(spaces, [w / total for w in weights])
