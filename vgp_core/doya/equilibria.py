"""The exact equilibria of Doya's network in float64 NumPy: b + w c = logit(y) - w y solved by bisection in
z = logit(y) on every monotone branch, their stability, the fold (saddle-node) points and the bifurcation diagram.

References:
  Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning";
  Wikipedia, "Vanishing gradient problem", section "Dynamical systems model".
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import check_float, check_int
from .checks import _range
from .config import (
    _Z_TOL,
    B_RANGE,
    DEFAULT_EPS,
    DEFAULT_W,
    EPS_RANGE,
    MAX_GRID,
    U_RANGE,
    W_IN_RANGE,
    W_RANGE,
    BifurcationDiagram,
    FixedPoints,
    Segment,
)


def _sigmoid64(z):
    z = np.asarray(z, np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _logit64(y):
    return np.log(y) - np.log1p(-y)


def _fold_y(w: float) -> np.ndarray:
    """y at the saddle-node folds, where w y(1-y) = 1: (1 ± sqrt(1 - 4/w))/2 (none for w <= 4)."""
    if w <= 4.0:
        return np.zeros((0,))
    r = math.sqrt(1.0 - 4.0 / w)
    # (1 - r)/2 loses digits for large w; use the product y- y+ = 1/w instead.
    y_plus = 0.5 * (1.0 + r)
    return np.array([1.0 / (w * y_plus), y_plus])


def _branches(w: float):
    """Monotone branches of h(z) = z - w σ(z) as (z_lo, z_hi, increasing) in z = logit(y)."""
    if w <= 4.0:
        return [(-np.inf, np.inf, True)]
    zm, zp = _logit64(_fold_y(w))
    return [(-np.inf, zm, True), (zm, zp, False), (zp, np.inf, True)]


def _solve_branch(beff, w, lo, hi, increasing):
    """Roots z of z - w σ(z) = beff on monotone branches [lo, hi]; NaN where none. ``lo``, ``hi``, ``increasing``
    broadcast against ``beff`` (e.g. beff of shape (n, 1) against the 3 branches: one vectorised bisection).

    Every root lies in [beff + min(0, w), beff + max(0, w)] (σ ∈ (0, 1)), which makes the bracket finite.
    Bisection runs until the bracket is below 4e-16 (relative to max(1, |z|)), so y = σ(z) is exact to ~1e-16.
    """
    beff = np.asarray(beff, np.float64)
    sgn = np.where(increasing, 1.0, -1.0)
    a = np.maximum(lo, beff + min(0.0, w))
    c = np.minimum(hi, beff + max(0.0, w))
    a, c = np.broadcast_arrays(a, c)
    sgn, beff = np.broadcast_to(sgn, a.shape), np.broadcast_to(beff, a.shape)

    def h(z):
        return sgn * (z - w * _sigmoid64(z) - beff)

    ha, hc = h(a), h(c)
    ok = (a <= c) & (ha <= 0) & (hc >= 0)
    a, c = np.where(ok, a, 0.0), np.where(ok, c, 0.0)
    for _ in range(200):  # |bracket| <= |w| <= 50 halves to 1e-16 (relative) in < 70 steps
        m = 0.5 * (a + c)
        done = (m <= a) | (m >= c) | (c - a <= _Z_TOL * np.maximum(1.0, np.abs(m)))
        if np.all(done):
            break
        neg = h(m) <= 0
        a = np.where(neg & ~done, m, a)
        c = np.where(~neg & ~done, m, c)
    # pick the end with the smaller residual
    z = np.where(np.abs(h(a)) <= np.abs(h(c)), a, c)
    return np.where(ok, z, np.nan)


def _branch_arrays(w: float):
    br = _branches(w)
    return (np.array([x[0] for x in br]), np.array([x[1] for x in br]), np.array([x[2] for x in br]))


def _equilibria_y(beff, w):
    """Equilibria y (σ values) for an array of effective biases: (n, n_branches) with NaN where absent."""
    lo, hi, inc = _branch_arrays(w)
    return _sigmoid64(_solve_branch(np.asarray(beff, np.float64)[:, None], w, lo, hi, inc))


def _classify(y, w, eps):
    s = y * (1.0 - y)
    multiplier = 1.0 - eps + eps * w * s
    with np.errstate(divide="ignore"):
        dxdb = 1.0 / (1.0 / s - w)
    return multiplier, np.abs(multiplier) < 1.0, w * s < 1.0, dxdb


def fixed_points(b, w=DEFAULT_W, *, eps=DEFAULT_EPS, u=0.0, w_in=0.0) -> FixedPoints:
    """All equilibria of the one-neuron network at (b, w) with constant input u.

    Solves b + w w'u = logit(y) - w y on every monotone branch (bisection in z = logit y, float64, to ~4e-16:
    |x - σ(w x + b) - w'u| is ~1e-16) and returns x = y + w'u with the stability from the map's derivative
    1 - ε + ε w y(1-y). At a fold the double root is reported once.

    Args:
      b: the bias.
      w: the recurrent weight.
      eps: the time step ε (it sets the stability through the map's derivative).
      u: the constant input.
      w_in: the input weight w'.

    Returns:
      A :class:`FixedPoints` (the equilibria, their stability for the map and the flow, the map's derivative
      and ∂x*/∂b at each).

    References:
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
      Wikipedia, "Vanishing gradient problem", section "Dynamical systems model".
    """
    b = check_float("b", b, *B_RANGE)
    w = check_float("w", w, *W_RANGE)
    eps = check_float("eps", eps, *EPS_RANGE)
    c = check_float("u", u, *U_RANGE) * check_float("w_in", w_in, *W_IN_RANGE)
    y = _equilibria_y(np.array([b + w * c]), w)[0]
    y = np.sort(y[np.isfinite(y)])
    if y.size > 1:  # at a fold two adjacent branches share their end point
        keep = np.concatenate([[True], np.diff(y) > 1e-9])
        y = y[keep]
    multiplier, stable, stable_flow, dxdb = _classify(y, w, eps)
    return FixedPoints(x=y + c, stable=stable, stable_flow=stable_flow, multiplier=multiplier, dxdb=dxdb)


def fold_points(w=DEFAULT_W, *, u=0.0, w_in=0.0):
    """(b, x) of the saddle-node folds, where w y(1-y) = 1, i.e. y = (1 ± sqrt(1 - 4/w))/2.

    Args:
      w: the recurrent weight.
      u: the constant input.
      w_in: the input weight w'.

    Returns:
      (b, x), two float64 arrays: empty for w <= 4, two folds otherwise.

    References:
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
      Wikipedia, "Vanishing gradient problem", section "Dynamical systems model" (the bifurcation diagram at w = 5).
    """
    w = check_float("w", w, *W_RANGE)
    c = check_float("u", u, *U_RANGE) * check_float("w_in", w_in, *W_IN_RANGE)
    y = _fold_y(w)
    return _logit64(y) - w * y - w * c, y + c


def bifurcation_diagram(
    w=DEFAULT_W, b_range=(-3.0, -2.0), n=200, *, eps=DEFAULT_EPS, u=0.0, w_in=0.0
) -> BifurcationDiagram:
    """Equilibrium curve over ``b_range`` split into stable and unstable segments, with the exact folds.

    The curve is b = logit(y) - w y - w c, x = y + c (c = w'u). Each monotone branch is sampled at the b_grid values
    where it exists (uniform in b, roots by bisection) and at n values uniform in x (b from the formula), so it is
    resolved both where it is steep and near the folds; branch ends are the exact folds when these are in range.

    Args:
      w: the recurrent weight.
      b_range: (low, high) of b.
      n: samples per branch.
      eps: the time step ε (stability).
      u: the constant input.
      w_in: the input weight w'.

    Returns:
      A :class:`BifurcationDiagram`.

    References:
      Wikipedia, "Vanishing gradient problem", section "Dynamical systems model" (w = 5, b in [-3, -2]).
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
    """
    w = check_float("w", w, *W_RANGE)
    lo, hi = _range("b_range", b_range, B_RANGE)
    n = check_int("n", n, 2, MAX_GRID)
    eps = check_float("eps", eps, *EPS_RANGE)
    c = check_float("u", u, *U_RANGE) * check_float("w_in", w_in, *W_IN_RANGE)
    shift = w * c  # b_eff = b + w c
    fold_b, fold_x = fold_points(w, u=u, w_in=w_in)

    b_grid = np.linspace(lo, hi, n)
    z_lo, z_hi, inc = _branch_arrays(w)
    # one vectorised bisection: the curve's ends at b = lo, hi (rows 0, 1) and the roots at every b_grid value
    z_all = _solve_branch(np.concatenate([[lo, hi], b_grid])[:, None] + shift, w, z_lo, z_hi, inc)
    ends, z_grid = z_all[:2], z_all[2:]

    def g(z):  # b of the curve at z
        return z - w * _sigmoid64(z) - shift

    segments = []
    for k in range(z_lo.size):
        # z-interval of branch k whose b lies in [lo, hi]: its ends are folds in range or roots at lo / hi
        cand = [z for z in (z_lo[k], z_hi[k]) if np.isfinite(z) and lo <= g(z) <= hi]
        cand += [z for z in ends[:, k] if np.isfinite(z)]
        if not cand:
            continue
        za, zb = min(cand), max(cand)
        ya, yb = _sigmoid64(za), _sigmoid64(zb)
        # samples uniform in x, and the roots at the b_grid values (uniform in b) that lie on this branch
        y_unif_b = _sigmoid64(z_grid[:, k])
        y = np.unique(np.concatenate([np.linspace(ya, yb, n), y_unif_b[np.isfinite(y_unif_b)], [ya, yb]]))
        b_curve = np.clip(_logit64(y) - w * y - shift, lo, hi)  # end points: bisection round-off of ~1e-16
        _, stable, _, _ = _classify(y, w, eps)
        if y.size > 2:  # the end points may be folds (multiplier exactly 1): they take their neighbour's stability
            stable[0], stable[-1] = stable[1], stable[-2]
        # split where stability changes (a flip of the map for w < 0 and large ε); the folds are branch ends
        cuts = np.flatnonzero(np.diff(stable.astype(np.int8))) + 1
        start = 0
        for stop in list(cuts) + [y.size]:
            sl = slice(max(start - 1, 0), stop)  # share the boundary point so the curve has no gap
            segments.append(Segment(b=b_curve[sl], x=y[sl] + c, stable=bool(stable[start])))
            start = stop

    y_grid = _sigmoid64(z_grid)
    counts = np.sum(np.isfinite(y_grid), axis=1)
    if y_grid.shape[1] == 3:  # a fold exactly on the grid: the double root counts once
        same = np.isfinite(y_grid[:, :2]).all(1) & (np.abs(y_grid[:, 0] - y_grid[:, 1]) <= 1e-9)
        same2 = np.isfinite(y_grid[:, 1:]).all(1) & (np.abs(y_grid[:, 1] - y_grid[:, 2]) <= 1e-9)
        counts = counts - same - same2
    return BifurcationDiagram(
        w=w,
        b_range=(lo, hi),
        segments=tuple(segments),
        fold_b=fold_b,
        fold_x=fold_x,
        b_grid=b_grid,
        n_equilibria=counts.astype(np.int64),
    )
