"""Routed parameters (``prefix__name``) and the checks that refuse unknown ones.

scikeras routes a parameter named ``optimizer__nesterov`` to the optimizer,
``model__units`` to the model builder, and so on. The estimators keep such
parameters as ordinary ones (``get_params``, ``set_params``, ``clone``), and
these checks make sure that every keyword reaches something: a misspelled
name fails at ``fit``, with the closest known name suggested, before any
model is built.
"""

import functools
import inspect

import skhp._tensorflow  # noqa: F401  (before Keras: TensorFlow starts quietly)
import keras
from scikeras._utils import route_params

from skhp._training import optimizer_class
from skhp._validation import suggest
from skhp.hyperparameters import hp_build_function

__all__ = ["routed_prefix", "check_names", "accepted_arguments", "RoutedParameters"]


def routed_prefix(name, prefixes):
    """The routing prefix of ``name`` (``"optimizer"`` for ``optimizer__nesterov``), or None.

    Examples
    --------
    >>> routed_prefix("schedule__alpha", {"schedule", "model"})
    'schedule'
    >>> routed_prefix("learning_rate", {"schedule"}) is None
    True
    """
    prefix, sep, rest = name.partition("__")
    return prefix if sep and rest and prefix in prefixes else None


def accepted_arguments(function, named_only=False):
    """Names ``function`` accepts, or None when it takes ``**kwargs``.

    With ``named_only`` a ``**kwargs`` is ignored and only the named
    parameters count (Keras optimizers take ``**kwargs`` only to refuse them).

    Examples
    --------
    >>> sorted(accepted_arguments(lambda meta, units=8: None))
    ['meta', 'units']
    >>> accepted_arguments(lambda meta, **kwargs: None) is None
    True
    """
    try:  # signatures are read on every parameter check: once per function is enough
        return _accepted(function, named_only)
    except TypeError:  # an unhashable callable
        return _accepted.__wrapped__(function, named_only)


@functools.lru_cache(maxsize=512)
def _accepted(function, named_only):
    parameters = inspect.signature(function).parameters.values()
    if not named_only and any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters
                     if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)) - {"self"}


@functools.lru_cache(maxsize=64)
def _init_parameters(cls):
    """The parameters ``cls.__init__`` declares (a class's signature does not change)."""
    return frozenset(p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs"))


def check_names(given, accepted, where, parameter_prefix):
    """Refuse any name in ``given`` that ``accepted`` (a set, or None for "any") lacks.

    Parameters
    ----------
    given : iterable of str
        Names without their prefix.
    accepted : set of str or None
        What the destination takes; None accepts everything.
    where : str
        The destination, for the message (e.g. "optimizer SGD").
    parameter_prefix : str
        The routing prefix, for the message (e.g. "optimizer").

    Examples
    --------
    >>> check_names(["nesterov"], {"momentum", "nesterov"}, "optimizer SGD", "optimizer")
    >>> check_names(["nesterof"], {"momentum", "nesterov"}, "optimizer SGD", "optimizer")
    Traceback (most recent call last):
    ...
    ValueError: optimizer__nesterof: optimizer SGD takes no argument 'nesterof'. Did you mean 'nesterov'? It takes ['momentum', 'nesterov'].
    """
    if accepted is None:
        return
    for name in given:
        if name not in accepted:
            raise ValueError(
                f"{parameter_prefix}__{name}: {where} takes no argument {name!r}."
                f"{suggest(name, accepted)} It takes {sorted(accepted)}."
            )


class RoutedParameters:
    """Parameters of the estimators: the constructor's, plus routed ``prefix__name`` ones.

    Routed parameters count wherever they were set (constructor or
    ``set_params``), so that ``get_params``, ``clone`` and the searches keep
    them, and every keyword is checked to reach something before training.
    """

    @classmethod
    def _declared_params(cls):
        return _init_parameters(cls)

    def _get_param_names(self):
        # Routed parameters count wherever they came from (constructor or
        # set_params), so that get_params, clone and the searches keep them.
        routed = {k for k in vars(self) if routed_prefix(k, self._routing_prefixes)}
        return sorted(self._declared_params() | getattr(self, "_user_params", set()) | routed)

    def _routed(self, destination):
        """The ``destination__<name>`` parameters, without their prefix."""
        return route_params(self.get_params(), destination=destination, pass_filter=set(), strict=True)



    def _builder(self):
        """The user's builder function, or None (built-in MLP or a built keras.Model)."""
        if self.model is None or isinstance(self.model, keras.Model):
            return None
        return hp_build_function(self.model) or self.model

    def _check_keywords(self):
        """Refuse keywords that reach nothing: misspelled names and unknown routed ones."""
        declared = self._declared_params()
        builder = self._builder()
        builder_args = accepted_arguments(builder) if builder is not None else set()
        prefixes = sorted(self._routing_prefixes)
        for name in self.get_params():
            if name in declared or routed_prefix(name, self._routing_prefixes):
                continue
            if builder_args is None or name in builder_args:
                continue  # scikeras passes unprefixed extras to the builder that takes them
            raise ValueError(
                f"{type(self).__name__} got an unknown parameter {name!r}.{suggest(name, declared)} "
                f"Its parameters are {sorted(declared)}; routed parameters are written "
                f"prefix__name with a prefix in {prefixes} (e.g. optimizer__nesterov=True)."
            )
        model_args = self._routed("model")
        if model_args:
            if builder is None:
                what = "the built-in MLP" if self.model is None else "a built keras.Model"
                raise ValueError(
                    f"model__{sorted(model_args)[0]}: model__ parameters go to a builder function, "
                    f"but model={self.model!r} is {what}, which takes none. Pass "
                    "model=<a function taking these arguments>; the built-in MLP is shaped by "
                    "hidden_layer_sizes and activation."
                )
            check_names(model_args, builder_args, f"the builder {builder.__name__}", "model")
        hp_names = self._routed("hp")
        if hp_names and hp_build_function(self.model) is None:
            raise ValueError(
                f"hp__{sorted(hp_names)[0]}: hp__ parameters set the hyperparameters of a build "
                f"function of hp (def build(hp): ... hp.Int('units', ...)), but model={self.model!r} "
                "takes no hp; use model__ parameters for a builder's arguments.")
        cls, _ = optimizer_class(self.optimizer)
        if "learning_rate" in self._routed("optimizer"):
            raise ValueError("optimizer__learning_rate: set the estimator's learning_rate instead.")
        optimizer_args = (accepted_arguments(cls.__init__, named_only=True) - {"learning_rate"}) | {"decay"}
        check_names(self._routed("optimizer"), optimizer_args, f"optimizer {cls.__name__}", "optimizer")
        check_names(self._routed("fit"), accepted_arguments(keras.Model.fit) - {"x", "y"},
                    "keras.Model.fit", "fit")
        check_names(self._routed("predict"), accepted_arguments(keras.Model.predict) - {"x"},
                    "keras.Model.predict", "predict")
