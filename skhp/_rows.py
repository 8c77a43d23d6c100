"""Rows of a search's X, as a job holds them: the rows' indices, and no copy of their values."""

import numpy as np

__all__ = ["Rows"]


class Rows:
    """Rows ``index`` of the array ``base``, copied only when something needs their values.

    A search's (candidate, fold) jobs each train on rows of one X: a pack's
    slots share one copy of X and index it (see :func:`skhp.packed.plan`),
    where a copy of each job's rows would hold X once per job. Anything
    else takes the rows as an array (``np.asarray``), made when asked.

    Parameters
    ----------
    base : ndarray
        The search's samples.
    index : ndarray of int
        The job's rows of ``base``.

    Examples
    --------
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> rows = Rows(X, np.array([4, 1]))
    >>> rows.shape, len(rows), np.asarray(rows).tolist()
    ((2, 2), 2, [[8.0, 9.0], [2.0, 3.0]])
    """

    def __init__(self, base, index):
        self.base, self.index = base, np.asarray(index)

    @property
    def shape(self):
        return (len(self.index), *self.base.shape[1:])

    @property
    def ndim(self):
        return self.base.ndim

    @property
    def dtype(self):
        return self.base.dtype

    def __len__(self):
        return len(self.index)

    def __array__(self, dtype=None, copy=None):
        rows = self.base[self.index]
        return rows if dtype is None else rows.astype(dtype, copy=False)
