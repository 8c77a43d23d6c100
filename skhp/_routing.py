"""Routed parameters (``prefix__name``) and the checks that refuse unknown ones.

scikeras routes a parameter named ``optimizer__nesterov`` to the optimizer,
``model__units`` to the model builder, and so on. The estimators keep such
parameters as ordinary ones (``get_params``, ``set_params``, ``clone``), and
these checks make sure that every keyword reaches something: a misspelled
name fails at ``fit``, with the closest known name suggested, before any
model is built.
"""

import difflib
import inspect

__all__ = ["routed_prefix", "check_names", "suggest"]


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


def suggest(name, known):
    """A " Did you mean 'x'?" hint for a misspelled ``name``, or "".

    Examples
    --------
    >>> suggest("lerning_rate", ["learning_rate", "epochs"])
    " Did you mean 'learning_rate'?"
    """
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


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
    parameters = inspect.signature(function).parameters.values()
    if not named_only and any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)} - {"self"}


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
