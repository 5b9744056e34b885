"""The float32 JAX programs of Doya's network: the map x_(t+1) = (1 - ε) x_t + ε σ(w x_t + b) + ε w' u_t, the
flow integrated with RK4, trajectories, forward-mode sensitivities over a traced number of steps and the hysteresis
sweep (module-level ``jax.jit``: one compiled program serves every control value).

References:
  Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning";
  Wikipedia, "Vanishing gradient problem", section "Dynamical systems model".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .config import _LN10, MAX_STEPS


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
