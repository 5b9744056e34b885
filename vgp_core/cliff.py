"""The loss cliff ("wall") of a bistable recurrent neuron and gradient-norm clipping.

The Wikipedia article "Vanishing gradient problem", section "Geometric model" (attractors at b = -2.5: its note 4):
Doya's neuron (``vgp_core.doya``) with w = 5, x(0) = 0.5, u = 0 and the loss L(b) = (0.855 - x(T))². As b → -2.5
from above x(T) settles on the upper attractor (0.855 at b = -2.5) and L → 0; once b crosses -2.5, x(0) = 0.5 lies
below the unstable equilibrium, x(T) falls to the lower attractor (0.145) and L jumps to about 0.50.
Near the wall dL/db grows geometrically with T.

Pascanu, Mikolov & Bengio (2013, "On the difficulty of training recurrent neural networks", Fig. 6 and
Algorithm 1): x_t = w σ(x_{t-1}) + b, x_0 = 0.5, E = (σ(x_50) - 0.7)² over the (w, b) plane, with plain and
norm-clipped gradient-descent trajectories (clipping: if ||g|| ≥ threshold then g ← threshold · g/||g||).

Engineering: every control (b, w, ε, x0, target, T, learning rate, clip threshold, number of descent steps) is a
traced value of a module-level jitted program; T and the number of descent steps are traced bounds of while loops
(at most ``doya.MAX_STEPS`` and ``MAX_DESCENT_STEPS``). Gradients use forward-mode autodiff, which differentiates
the while loop. "No clipping" is threshold = inf, so the plain and the clipped path come from one vmapped call of
the same program (optax.clip_by_global_norm + optax.sgd). Grid sizes are static (one compile per size).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import doya, optimizers
from .errors import ConfigError, check_choice, check_float, check_int

#: Wikipedia, "Vanishing gradient problem", section "Geometric model".
CLIFF_W = 5.0
CLIFF_X0 = 0.5
CLIFF_TARGET = 0.855
#: Pascanu et al. 2013, Fig. 6.
PASCANU_X0 = 0.5
PASCANU_TARGET = 0.7
PASCANU_STEPS = 50
MAX_DESCENT_STEPS = 1000
PROBLEMS = ("doya", "pascanu")
LR_RANGE = (1e-6, 1e3)
CLIP_RANGE = (1e-6, 1e9)
TARGET_RANGE = (-10.0, 10.0)


@dataclasses.dataclass(frozen=True)
class LossCurve:
    """L(b) = (target - x(T))² and dL/db (forward-mode autodiff) for Doya's neuron (Doya 1993)."""

    b: np.ndarray  # (n,)
    loss: np.ndarray  # (n,) float32
    grad: np.ndarray  # (n,) dL/db, float32; inf/NaN where it overflowed
    x_T: np.ndarray  # (n,)


@dataclasses.dataclass(frozen=True)
class PascanuSurface:
    """E(w, b) = (σ(x_T) - 0.7)² with x_t = w σ(x_{t-1}) + b (Pascanu et al. 2013, Fig. 6); rows b, columns w."""

    w: np.ndarray  # (n_w,)
    b: np.ndarray  # (n_b,)
    loss: np.ndarray  # (n_b, n_w)
    grad_w: np.ndarray  # (n_b, n_w) ∂E/∂w
    grad_b: np.ndarray  # (n_b, n_w) ∂E/∂b
    x_T: np.ndarray  # (n_b, n_w)


@dataclasses.dataclass(frozen=True)
class DescentPath:
    """k steps of gradient descent: p_{i+1} = p_i - lr · clip(g_i) (optax.clip_by_global_norm + optax.sgd)."""

    params: np.ndarray  # (k+1, d) visited points, columns named by Descent.param_names
    loss: np.ndarray  # (k+1,) loss at each visited point
    grad: np.ndarray  # (k+1, d) gradient at each visited point
    grad_norm: np.ndarray  # (k+1,) its global (Euclidean) norm
    update_norm: np.ndarray  # (k,) ||p_{i+1} - p_i||: at most lr · clip_norm when clipped
    clipped: np.ndarray  # (k,) bool: the step was rescaled (||g|| >= clip_norm)
    learning_rate: float
    clip_norm: float  # inf for the plain path


@dataclasses.dataclass(frozen=True)
class Descent:
    """The plain path and, when a threshold was given, the clipped path from the same start."""

    problem: str  # "doya" (1-D loss in b) or "pascanu" (2-D loss in (w, b))
    param_names: tuple  # ("b",) or ("w", "b")
    plain: DescentPath
    clipped: DescentPath | None


# ----------------------------------------------------------------------------------------------------------------
# JAX core
# ----------------------------------------------------------------------------------------------------------------
def _doya_loss(b, w, eps, x0, target, steps, method, n_sub):
    c_buf = jnp.zeros((doya.MAX_STEPS,), jnp.float32)  # u = 0
    x_t = doya._final_state(x0, b, w, eps, c_buf, steps, method, n_sub)[0]
    return (target - x_t) ** 2, x_t


def _doya_value_and_grad(b, w, eps, x0, target, steps, method, n_sub):
    (loss_, x_t), (g, _) = jax.jvp(
        lambda bb: _doya_loss(bb, w, eps, x0, target, steps, method, n_sub), (b,), (jnp.ones_like(b),)
    )
    return loss_, g, x_t


@jax.jit
def _doya_curve(b_grid, w, eps, x0, target, steps, method, n_sub):
    return jax.vmap(lambda b: _doya_value_and_grad(b, w, eps, x0, target, steps, method, n_sub))(b_grid)


def _pascanu_loss(p, x0, target, steps):
    w, b = p[0], p[1]
    x_t = jax.lax.fori_loop(0, steps, lambda _, x: w * jax.nn.sigmoid(x) + b, x0)
    return (jax.nn.sigmoid(x_t) - target) ** 2, x_t


def _pascanu_value_and_grad(p, x0, target, steps):
    def f(q):
        loss_, x_t = _pascanu_loss(q, x0, target, steps)
        return loss_, (loss_, x_t)

    grad, (loss_, x_t) = jax.jacfwd(f, has_aux=True)(p)  # forward mode: two tangents through the while loop
    return loss_, grad, x_t


@jax.jit
def _pascanu_surface(w_grid, b_grid, x0, target, steps):
    bb, ww = jnp.meshgrid(b_grid, w_grid, indexing="ij")  # (n_b, n_w)
    p = jnp.stack([ww.reshape(-1), bb.reshape(-1)], axis=-1)
    loss_, grad, x_t = jax.vmap(lambda q: _pascanu_value_and_grad(q, x0, target, steps))(p)
    shape = bb.shape
    return loss_.reshape(shape), grad[:, 0].reshape(shape), grad[:, 1].reshape(shape), x_t.reshape(shape)


def _descend_loop(value_and_grad, start, learning_rate, clip_norm, n_steps):
    """n_steps of optax SGD with global-norm clipping; records loss and gradient at every visited point."""
    tx = optimizers.clipped("sgd", learning_rate, clip_norm)
    state = tx.init(start)
    d = start.shape[0]
    size = MAX_DESCENT_STEPS + 1
    bufs = (
        jnp.full((size, d), jnp.nan, jnp.float32),
        jnp.full((size,), jnp.nan, jnp.float32),
        jnp.full((size, d), jnp.nan, jnp.float32),
    )

    def body(carry):
        i, p, state, (ps, ls, gs) = carry
        loss_, g = value_and_grad(p)
        updates, state = tx.update(g, state, p)
        ps, ls, gs = ps.at[i].set(p), ls.at[i].set(loss_), gs.at[i].set(g)
        return i + 1, optax.apply_updates(p, updates), state, (ps, ls, gs)

    # n_steps + 1 evaluations: the last records the end point (its update is computed but not used)
    _, _, _, (ps, ls, gs) = jax.lax.while_loop(lambda c: c[0] <= n_steps, body, (jnp.int32(0), start, state, bufs))
    return ps, ls, gs


@jax.jit
def _descend_doya(start, learning_rate, clips, n_steps, w, eps, x0, target, steps, method, n_sub):
    def vg(p):
        loss_, g, _ = _doya_value_and_grad(p[0], w, eps, x0, target, steps, method, n_sub)
        return loss_, jnp.reshape(g, (1,))

    return jax.vmap(lambda c: _descend_loop(vg, start, learning_rate, c, n_steps))(clips)


@jax.jit
def _descend_pascanu(start, learning_rate, clips, n_steps, x0, target, steps):
    def vg(p):
        loss_, g, _ = _pascanu_value_and_grad(p, x0, target, steps)
        return loss_, g

    return jax.vmap(lambda c: _descend_loop(vg, start, learning_rate, c, n_steps))(clips)


# ----------------------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------------------
def _doya_args(w, eps, x0, target, steps, method):
    w32 = doya._scalar("w", w, doya.W_RANGE)
    eps32 = doya._scalar("eps", eps, doya.EPS_RANGE)
    return (
        w32,
        eps32,
        doya._scalar("x0", x0, doya.X_RANGE),
        doya._scalar("target", target, TARGET_RANGE),
        doya._steps("steps", steps),
        doya._method_index(method),
        doya._n_sub(float(eps32), float(w32)),
    )


def loss(
    b, steps=doya.DEFAULT_STEPS, *, eps=doya.DEFAULT_EPS, w=CLIFF_W, x0=CLIFF_X0, target=CLIFF_TARGET, method="discrete"
) -> LossCurve:
    """L(b) = (0.855 - x(T))² of Doya's neuron and dL/db, for a scalar b or a 1-D grid of b.

    With w = 5, x(0) = 0.5, u = 0 by default; one vmapped call (each grid size compiles once).

    Args:
      b: the bias, a number or a 1-D grid.
      steps: T, the number of steps of the network.
      eps: the time step ε of the map.
      w: the recurrent weight.
      x0: the initial state x(0).
      target: the target of x(T).
      method: "discrete" (the map) or "continuous" (RK4 of the flow).

    Returns:
      A :class:`LossCurve` (b, L, dL/db, x(T)).

    References:
      Wikipedia, "Vanishing gradient problem", section "Geometric model" and its note 4 (the cliff at b = -2.5).
      Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning".
    """
    bg = doya._grid("b", b, doya.B_RANGE)
    loss_, g, x_t = _doya_curve(bg.astype(np.float32), *_doya_args(w, eps, x0, target, steps, method))
    return LossCurve(b=bg, loss=np.asarray(loss_), grad=np.asarray(g), x_T=np.asarray(x_t))


def pascanu_loss(w, b, steps=PASCANU_STEPS, *, x0=PASCANU_X0, target=PASCANU_TARGET) -> PascanuSurface:
    """E = (σ(x_T) - 0.7)² with x_t = w σ(x_{t-1}) + b, x_0 = 0.5, and its gradient over the grid w × b.

    The gradient is by forward-mode autodiff; scalars are 1-point grids.

    Args:
      w: the recurrent weight, a number or a 1-D grid.
      b: the bias, a number or a 1-D grid.
      steps: T (50 in the paper).
      x0: the initial state.
      target: the target of σ(x_T).

    Returns:
      A :class:`PascanuSurface` (E, ∂E/∂w, ∂E/∂b and x_T over the (b, w) grid).

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks", arXiv:1211.5063,
      Sec. 3.2 and Fig. 6.
    """
    wg = doya._grid("w", w, doya.W_RANGE)
    bg = doya._grid("b", b, doya.B_RANGE)
    args = (
        doya._scalar("x0", x0, doya.X_RANGE),
        np.float32(check_float("target", target, 0.0, 1.0)),
        doya._steps("steps", steps),
    )
    loss_, gw, gb, x_t = _pascanu_surface(wg.astype(np.float32), bg.astype(np.float32), *args)
    return PascanuSurface(
        w=wg, b=bg, loss=np.asarray(loss_), grad_w=np.asarray(gw), grad_b=np.asarray(gb), x_T=np.asarray(x_t)
    )


def descend(
    start,
    learning_rate,
    steps,
    clip_norm=None,
    *,
    problem="doya",
    loss_steps=None,
    eps=doya.DEFAULT_EPS,
    w=CLIFF_W,
    x0=None,
    target=None,
    method="discrete",
) -> Descent:
    """Gradient-descent paths from ``start`` with and without global-norm clipping.

    ``problem="doya"``: start is b (a number or a 1-sequence), the loss is :func:`loss` (w, ε, x0, target as there,
    T = ``loss_steps``, default ``doya.DEFAULT_STEPS``). ``problem="pascanu"``: start is (w, b), the loss is
    :func:`pascanu_loss` (T = ``loss_steps``, default 50). Both paths are computed in one call (the plain one with
    threshold inf, ``vgp_core.optimizers.clipped("sgd", ...)``); ``clipped`` is None when ``clip_norm`` is None. A
    clipped step moves the parameters by at most learning_rate × clip_norm.

    Args:
      start: the starting parameters (b, or (w, b)).
      learning_rate: SGD's step size.
      steps: the number of descent steps (at most MAX_DESCENT_STEPS).
      clip_norm: the clipping threshold (None: the plain path only).
      problem: "doya" or "pascanu".
      loss_steps: T of the loss (None: the problem's default).
      eps: the time step ε (doya).
      w: the recurrent weight (doya).
      x0: the initial state (None: the problem's default).
      target: the target (None: the problem's default).
      method: "discrete" or "continuous" (doya).

    Returns:
      A :class:`Descent` (the plain path and, with ``clip_norm``, the clipped one: parameters, loss and gradient at
      every visited point).

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 and Fig. 6.
    """
    problem = check_choice("problem", problem, PROBLEMS)
    lr = np.float32(check_float("learning_rate", learning_rate, *LR_RANGE))
    n = np.int32(check_int("steps", steps, 0, MAX_DESCENT_STEPS))
    clip = np.float32(np.inf) if clip_norm is None else np.float32(check_float("clip_norm", clip_norm, *CLIP_RANGE))
    clips = np.array([np.inf, clip], np.float32)
    d = 1 if problem == "doya" else 2
    try:
        p0 = np.asarray(start, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"start must be {d} number(s), got {start!r}") from None
    if p0.size != d:
        raise ConfigError(f"start must have {d} value(s) for problem {problem!r}, got {p0.size}")
    names = ("b",) if d == 1 else ("w", "b")
    p0 = np.array(
        [check_float(f"start {nm}", v, *(doya.W_RANGE if nm == "w" else doya.B_RANGE)) for nm, v in zip(names, p0)],
        np.float32,
    )
    if problem == "doya":
        args = _doya_args(
            w,
            eps,
            CLIFF_X0 if x0 is None else x0,
            CLIFF_TARGET if target is None else target,
            doya.DEFAULT_STEPS if loss_steps is None else loss_steps,
            method,
        )
        ps, ls, gs = _descend_doya(p0, lr, clips, n, *args)
    else:
        args = (
            doya._scalar("x0", PASCANU_X0 if x0 is None else x0, doya.X_RANGE),
            np.float32(check_float("target", PASCANU_TARGET if target is None else target, 0.0, 1.0)),
            doya._steps("loss_steps", PASCANU_STEPS if loss_steps is None else loss_steps),
        )
        ps, ls, gs = _descend_pascanu(p0, lr, clips, n, *args)
    k = int(n) + 1
    ps, ls, gs = np.asarray(ps)[:, :k], np.asarray(ls)[:, :k], np.asarray(gs)[:, :k]

    def path(j):
        g_norm = np.sqrt(np.sum(gs[j].astype(np.float64) ** 2, axis=1)).astype(np.float32)
        with np.errstate(invalid="ignore"):
            upd = np.sqrt(np.sum(np.diff(ps[j].astype(np.float64), axis=0) ** 2, axis=1))
            clipped = g_norm[:-1] >= clips[j]
        return DescentPath(
            params=ps[j],
            loss=ls[j],
            grad=gs[j],
            grad_norm=g_norm,
            update_norm=upd,
            clipped=clipped,
            learning_rate=float(lr),
            clip_norm=float(clips[j]),
        )

    return Descent(problem=problem, param_names=names, plain=path(0), clipped=None if clip_norm is None else path(1))


def warm_up(loss_grid=200, surface_shape=(100, 100)) -> None:
    """Compile every program of this module for these grid sizes, single points and both descents.

    Args:
      loss_grid: the number of b values of :func:`loss`'s grid.
      surface_shape: (n_w, n_b) of :func:`pascanu_loss`'s grid.

    Returns:
      None.

    References:
      JAX documentation, "Just-in-time compilation" (one compiled program per input shape).
    """
    loss(np.linspace(-3.0, -2.0, loss_grid), steps=1)
    loss(-2.5, steps=1)
    n_w, n_b = surface_shape
    pascanu_loss(np.linspace(-2.0, 12.0, n_w), np.linspace(-8.0, 2.0, n_b), steps=1)
    pascanu_loss(8.0, -3.0, steps=1)
    descend(-2.4, 0.1, 1, clip_norm=1.0, loss_steps=1)
    descend((8.0, -3.0), 0.1, 1, clip_norm=1.0, problem="pascanu", loss_steps=1)


__all__ = [
    "CLIFF_W",
    "CLIFF_X0",
    "CLIFF_TARGET",
    "PASCANU_X0",
    "PASCANU_TARGET",
    "PASCANU_STEPS",
    "MAX_DESCENT_STEPS",
    "PROBLEMS",
    "LossCurve",
    "PascanuSurface",
    "DescentPath",
    "Descent",
    "loss",
    "pascanu_loss",
    "descend",
    "warm_up",
]
