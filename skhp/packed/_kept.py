"""The few most recently used values of something costly to make, kept per key."""

import collections
import threading

__all__ = ["Kept"]


class Kept:
    """At most ``size`` values, the most recently used ones, made once per key.

    :meth:`get` makes a missing value under the keeper's lock, so two threads
    asking for one key make it once.

    Parameters
    ----------
    size : int
        How many values are kept.

    Examples
    --------
    >>> kept = Kept(2)
    >>> [kept.get(k, lambda: k * 10) for k in (1, 2, 1, 3)]
    [10, 20, 10, 30]
    >>> kept.get(2, lambda: "made again")  # 2, the least recently used, made room for 3
    'made again'
    """

    def __init__(self, size):
        self.size = size
        self._values = collections.OrderedDict()
        self._lock = threading.RLock()

    def get(self, key, make):
        """The value kept under ``key``, or ``make()``'s, kept now (None is a value too)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            value = self._values[key] = make()
            while len(self._values) > self.size:
                self._values.popitem(last=False)
            return value

    def clear(self):
        """Forget every kept value."""
        with self._lock:
            self._values.clear()

    def __len__(self):
        return len(self._values)
