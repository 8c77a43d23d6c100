"""KerasTuner build functions: the ``hp`` object a ``build(hp)`` function is called with.

A KerasTuner build function declares its hyperparameters as it builds
(``units = hp.Int("units", 32, 512, step=32)``). skhp calls it with an
``hp`` whose values are the estimator's ``hp__<name>`` parameters, so that
``KerasClassifier(model=build, hp__units=64)`` is an ordinary estimator; a
name it does not set takes the default the build function declares.
:func:`skhp.search.space_from` reads the declarations back as a search space.

KerasTuner's own ``keras_tuner.HyperParameters`` is used when it is
installed (``pip install keras-tuner``), so every method behaves as there;
without it :class:`HyperParameters` here implements the same declarations
(``Int``, ``Float``, ``Choice``, ``Boolean``, ``Fixed``, ``conditional_scope``,
``parent_name``/``parent_values``, ``get``).
"""

import contextlib
import inspect
import threading
import warnings
import weakref
from dataclasses import dataclass

__all__ = ["HyperParameters", "Declared", "make_hp", "declared", "hp_build_function",
           "explore_builds", "declared_names", "KERAS_GLOBALS"]

#: Held while a model is built and while Keras' session is cleared: ``clear_session``
#: replaces the layer-name counters of every thread at once, so a fit in another thread
#: building its model meanwhile would name two layers "dense" (searches fitted in threads).
KERAS_GLOBALS = threading.RLock()
#: Builds :func:`explore_builds` runs at most to find the branches of a build function.
MAX_BUILDS = 64
# Integers with at most this many values are explored value by value; wider ones at their ends.
_EXPLORED_INTEGERS = 16


def integer_values(config):
    """Every value of an ``Int`` declaration's config (its step, or its log step)."""
    low, high, step = int(config["min_value"]), int(config["max_value"]), config.get("step")
    if config.get("sampling") == "log" and step and step > 1:
        values, v = [], low
        while v <= high:
            values.append(v)
            v *= step
        return values
    return list(range(low, high + 1, int(step or 1)))


@dataclass(frozen=True)
class Declared:
    """One hyperparameter a build function declared.

    Attributes
    ----------
    kind : str
        ``"Int"``, ``"Float"``, ``"Choice"``, ``"Boolean"`` or ``"Fixed"``.
    name : str
    config : dict
        Its arguments as KerasTuner names them (``min_value``, ``values``...).
    conditions : tuple of (str, tuple)
        ``(parent name, parent values)`` pairs that must all hold for it to be active.

    Examples
    --------
    >>> hp = HyperParameters()
    >>> _ = hp.Int("units", 32, 96, step=32)
    >>> declared(hp)[0].config["max_value"]
    96
    """

    kind: str
    name: str
    config: dict
    conditions: tuple = ()


class HyperParameters:
    """The declarations of a build function and the values it is built with.

    The subset of ``keras_tuner.HyperParameters`` build functions use, for
    when keras-tuner is not installed: a declaration registers the
    hyperparameter and returns its value — the one set in ``values``, else
    its default (``min_value`` for ``Int``/``Float``, the first of
    ``values`` for ``Choice``, False for ``Boolean``) — or None when its
    conditions do not hold.

    Examples
    --------
    >>> hp = HyperParameters()
    >>> hp.values["units"] = 64
    >>> hp.Int("units", 32, 512, step=32), hp.Choice("act", ["relu", "tanh"])
    (64, 'relu')
    >>> with hp.conditional_scope("act", ["tanh"]):
    ...     hp.Float("alpha", 0.1, 1.0) is None
    True
    """

    def __init__(self):
        self.values = {}
        self.space = []
        self._conditions = []

    @contextlib.contextmanager
    def conditional_scope(self, parent_name, parent_values):
        """Declarations inside are active only while ``parent_name``'s value is in ``parent_values``."""
        values = parent_values if isinstance(parent_values, (list, tuple)) else [parent_values]
        self._conditions.append((parent_name, tuple(values)))
        try:
            yield
        finally:
            self._conditions.pop()

    def _active(self, conditions):
        return all(name in self.values and self.values[name] in values for name, values in conditions)

    def _declare(self, kind, name, default, config, parent_name=None, parent_values=None):
        if parent_name is not None:  # as KerasTuner does: a scope around the one declaration
            with self.conditional_scope(parent_name, parent_values):
                return self._declare(kind, name, default, config)
        conditions = tuple(self._conditions)
        if any(parent == name for parent, _ in conditions):
            raise ValueError(f"hyperparameter {name!r} cannot be its own parent.")
        if not any(d.name == name and d.conditions == conditions for d in self.space):
            self.space.append(Declared(kind, name, {"name": name, "default": default, **config},
                                       conditions))
        if not self._active(conditions):
            return None
        return self.values.setdefault(name, default)

    def Int(self, name, min_value, max_value, step=None, sampling="linear", default=None,
            parent_name=None, parent_values=None):
        """An integer in ``[min_value, max_value]`` (``step`` apart when given)."""
        default = min_value if default is None else default
        return self._declare("Int", name, default, dict(min_value=min_value, max_value=max_value,
                                                        step=step, sampling=sampling),
                             parent_name, parent_values)

    def Float(self, name, min_value, max_value, step=None, sampling="linear", default=None,
              parent_name=None, parent_values=None):
        """A number in ``[min_value, max_value]`` (``sampling="log"`` for rates)."""
        default = min_value if default is None else default
        return self._declare("Float", name, default, dict(min_value=min_value, max_value=max_value,
                                                          step=step, sampling=sampling),
                             parent_name, parent_values)

    def Choice(self, name, values, ordered=None, default=None, parent_name=None,
               parent_values=None):
        """One of ``values`` (numbers are ordered unless ``ordered=False``)."""
        values = list(values)
        if not values:
            raise ValueError(f"hp.Choice({name!r}) needs at least one value.")
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        ordered = numeric if ordered is None else ordered
        default = values[0] if default is None else default
        return self._declare("Choice", name, default, dict(values=values, ordered=ordered),
                             parent_name, parent_values)

    def Boolean(self, name, default=False, parent_name=None, parent_values=None):
        """True or False."""
        return self._declare("Boolean", name, default, {}, parent_name, parent_values)

    def Fixed(self, name, value, parent_name=None, parent_values=None):
        """A value that is not tuned."""
        return self._declare("Fixed", name, value, {"value": value}, parent_name, parent_values)

    def get(self, name):
        """The value of an active hyperparameter."""
        if name in self.values:
            return self.values[name]
        if any(d.name == name for d in self.space):
            raise ValueError(f"{name} is currently inactive.")
        raise KeyError(f"{name} does not exist.")

    def __getitem__(self, name):
        return self.get(name)

    def __contains__(self, name):
        return name in self.values


def make_hp(values=None):
    """An ``hp`` holding ``values``: KerasTuner's ``HyperParameters`` when installed, else skhp's.

    Examples
    --------
    >>> hp = make_hp({"units": 64})
    >>> hp.Int("units", 32, 512, step=32), hp.Int("layers", 1, 3)
    (64, 1)
    """
    try:
        from keras_tuner import HyperParameters as TunerHyperParameters
    except ImportError:
        hp = HyperParameters()
    else:
        hp = TunerHyperParameters()
    hp.values.update(values or {})
    return hp


def declared(hp):
    """The hyperparameters ``hp`` (KerasTuner's or skhp's) saw declared, in order.

    Examples
    --------
    >>> hp = make_hp()
    >>> _ = hp.Choice("kind", ["mlp", "cnn"])
    >>> [(d.kind, d.name, d.config["values"]) for d in declared(hp)]
    [('Choice', 'kind', ['mlp', 'cnn'])]
    """
    if isinstance(hp, HyperParameters):
        return list(hp.space)
    out = []
    for item in hp.space:  # KerasTuner's HyperParameter objects
        config = dict(item.get_config())
        config.pop("conditions", None)
        conditions = tuple((c.name, tuple(c.values)) for c in item.conditions)
        out.append(Declared(type(item).__name__, item.name, config, conditions))
    return out


#: The arguments scikeras hands a model builder: a function taking one of them builds from meta.
_SCIKERAS_ARGUMENTS = frozenset({"meta", "compile_kwargs", "params"})


# A build function of hp -> every hyperparameter name it declares in any branch.
_DECLARED_NAMES = weakref.WeakKeyDictionary()


def declared_names(model, kwargs, meta=None):
    """Every name the build function of ``model`` declares in any branch (explored once per
    process); None when it takes ``meta`` and none is given (before a fit).

    Examples
    --------
    >>> import keras
    >>> def build(hp):
    ...     return keras.Sequential([keras.Input((2,)), keras.layers.Dense(hp.Int("units", 1, 4))])
    >>> sorted(declared_names(build, {}))
    ['units']
    """
    names = _DECLARED_NAMES.get(model)
    if names is None:
        build = hp_build_function(model)
        kwargs = dict(kwargs)
        if "meta" in inspect.signature(build).parameters:
            if meta is None:
                return None
            kwargs["meta"] = meta
        # inside a fit (meta given) the fit's own model is being built: no clear_session
        names = frozenset(explore_builds(build, kwargs, clear=meta is None)[1])
        _DECLARED_NAMES[model] = names
    return names


def _takes_hp(function):
    """Whether ``function`` is written as a build function of hp: a parameter named ``hp``,
    or one required positional parameter of any name (``def build_model(tuner)``, as
    KerasTuner calls it) beside none of scikeras' builder arguments."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read
        return False
    if "hp" in parameters:
        return True
    if _SCIKERAS_ARGUMENTS & set(parameters):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters.values() if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return len(required) == 1 and required[0].kind in positional and \
        next(iter(parameters.values())) is required[0]


def hp_build_function(model):
    """The build function of ``hp`` that ``model`` is, or None.

    A function (or callable) with a parameter named ``hp``, or whose one
    required parameter comes first under another name (KerasTuner passes
    ``hp`` positionally: ``def build_model(tuner)``), as KerasTuner build
    functions are written, or a ``keras_tuner.HyperModel`` (any object with
    a ``build(hp)`` method that is not a Keras model). skhp calls it with
    ``hp`` as its first argument.

    Examples
    --------
    >>> def build(hp):
    ...     pass
    >>> def build_model(tuner, units=8):
    ...     pass
    >>> hp_build_function(build) is build, hp_build_function(lambda meta: None)
    (True, None)
    >>> hp_build_function(build_model) is build_model
    True
    """
    import keras

    if model is None or isinstance(model, (keras.Model, keras.layers.Layer)):
        return None
    # a function, or a HyperModel (KerasTuner keeps its own build as _build, wrapped as build)
    for candidate in (model, getattr(model, "_build", None), getattr(model, "build", None)):
        if callable(candidate) and _takes_hp(candidate):
            return candidate
    return None


def branch_values(decl):
    """The values to build with to find what a hyperparameter switches on; None for ranges."""
    if decl.kind == "Choice":
        return list(decl.config["values"])
    if decl.kind == "Boolean":
        return [False, True]
    if decl.kind == "Int":
        values = integer_values(decl.config)
        return values if len(values) <= _EXPLORED_INTEGERS else [values[0], values[-1]]
    return None


def _run(build, values, kwargs, clear=True):
    """Build once with ``values``; the declarations seen and the values used."""
    import keras


    hp = make_hp(values)
    with KERAS_GLOBALS:
        if clear:  # layer names restart (not inside a fit, whose model is being built)
            keras.backend.clear_session(free_memory=False)
        build(hp, **kwargs)  # positionally: its first parameter may have any name
    decls = declared(hp)
    active = {d.name for d in decls if all(p in hp.values and hp.values[p] in v
                                           for p, v in d.conditions)}
    return decls, active, dict(hp.values)


def explore_builds(build, kwargs, clear=True):
    """Runs of ``build``: each discrete hyperparameter tried at each of its values, one at a
    time, from the first run that declares it.

    Returns
    -------
    runs : list of (declarations, active names, values)
    found : dict
        Every :class:`Declared` seen, by name.
    switches : dict
        ``{name: the hyperparameter whose value made it appear or disappear}``.

    Examples
    --------
    >>> import keras
    >>> def build(hp):
    ...     units = [keras.layers.Dense(hp.Int("wide", 8, 16, step=8))] if hp.Boolean("deep") else []
    ...     return keras.Sequential([keras.Input((2,)), *units, keras.layers.Dense(1)])
    >>> runs, found, switches = explore_builds(build, {})
    >>> sorted(found), switches
    (['deep', 'wide'], {'wide': 'deep'})
    """
    decls, active, values = _run(build, {}, kwargs, clear)
    runs = [(decls, active, values)]
    found = {d.name: d for d in decls}
    switches = {}  # name -> the hyperparameter whose value made it appear or disappear
    queue = [({}, active, values, [d for d in decls if d.name in active])]
    tried = {()}
    while queue:
        forced, parent_active, parent_values, new = queue.pop(0)
        for decl in new:
            for value in branch_values(decl) or []:
                if value == parent_values.get(decl.name):
                    continue
                branch = {**forced, decl.name: value}
                key = tuple(sorted((k, repr(v)) for k, v in branch.items()))
                if key in tried:
                    continue
                tried.add(key)
                if len(runs) >= MAX_BUILDS:
                    warnings.warn(
                        f"space_from stopped after {MAX_BUILDS} builds of {build.__name__}: a "
                        "branch declared deeper than that is not in the space; give those "
                        "hyperparameters as a space of your own.", stacklevel=3)
                    return runs, found, switches
                decls_b, active_b, values_b = _run(build, branch, kwargs, clear)
                runs.append((decls_b, active_b, values_b))
                for d in decls_b:
                    found.setdefault(d.name, d)
                for name in active_b ^ parent_active:
                    switches.setdefault(name, decl.name)
                appeared = [d for d in decls_b if d.name in active_b - parent_active]
                if appeared:
                    queue.append((branch, active_b, values_b, appeared))
    return runs, found, switches
