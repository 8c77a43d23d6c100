"""Small checks that turn bad parameter values into clear errors.

Every message names the parameter and says what is allowed, so that a user
reading a failed search knows which knob to turn.
"""

import difflib
import math
import numbers

from sklearn.utils import check_scalar


def check_number(value, name, *, low=None, high=None, closed="both", integer=False):
    """Check that ``value`` is a finite number within ``[low, high]``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in the error message.
    low, high : float or None
        Bounds; None means unbounded on that side.
    closed : {"both", "left", "right", "neither"}
        Which bounds are allowed values.
    integer : bool
        Whether only integers are allowed.

    Returns
    -------
    number
        ``value`` itself.

    Examples
    --------
    >>> check_number(0.1, "smoothing", low=0, high=1, closed="left")
    0.1
    """
    target = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a {'whole number' if integer else 'number'}, got {value!r}.")
    check_scalar(
        value, name, target, min_val=low, max_val=high, include_boundaries=closed
    )
    if not integer and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return value


def check_choice(value, name, allowed):
    """Check that ``value`` is one of ``allowed``; suggest the closest on error.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in the error message.
    allowed : iterable of str
        The accepted values.

    Returns
    -------
    object
        ``value`` itself.

    Examples
    --------
    >>> check_choice("cosine", "schedule", ["constant", "cosine"])
    'cosine'
    """
    allowed = sorted(allowed)
    if value in allowed:
        return value
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, allowed, n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise ValueError(
        f"{name}={value!r} is not valid; allowed values are {allowed}.{hint}"
    )


def suggest(name, known):
    """A " Did you mean 'x'?" hint for a misspelled ``name``, or "".

    Examples
    --------
    >>> suggest("lerning_rate", ["learning_rate", "epochs"])
    " Did you mean 'learning_rate'?"
    """
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
