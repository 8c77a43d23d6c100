"""A quadratic model of the scores near the best point, and the point it predicts best.

Fitted by least squares to the points nearest the centre (unit coordinates,
scaled by the trust region's radius so that the fit is well conditioned), the
model's best point within the trust region is where a smooth basin's bottom is
expected: on smooth functions, a narrowing that tries it converges in a few
rounds, as model-based trust-region methods (Powell's NEWUOA / BOBYQA) do.
"""

import numpy as np

__all__ = ["quadratic_terms", "model_point"]


def quadratic_terms(Z):
    """The columns ``1, z_i, z_i z_j (i <= j)`` of a full quadratic in the rows of ``Z``.

    Examples
    --------
    >>> quadratic_terms(np.array([[2.0, 3.0]])).tolist()
    [[1.0, 2.0, 3.0, 4.0, 6.0, 9.0]]
    """
    Z = np.atleast_2d(Z)
    i, j = np.triu_indices(Z.shape[1])
    return np.hstack([np.ones((len(Z), 1)), Z, Z[:, i] * Z[:, j]])


def model_point(X, scores, centre, radius, rng, candidates=512):
    """The point of the box ``centre ± radius`` where a quadratic fitted to ``(X, scores)`` is
    highest, or None when there are too few points to fit one.

    The model is fitted to the ``2 p`` points nearest ``centre`` (``p`` its number of
    terms; at least ``p + 1`` are needed). The answer is the best, by the model, of its
    stationary point (when the model is concave; clipped to the box) and of
    ``candidates`` random points of the box.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 1, (20, 2))
    >>> scores = -((X - [0.3, 0.6]) ** 2).sum(axis=1)
    >>> model_point(X, scores, np.array([0.5, 0.5]), np.array([0.4, 0.4]), rng).round(6).tolist()
    [0.3, 0.6]
    """
    X, scores = np.asarray(X, dtype=float), np.asarray(scores, dtype=float)
    n = X.shape[1]
    p = (n + 1) * (n + 2) // 2
    if len(X) < p + 1:
        return None
    near = np.argsort(np.max(np.abs(X - centre) / radius, axis=1), kind="stable")[: 2 * p]
    Z = (X[near] - centre) / radius
    y = scores[near]
    spread = y.std()
    if not np.isfinite(spread) or spread == 0:
        return None
    coef = np.linalg.lstsq(quadratic_terms(Z), (y - y.mean()) / spread, rcond=None)[0]
    g = coef[1: n + 1]
    H = np.zeros((n, n))
    i, j = np.triu_indices(n)
    H[i, j] += coef[n + 1:]
    H = H + H.T  # d^2/dz_i dz_j of sum c_ij z_i z_j (i <= j): 2 c_ii on the diagonal
    tries = [rng.uniform(-1, 1, (candidates, n))]
    if np.all(np.linalg.eigvalsh(H) < 0):
        tries.append(np.linalg.solve(H, -g)[None, :])
    Z = np.clip(np.vstack(tries), -1, 1)
    best = Z[np.argmax(quadratic_terms(Z) @ coef)]
    return centre + best * radius
