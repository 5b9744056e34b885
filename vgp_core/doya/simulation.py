"""The public JAX-backed functions of Doya's network: a trajectory (``simulate``), the hysteresis loop
over b, the gradient sensitivity ∂x_T/∂x_0 and ∂x_T/∂b and its map over (b, x_0), and ``warm_up``.

References:
  Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning";
  Wikipedia, "Vanishing gradient problem", section "Dynamical systems model".
"""

from __future__ import annotations

import numpy as np

from ..errors import check_int
from .checks import _grid, _input_buffer, _method_index, _n_sub, _range, _scalar, _steps
from .config import (
    B_RANGE,
    DEFAULT_EPS,
    DEFAULT_STEPS,
    DEFAULT_W,
    EPS_RANGE,
    MAX_GRID,
    METHODS,
    U_RANGE,
    W_IN_RANGE,
    W_RANGE,
    X_RANGE,
    Hysteresis,
    Sensitivity,
    SensitivityMap,
    Trajectory,
)
from .dynamics import _hysteresis_sweep, _sensitivity, _sensitivity_grid, _trajectory
from .equilibria import fixed_points


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
