"""Doya's one-neuron recurrent network: equilibria, bifurcations, hysteresis and gradient sensitivity.

The Wikipedia article "Vanishing gradient problem" (section "Dynamical systems model"), after Doya (1993,
"Bifurcations of recurrent neural networks in gradient descent learning"; also Doya 1992, ISCAS). The network is

    x_{t+1} = (1 - ε) x_t + ε σ(w x_t + b) + ε w' u_t                                  (the map, Wikipedia's eq.)

and its small-ε limit is the flow dx/dt = -x + σ(w x + b) + w' u; the map is the forward-Euler step of the flow
with step ε. ``method="continuous"`` integrates the flow with classical RK4 instead, sampled at the same times
t·ε (sub-steps keep h·(1 + |w|/4) ≤ 0.5, inside RK4's stability region), so both methods share one time axis.

Equilibria with a constant input c = w' u satisfy x = σ(w x + b) + c. With y = x - c (the sigmoid's value) this
is y = σ(w y + b + w c), i.e. b + w c = logit(y) - w y (Wikipedia: b = ln(x/(1-x)) - 5x for w = 5, u = 0).
g(y) = logit(y) - w y is increasing for w ≤ 4; for w > 4 it has three monotone branches separated by the
saddle-node (fold) points where g'(y) = 1/(y(1-y)) - w = 0, i.e. w y(1-y) = 1, y = (1 ± sqrt(1 - 4/w))/2.
The map's derivative at an equilibrium (its multiplier) is 1 - ε + ε w y(1-y): stable when its modulus is < 1
(for the flow: w y(1-y) < 1). At equilibrium ∂x*/∂b = (1/(y(1-y)) - w)^{-1} (Wikipedia: (1/(x(1-x)) - 5)^{-1}).

Engineering: equilibria and the bifurcation diagram are exact float64 NumPy (bisection in z = logit(y) on every
monotone branch, to about 4e-16). Trajectories and sensitivities are float32 JAX programs defined at module
level; every slider value (x0, b, w, ε, u, w', method) is a traced scalar and T is a traced int bound of a
``lax.while_loop`` over at most ``MAX_STEPS`` steps, so one compiled program serves every setting and the work
follows T. Sensitivities use forward-mode autodiff (``jax.jvp``/``jax.jacfwd``), which, unlike reverse mode,
differentiates a while loop with a traced trip count. Array shapes (grid sizes, sweep length) are static: each
distinct grid size compiles once.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from .errors import ConfigError, check_choice, check_float, check_int

MAX_STEPS = 2000
DEFAULT_W = 5.0
DEFAULT_EPS = 0.1
DEFAULT_STEPS = 200
METHODS = ("discrete", "continuous")
#: Validation ranges of the controls.
X_RANGE = (-10.0, 10.0)
B_RANGE = (-50.0, 50.0)
W_RANGE = (-50.0, 50.0)
EPS_RANGE = (1e-3, 1.0)
U_RANGE = (-10.0, 10.0)
W_IN_RANGE = (-10.0, 10.0)
MAX_GRID = 2048
#: RK4 sub-step bound: h · (1 + |w|/4) ≤ RK4_STEP_BOUND (the flow's rates are at most 1 + |w|/4 in modulus).
RK4_STEP_BOUND = 0.5
_LN10 = math.log(10.0)
_Z_TOL = 4e-16


# ----------------------------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Trajectory:
    """x_t for t = 0..T (Doya's map, or its continuous-time limit sampled at times t·ε)."""

    t: np.ndarray  # (T+1,) int step index
    time: np.ndarray  # (T+1,) t·ε, the time of the flow the map discretises
    x: np.ndarray  # (T+1,) float32 state
    method: str


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """Equilibria x* = σ(w x* + b) + w'u at one (b, w), sorted ascending; exact in float64."""

    x: np.ndarray  # (k,) equilibria, k = 1..3 (2 exactly at a fold)
    stable: np.ndarray  # (k,) bool: |multiplier| < 1 (the map with this ε)
    stable_flow: np.ndarray  # (k,) bool: w y(1-y) < 1 (the continuous-time limit)
    multiplier: np.ndarray  # (k,) map derivative 1 - ε + ε w y(1-y), y = x* - w'u
    dxdb: np.ndarray  # (k,) ∂x*/∂b = (1/(y(1-y)) - w)^{-1} (inf at a fold)


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of the equilibrium curve b = logit(y) - w y - w w'u, x = y + w'u, of constant stability."""

    b: np.ndarray  # (m,)
    x: np.ndarray  # (m,) sorted along the curve (ascending x)
    stable: bool


@dataclasses.dataclass(frozen=True)
class BifurcationDiagram:
    """Equilibria against b (Wikipedia, "Dynamical systems model", bifurcation diagram figure; Doya 1993).

    ``segments`` sample the curve densely (uniform in b and in x); a segment ends exactly at a fold when the fold
    is in range. Fold (saddle-node) points are exact: w y(1-y) = 1.
    """

    w: float
    b_range: tuple
    segments: tuple  # of Segment
    fold_b: np.ndarray  # (0,) for w <= 4, else (2,): b of the folds (all of them, in range or not)
    fold_x: np.ndarray  # (0,) or (2,): x of the folds
    b_grid: np.ndarray  # (n,) uniform in b_range
    n_equilibria: np.ndarray  # (n,) int number of equilibria at each b_grid value


@dataclasses.dataclass(frozen=True)
class Hysteresis:
    """Final state after ``steps_per_b`` steps at each b while b sweeps down, then up, carrying the state."""

    b_down: np.ndarray  # (n,) from b_range[1] down to b_range[0]
    x_down: np.ndarray  # (n,)
    b_up: np.ndarray  # (n,) from b_range[0] up to b_range[1]
    x_up: np.ndarray  # (n,)
    jump_down_b: float  # b where the down sweep changes branch (largest |Δx|); NaN if no jump
    jump_up_b: float  # b where the up sweep changes branch; NaN if no jump


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """∂x(T)/∂x(0) and ∂x(T)/∂b (forward-mode autodiff through the T steps) beside Wikipedia's equilibrium value."""

    x_T: float
    dxT_dx0: float  # autodiff; 0.0 where float32 underflowed (vanishing), inf where it overflowed
    dxT_db: float  # autodiff
    log10_abs_dxT_dx0: float  # log10|∂x(T)/∂x(0)| accumulated in log space (never under/overflows)
    dxT_db_analytic: float  # (1/(y(1-y)) - w)^{-1} at y = x(T) - w'u (Wikipedia; valid once x(T) has settled)
    residual: float  # |x(T) - x(T-1)|: how far from settled (0 at an equilibrium)


@dataclasses.dataclass(frozen=True)
class SensitivityMap:
    """log10|∂x(T)/∂x(0)| and log10|∂x(T)/∂b| over the (b, x0) plane; rows are x0, columns b."""

    b: np.ndarray  # (n_b,)
    x0: np.ndarray  # (n_x0,)
    log10_dxT_dx0: np.ndarray  # (n_x0, n_b) float32; -inf where a factor was exactly 0
    log10_dxT_db: np.ndarray  # (n_x0, n_b) float32; inf where float32 overflowed
    x_T: np.ndarray  # (n_x0, n_b) final state (which attractor)


# ----------------------------------------------------------------------------------------------------------------
# Validation helpers (shared with vgp_core.cliff)
# ----------------------------------------------------------------------------------------------------------------
def _scalar(name, value, rng):
    return np.float32(check_float(name, value, *rng))


def _steps(name, value, hi=MAX_STEPS, lo=0):
    return np.int32(check_int(name, value, lo, hi))


def _grid(name, values, rng, max_size=MAX_GRID) -> np.ndarray:
    """A 1-D float array of finite values in ``rng`` (a scalar becomes a length-1 grid), else ConfigError."""
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number or a 1-D array of numbers, got {values!r}") from None
    a = a.reshape(-1) if a.ndim == 0 else a
    if a.ndim != 1 or not 1 <= a.size <= max_size:
        raise ConfigError(f"{name} must be a 1-D grid of 1 to {max_size} values, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name} must be finite, got non-finite values")
    if a.min() < rng[0] or a.max() > rng[1]:
        raise ConfigError(f"{name} must lie in [{rng[0]}, {rng[1]}], got values in [{a.min():g}, {a.max():g}]")
    return a


def _range(name, value, rng):
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a pair (lo, hi), got {value!r}") from None
    lo, hi = check_float(f"{name}[0]", lo, *rng), check_float(f"{name}[1]", hi, *rng)
    if not lo < hi:
        raise ConfigError(f"{name} must have lo < hi, got ({lo:g}, {hi:g})")
    return lo, hi


def _method_index(method) -> np.int32:
    return np.int32(METHODS.index(check_choice("method", method, METHODS)))


def _n_sub(eps: float, w: float) -> np.int32:
    return np.int32(max(1, math.ceil(eps * (1.0 + abs(w) / 4.0) / RK4_STEP_BOUND - 1e-9)))


def _input_buffer(u, steps: int) -> np.ndarray:
    """u_t for t = 0..MAX_STEPS-1 (a constant, or an array of length >= steps whose first ``steps`` are used)."""
    if np.ndim(u) == 0:
        return np.full((MAX_STEPS,), _scalar("u", u, U_RANGE), np.float32)
    a = _grid("u", u, U_RANGE, max_size=MAX_STEPS)
    if a.size < steps:
        raise ConfigError(f"u must have at least steps = {steps} values, got {a.size}")
    buf = np.zeros((MAX_STEPS,), np.float32)
    buf[: a.size] = a
    return buf


# ----------------------------------------------------------------------------------------------------------------
# JAX core (float32, module-level jit)
# ----------------------------------------------------------------------------------------------------------------
def _map_step(x, b, w, eps, c, n_sub):
    """Doya's map x + ε(σ(w x + b) + w'u - x), written as an increment so that an equilibrium stays exact."""
    del n_sub
    return x + eps * (jax.nn.sigmoid(w * x + b) + c - x)


def _flow_step(x, b, w, eps, c, n_sub):
    """RK4 for dx/dt = -x + σ(w x + b) + w'u over time ε, in ``n_sub`` equal sub-steps."""
    h = eps / n_sub.astype(x.dtype)

    def f(v):
        return jax.nn.sigmoid(w * v + b) + c - v

    def sub(_, v):
        k1 = f(v)
        k2 = f(v + 0.5 * h * k1)
        k3 = f(v + 0.5 * h * k2)
        k4 = f(v + h * k3)
        return v + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    return jax.lax.fori_loop(0, n_sub, sub, x)


def _select(method, fn_map, fn_flow, *args):
    """``lax.cond`` on the traced method index (outside the time loop, so the loop body has no branch)."""
    return jax.lax.cond(method == 0, fn_map, fn_flow, *args)


def _final_state(x0, b, w, eps, c_buf, steps, method, n_sub):
    """(x(T), x(T-1)) by a while loop of traced length; differentiable in forward mode."""

    def run(step):
        def go(x0, b):
            def body(carry):
                t, x, _ = carry
                return t + 1, step(x, b, w, eps, c_buf[t], n_sub), x

            _, x, prev = jax.lax.while_loop(lambda c: c[0] < steps, body, (jnp.int32(0), x0, x0))
            return x, prev

        return go

    return _select(method, run(_map_step), run(_flow_step), x0, b)


@jax.jit
def _trajectory(x0, b, w, eps, w_in, u_buf, steps, method, n_sub):
    c_buf = w_in * u_buf

    def run(step):
        def go(x0, b):
            buf = jnp.full((MAX_STEPS + 1,), jnp.nan, jnp.float32).at[0].set(x0)

            def body(carry):
                t, x, buf = carry
                x = step(x, b, w, eps, c_buf[t], n_sub)
                return t + 1, x, buf.at[t + 1].set(x)

            return jax.lax.while_loop(lambda c: c[0] < steps, body, (jnp.int32(0), x0, buf))[2]

        return go

    return _select(method, run(_map_step), run(_flow_step), x0, b)


def _log_sensitivity(x0, b, w, eps, c_buf, steps, method, n_sub):
    """x(T), log|∂x(T)/∂x(0)| (sum of log|f'(x_t)|, each f' by autodiff) and ∂x(T)/∂b (forward recursion)."""

    def run(step):
        def go(x0, b):
            def body(carry):
                t, x, log_j, d_b = carry
                c = c_buf[t]
                # f_x = ∂f/∂x and f_b = ∂f/∂b in one forward pass (two tangents share the primal step)
                (f_x, f_b), x_new = jax.jacfwd(
                    lambda v, bb: (step(v, bb, w, eps, c, n_sub),) * 2, argnums=(0, 1), has_aux=True
                )(x, b)
                return t + 1, x_new, log_j + jnp.log(jnp.abs(f_x)), f_x * d_b + f_b

            z = jnp.zeros_like(x0)
            _, x, log_j, d_b = jax.lax.while_loop(lambda c: c[0] < steps, body, (jnp.int32(0), x0, z, z))
            return x, log_j, d_b

        return go

    return _select(method, run(_map_step), run(_flow_step), x0, b)


@jax.jit
def _sensitivity(x0, b, w, eps, w_in, u_buf, steps, method, n_sub):
    c_buf = w_in * u_buf

    def final(p):
        return _final_state(p[0], p[1], w, eps, c_buf, steps, method, n_sub)[0]

    p = jnp.stack([x0, b])
    jac = jax.jacfwd(final)(p)
    x_t, prev = _final_state(x0, b, w, eps, c_buf, steps, method, n_sub)
    _, log_j, _ = _log_sensitivity(x0, b, w, eps, c_buf, steps, method, n_sub)
    return x_t, prev, jac[0], jac[1], log_j / _LN10


@jax.jit
def _sensitivity_grid(b_grid, x0_grid, w, eps, w_in, u_buf, steps, method, n_sub):
    c_buf = w_in * u_buf
    bb, xx = jnp.meshgrid(b_grid, x0_grid)  # (n_x0, n_b)

    def one(x0, b):
        x, log_j, d_b = _log_sensitivity(x0, b, w, eps, c_buf, steps, method, n_sub)
        return x, log_j / _LN10, jnp.log10(jnp.abs(d_b))

    x, lj, ldb = jax.vmap(one)(xx.reshape(-1), bb.reshape(-1))
    shape = bb.shape
    return lj.reshape(shape), ldb.reshape(shape), x.reshape(shape)


@jax.jit
def _hysteresis_sweep(b_seq, x_start, w, eps, w_in, u, steps, method, n_sub):
    c = w_in * u

    def run(step):
        def go(x_start):
            def per_b(x, b):
                x = jax.lax.fori_loop(0, steps, lambda _, v: step(v, b, w, eps, c, n_sub), x)
                return x, x

            return jax.lax.scan(per_b, x_start, b_seq)[1]

        return go

    return _select(method, run(_map_step), run(_flow_step), x_start)


# ----------------------------------------------------------------------------------------------------------------
# Exact equilibria (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------------
# Public JAX-backed API
# ----------------------------------------------------------------------------------------------------------------
def _common(w, eps, u, w_in, steps, method):
    w32 = _scalar("w", w, W_RANGE)
    eps32 = _scalar("eps", eps, EPS_RANGE)
    w_in32 = _scalar("w_in", w_in, W_IN_RANGE)
    t = _steps("steps", steps)
    u_buf = _input_buffer(u, int(t))
    m = _method_index(method)
    return w32, eps32, w_in32, u_buf, t, m, _n_sub(float(eps32), float(w32))


def simulate(
    x0, b, w=DEFAULT_W, eps=DEFAULT_EPS, steps=DEFAULT_STEPS, u=0.0, w_in=0.0, *, method="discrete"
) -> Trajectory:
    """Trajectory of x_{t+1} = (1-ε) x_t + ε σ(w x_t + b) + ε w' u_t, t = 0..steps.

    ``method="continuous"`` integrates the small-ε limit dx/dt = -x + σ(w x + b) + w'u (RK4) at the same times t·ε.
    One compiled program serves all settings.

    Args:
      x0: the initial state.
      b: the bias.
      w: the recurrent weight.
      eps: the time step ε of the map.
      steps: T, the number of steps.
      u: the input (a constant, or an array u_0..u_{steps-1}).
      w_in: the input weight w'.
      method: "discrete" (the map) or "continuous" (RK4 of the flow at the same times).

    Returns:
      A :class:`Trajectory` (t·ε and x_t).

    References:
      Wikipedia, "Vanishing gradient problem", section "Dynamical systems model" (the map).
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
    """
    x0 = _scalar("x0", x0, X_RANGE)
    b = _scalar("b", b, B_RANGE)
    w32, eps32, w_in32, u_buf, t, m, n_sub = _common(w, eps, u, w_in, steps, method)
    buf = np.asarray(_trajectory(x0, b, w32, eps32, w_in32, u_buf, t, m, n_sub))[: int(t) + 1]
    idx = np.arange(int(t) + 1)
    return Trajectory(t=idx, time=idx * float(eps32), x=buf, method=METHODS[int(m)])


def hysteresis(
    w=DEFAULT_W,
    b_range=(-3.0, -2.0),
    n=200,
    *,
    eps=DEFAULT_EPS,
    steps_per_b=200,
    u=0.0,
    w_in=0.0,
    x_start=None,
    method="discrete",
) -> Hysteresis:
    """Hysteresis loop: b swept down and back up, the state carried from one b to the next.

    b sweeps from b_range[1] down to b_range[0] and back up in n values each; at each b the network runs
    ``steps_per_b`` steps from the state left by the previous b. The sweep starts from ``x_start`` or, by default,
    from the largest stable equilibrium at b_range[1]. Each distinct n compiles once.

    Args:
      w: the recurrent weight.
      b_range: (low, high) of b.
      n: b values per direction.
      eps: the time step ε.
      steps_per_b: steps run at each b.
      u: the constant input.
      w_in: the input weight w'.
      x_start: the state the sweep starts from (None: the largest stable equilibrium at b_range[1]).
      method: "discrete" or "continuous".

    Returns:
      A :class:`Hysteresis` (b and the settled x of the down and the up sweep).

    References:
      Wikipedia, "Vanishing gradient problem", section "Dynamical systems model", the bifurcation diagram's
      caption ("the system exhibits hysteresis, and can be used as a one-bit memory").
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
    """
    lo, hi = _range("b_range", b_range, B_RANGE)
    n = check_int("n", n, 2, MAX_GRID)
    w32 = _scalar("w", w, W_RANGE)
    eps32 = _scalar("eps", eps, EPS_RANGE)
    u32 = _scalar("u", u, U_RANGE)
    w_in32 = _scalar("w_in", w_in, W_IN_RANGE)
    steps = _steps("steps_per_b", steps_per_b, lo=1)
    m = _method_index(method)
    if x_start is None:
        fp = fixed_points(hi, float(w32), eps=float(eps32), u=float(u32), w_in=float(w_in32))
        ok = fp.stable if int(m) == 0 else fp.stable_flow
        x_start = fp.x[ok][-1] if ok.any() else fp.x[-1]
    xs = _scalar("x_start", x_start, X_RANGE)
    b_down = np.linspace(hi, lo, n)
    b_seq = np.concatenate([b_down, b_down[::-1]]).astype(np.float32)
    x = np.asarray(_hysteresis_sweep(b_seq, xs, w32, eps32, w_in32, u32, steps, m, _n_sub(float(eps32), float(w32))))
    x_down, x_up = x[:n], x[n:]

    def jump(bs, xs_):
        d = np.abs(np.diff(xs_.astype(np.float64)))
        if d.size == 0 or not np.isfinite(d).any() or np.nanmax(d) < 0.05:
            return float("nan")
        i = int(np.nanargmax(d))
        return float(0.5 * (bs[i] + bs[i + 1]))

    return Hysteresis(
        b_down=b_down,
        x_down=x_down,
        b_up=b_down[::-1].copy(),
        x_up=x_up,
        jump_down_b=jump(b_down, x_down),
        jump_up_b=jump(b_down[::-1], x_up),
    )


def sensitivity(
    x0, b, w=DEFAULT_W, eps=DEFAULT_EPS, steps=DEFAULT_STEPS, u=0.0, w_in=0.0, *, method="discrete"
) -> Sensitivity:
    """∂x(T)/∂x(0) and ∂x(T)/∂b by forward-mode autodiff, with the equilibrium value of ∂x(T)/∂b.

    The equilibrium value is ∂x(T)/∂b ≈ (1/(y(1-y)) - w)^{-1}, y = x(T) - w'u. Near the unstable equilibrium both
    derivatives explode; far from it ∂x(T)/∂x(0) vanishes while ∂x(T)/∂b stays finite — "the only well-behaved
    gradient".

    Args:
      x0: the initial state.
      b: the bias.
      w: the recurrent weight.
      eps: the time step ε of the map.
      steps: T, the number of steps.
      u: the input (a constant, or an array u_0..u_{steps-1}).
      w_in: the input weight w'.
      method: "discrete" (the map) or "continuous" (RK4 of the flow at the same times).

    Returns:
      A :class:`Sensitivity`.

    References:
      Wikipedia, "Vanishing gradient problem", section "Dynamical systems model" (with w = 5 there).
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
    """
    x0 = _scalar("x0", x0, X_RANGE)
    b = _scalar("b", b, B_RANGE)
    w32, eps32, w_in32, u_buf, t, m, n_sub = _common(w, eps, u, w_in, steps, method)
    x_t, prev, d_x0, d_b, log_j = (float(v) for v in _sensitivity(x0, b, w32, eps32, w_in32, u_buf, t, m, n_sub))
    c = float(w_in32) * float(u_buf[int(t) - 1]) if int(t) > 0 else float(w_in32) * float(u_buf[0])
    y = x_t - c
    s = y * (1.0 - y)
    with np.errstate(divide="ignore", invalid="ignore"):
        analytic = float(np.float64(1.0) / (np.float64(1.0) / s - float(w32))) if s != 0 else 0.0
    return Sensitivity(
        x_T=x_t, dxT_dx0=d_x0, dxT_db=d_b, log10_abs_dxT_dx0=log_j, dxT_db_analytic=analytic, residual=abs(x_t - prev)
    )


def sensitivity_map(
    b_grid, x0_grid, w=DEFAULT_W, eps=DEFAULT_EPS, steps=DEFAULT_STEPS, u=0.0, w_in=0.0, *, method="discrete"
) -> SensitivityMap:
    """log10|∂x(T)/∂x(0)| and log10|∂x(T)/∂b| over the (b, x0) plane in one vmapped, jitted call.

    ∂x(T)/∂x(0) = Π_t f'(x_t) is accumulated as Σ_t log|f'(x_t)| (each f' by autodiff of the step), so the map shows
    vanishing values like 1e-40 instead of a float32 underflow to 0; ∂x(T)/∂b follows the forward-mode recursion
    d_{t+1} = f'(x_t) d_t + ∂f/∂b. The large values trace the separatrix (the unstable branch).

    Args:
      b_grid: the b values (columns).
      x0_grid: the x(0) values (rows).
      w: the recurrent weight.
      eps: the time step ε of the map.
      steps: T, the number of steps.
      u: the input (a constant, or an array u_0..u_{steps-1}).
      w_in: the input weight w'.
      method: "discrete" (the map) or "continuous" (RK4 of the flow at the same times).

    Returns:
      A :class:`SensitivityMap` of shape (len(x0_grid), len(b_grid)).

    References:
      Wikipedia, "Vanishing gradient problem", section "Dynamical systems model" (the exploding and vanishing cases).
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
    """
    bg = _grid("b_grid", b_grid, B_RANGE)
    xg = _grid("x0_grid", x0_grid, X_RANGE)
    w32, eps32, w_in32, u_buf, t, m, n_sub = _common(w, eps, u, w_in, steps, method)
    lj, ldb, x = _sensitivity_grid(bg.astype(np.float32), xg.astype(np.float32), w32, eps32, w_in32, u_buf, t, m, n_sub)
    return SensitivityMap(b=bg, x0=xg, log10_dxT_dx0=np.asarray(lj), log10_dxT_db=np.asarray(ldb), x_T=np.asarray(x))


def warm_up(map_shape=(200, 200), hysteresis_n=200) -> None:
    """Compile every program of this module for these shapes, so that later control changes never compile.

    Args:
      map_shape: (n_x0, n_b) of :func:`sensitivity_map`.
      hysteresis_n: the n of :func:`hysteresis`.

    Returns:
      None (one compile per program; the persistent compilation cache makes later processes fast).

    References:
      JAX documentation, "Persistent compilation cache".
    """
    simulate(0.5, -2.5, steps=1)
    sensitivity(0.5, -2.5, steps=1)
    n_x0, n_b = map_shape
    sensitivity_map(np.linspace(-3.0, -2.0, n_b), np.linspace(0.0, 1.0, n_x0), steps=1)
    hysteresis(n=hysteresis_n, steps_per_b=1)


__all__ = [
    "MAX_STEPS",
    "DEFAULT_W",
    "DEFAULT_EPS",
    "DEFAULT_STEPS",
    "METHODS",
    "Trajectory",
    "FixedPoints",
    "Segment",
    "BifurcationDiagram",
    "Hysteresis",
    "Sensitivity",
    "SensitivityMap",
    "simulate",
    "fixed_points",
    "fold_points",
    "bifurcation_diagram",
    "hysteresis",
    "sensitivity",
    "sensitivity_map",
    "warm_up",
]
