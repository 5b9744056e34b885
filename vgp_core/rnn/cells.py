"""Recurrent cells as batched steps z (B, 2, H), u (B, D) -> z' (B, 2, H), their hand-written reverse-mode products
(VJPs), and the checkpointed forward and reverse loops over time that every analysis and training program uses.

References:
  Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Eq. 2 (vanilla step) and Eq. 5 (its state Jacobian).
  Hochreiter & Schmidhuber (1997), Neural Computation 9(8), with the forget gate of Gers, Schmidhuber & Cummins
  (2000), "Learning to forget", Neural Computation 12(10) (LSTM).
  Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder", arXiv:1406.1078, Eqs. 5-8 (GRU).
  Griewank & Walther (2008), "Evaluating Derivatives", 2nd ed., Ch. 12 (checkpointed reverse sweeps).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import activations
from .config import _LSTM, _VANILLA, CHECKPOINT_EVERY
from .params import CellSettings, Params


# ----------------------------------------------------------------------------------------------------------------
# Cells: batched step z (B, 2, H), u (B, D) -> z' (B, 2, H), and their VJPs
# ----------------------------------------------------------------------------------------------------------------
def _phi(s: CellSettings, x):
    """σ(x) and σ'(x) of the vanilla cell (c·x and c for note 3), by forward-mode autodiff of the registry's
    function for the (static) activation index."""
    fn = activations.get(activations.names()[s.act]).fn
    slope = jnp.float32(activations.PRELU_INIT_SLOPE)
    a, da = jax.jvp(lambda v: fn(v, slope), (x,), (jnp.ones_like(x),))
    return jnp.where(s.note3, s.c * x, a), jnp.where(s.note3, s.c, da)


def _vanilla(p: Params, s: CellSettings, z, u):
    phi, _ = _phi(s, z[:, 0])
    x = (phi @ p.w_rec[0].T) * s.rec_scale + u @ p.w_in[0] + p.b[0]  # Pascanu et al. (2013) Eq. 2
    return jnp.stack([x, jnp.zeros_like(x)], axis=1)


def _gate(p: Params, s: CellSettings, j, h, u):
    """Pre-activation of gate j: W_j h (scaled) + U_j u + b_j, for a batch (B, H).

    One (B, H)·(H, H) product per gate: measured on XLA's CPU backend, a single (B, 4H) product followed by
    elementwise sigmoid/tanh on its slices ran about 3× slower than four separate gates."""
    return (h @ p.w_rec[j].T) * s.rec_scale + u @ p.w_in[j] + p.b[j]


def _lstm(p: Params, s: CellSettings, z, u):
    h, c = z[:, 0], z[:, 1]
    i, f, o, g = (_gate(p, s, j, h, u) for j in range(4))
    c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jnp.stack([jax.nn.sigmoid(o) * jnp.tanh(c_new), c_new], axis=1)


def _gru(p: Params, s: CellSettings, z, u):
    h = z[:, 0]
    r = jax.nn.sigmoid(_gate(p, s, 0, h, u))
    upd = jax.nn.sigmoid(_gate(p, s, 1, h, u))
    cand = jnp.tanh(_gate(p, s, 2, r * h, u))
    h_new = upd * h + (1.0 - upd) * cand  # Cho et al. (2014) Eq. 7
    return jnp.stack([h_new, jnp.zeros_like(h_new)], axis=1)


_CELL_FNS = (_vanilla, _lstm, _gru)


def _step(p: Params, s: CellSettings, z, u):
    return _CELL_FNS[s.cell](p, s, z, u)


def _rec(p: Params):
    return (p.w_rec, p.w_in, p.b)


def _vjp_state(p: Params, s: CellSettings, z, u, rows):
    """rows · ∂z'/∂z at one state z (2, H): ``rows`` (P, 2, H) cotangents -> (P, 2, H)."""

    def vanilla(rows):
        _, dphi = _phi(s, z[0])
        dphi = jnp.where(jnp.isnan(z[0]), jnp.nan, dphi)  # a NaN state (float32 overflow) has no derivative
        dx = (rows[:, 0] @ p.w_rec[0]) * (s.rec_scale * dphi)  # rows · W_rec diag(σ'(x)), Pascanu et al. (2013) Eq. 5
        return jnp.stack([dx, jnp.zeros_like(dx)], axis=1)

    def lstm(rows):
        # Reverse mode of the LSTM step written out (same equations as _lstm); jax.vjp of the step, vmapped over
        # the rows, measured 1.5-2× slower here.
        h, c = z[None, 0], z[None, 1]
        i, f, o = (jax.nn.sigmoid(_gate(p, s, j, h, u[None])[0]) for j in range(3))
        g = jnp.tanh(_gate(p, s, 3, h, u[None])[0])
        tc = jnp.tanh(f * c[0] + i * g)
        dh_out, dc_out = rows[:, 0], rows[:, 1]
        dc = dc_out + dh_out * (o * (1.0 - tc * tc))
        pre = (
            dc * (g * i * (1.0 - i)),
            dc * (c[0] * f * (1.0 - f)),
            dh_out * (tc * o * (1.0 - o)),
            dc * (i * (1.0 - g * g)),
        )
        dh = sum(d @ p.w_rec[j] for j, d in enumerate(pre)) * s.rec_scale
        return jnp.stack([dh, dc * f], axis=1)

    def gru(rows):
        # Reverse mode of the GRU step written out (same equations as _gru).
        h = z[None, 0]
        r = jax.nn.sigmoid(_gate(p, s, 0, h, u[None])[0])
        upd = jax.nn.sigmoid(_gate(p, s, 1, h, u[None])[0])
        cand = jnp.tanh(_gate(p, s, 2, r * h, u[None])[0])
        dh_out = rows[:, 0]
        d_cand = dh_out * ((1.0 - upd) * (1.0 - cand * cand))
        d_rh = (d_cand @ p.w_rec[2]) * s.rec_scale
        d_upd = dh_out * ((h[0] - cand) * upd * (1.0 - upd))
        d_r = d_rh * (h[0] * r * (1.0 - r))
        dh = dh_out * upd + d_rh * r + ((d_upd @ p.w_rec[1]) + (d_r @ p.w_rec[0])) * s.rec_scale
        return jnp.stack([dh, jnp.zeros_like(dh)], axis=1)

    return (vanilla, lstm, gru)[s.cell](rows)


def _vjp_full(p: Params, s: CellSettings, z, u, cot):
    """(∂/∂(W_rec, W_in, b), ∂/∂z) of <cot, step(z, u)> summed over the batch: z, cot (B, 2, H), u (B, D).
    The W_rec gradient is w.r.t. the actual recurrent matrices rec_scale·W."""

    def vanilla(cot):
        phi, dphi = _phi(s, z[:, 0])
        d = cot[:, 0]
        zeros = jax.tree_util.tree_map(jnp.zeros_like, _rec(p))
        g = (zeros[0].at[0].set(d.T @ phi), zeros[1].at[0].set(u.T @ d), zeros[2].at[0].set(jnp.sum(d, axis=0)))
        dx = (d @ p.w_rec[0]) * (s.rec_scale * dphi)
        return g, jnp.stack([dx, jnp.zeros_like(dx)], axis=1)

    def gated(fn):
        def go(cot):
            # Differentiate w.r.t. the actual recurrent matrices rec_scale·W (not the unscaled W).
            def f(rec, zz):
                return fn(Params(*rec, p.w_out, p.b_out), s._replace(rec_scale=jnp.float32(1.0)), zz, u)

            rec = (p.w_rec * s.rec_scale, p.w_in, p.b)
            _, vjp = jax.vjp(f, rec, z)
            return vjp(cot)

        return go

    return (vanilla, gated(_lstm), gated(_gru))[s.cell](cot)


def _features(s: CellSettings, z):
    """Readout features and their derivative w.r.t. the state row 0: σ(x) for vanilla, h for gated cells."""
    x = z[:, 0]
    if s.cell == _VANILLA:
        return _phi(s, x)
    return x, jnp.ones_like(x)


def _measured_index(s: CellSettings) -> int:
    return 1 if s.cell == _LSTM else 0


def _renormalise(a):
    """(a·2^-e, e) with e the binary exponent of max|a| (max|a| = f·2^e, f in [0.5, 1)); e = 0 when max|a| is 0,
    inf or NaN. Multiplying by a power of two is exact; the exponent and the power of two are read from and written
    to the float32 bit pattern directly (cheaper than frexp/ldexp, which matters inside the per-step loops)."""
    mx = jnp.max(jnp.abs(a))
    e = ((jax.lax.bitcast_convert_type(mx, jnp.int32) >> 23) & 0xFF) - 126
    e = jnp.where(jnp.isfinite(mx) & (mx > 0), e, 0)  # XLA on CPU flushes subnormals: they count as 0
    scale = jax.lax.bitcast_convert_type((127 - e) << 23, jnp.float32)  # 2^-e, |e| <= 127
    return a * scale, e


# ----------------------------------------------------------------------------------------------------------------
# Forward trajectory and backward Jacobian products
# ----------------------------------------------------------------------------------------------------------------
def _step_with_tangent(p: Params, s: CellSettings, z, u, v):
    """(F(z, u), ∂F/∂z · v) for a batch: z, v (B, 2, H)."""

    def vanilla(z, v):
        _, dphi = _phi(s, z[:, 0])
        dv = ((dphi * v[:, 0]) @ p.w_rec[0].T) * s.rec_scale
        return _vanilla(p, s, z, u), jnp.stack([dv, jnp.zeros_like(dv)], axis=1)

    def gated(fn):
        return lambda z, v: jax.jvp(lambda zz: fn(p, s, zz, u), (z,), (v,))

    return (vanilla, gated(_lstm), gated(_gru))[s.cell](z, v)


def _forward_checkpoints(step_fn, z0, length, capacity):
    """Run z_{t+1} = step_fn(t, z_t) for t < length from z0; return (z_T, checkpoints) with checkpoints[j] =
    z_{j·CHECKPOINT_EVERY}. Storing every state (capacity × state) would cost more than the arithmetic: a fresh
    67 MB buffer per sweep call is mostly page faults; the checkpoints and one segment stay in cache."""
    n_ck = -(-capacity // CHECKPOINT_EVERY)

    def segment(j, carry):
        z, ck = carry
        ck = jax.lax.dynamic_update_index_in_dim(ck, z, j, 0)
        first = j * CHECKPOINT_EVERY
        z = jax.lax.fori_loop(first, jnp.minimum(first + CHECKPOINT_EVERY, length), step_fn, z)
        return z, ck

    n_seg = (length + CHECKPOINT_EVERY - 1) // CHECKPOINT_EVERY
    return jax.lax.fori_loop(0, n_seg, segment, (z0, jnp.zeros((n_ck,) + z0.shape, z0.dtype)))


def _reverse_over_states(step_fn, checkpoints, length, body, carry0):
    """carry <- body(t, z_t, carry) for t = length-1 down to 0, recomputing each segment of CHECKPOINT_EVERY
    states from its checkpoint (one extra forward pass in all)."""
    n_seg = (length + CHECKPOINT_EVERY - 1) // CHECKPOINT_EVERY

    def segment(jj, c):
        buf, carry = c
        j = n_seg - 1 - jj
        first = j * CHECKPOINT_EVERY
        n = jnp.minimum(CHECKPOINT_EVERY, length - first)

        def recompute(i, c2):
            z, buf = c2
            return step_fn(first + i, z), jax.lax.dynamic_update_index_in_dim(buf, z, i, 0)

        _, buf = jax.lax.fori_loop(0, n, recompute, (checkpoints[j], buf))

        def back(ii, carry):
            i = n - 1 - ii
            return body(first + i, buf[i], carry)

        return buf, jax.lax.fori_loop(0, n, back, carry)

    buf0 = jnp.zeros((CHECKPOINT_EVERY,) + checkpoints.shape[1:], checkpoints.dtype)
    return jax.lax.fori_loop(0, n_seg, segment, (buf0, carry0))[1]
