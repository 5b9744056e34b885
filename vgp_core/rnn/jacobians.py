"""Recurrent networks at initialisation: Jacobian-product norms per lag, the spectral-radius sweep, the terms of the
parameter gradient, Pascanu's sufficient/necessary condition and note 3's closed form.

(About 630 lines, a third of them docstrings, and one idea: the three jitted analysis programs and their public
wrappers share the power iteration, the exponent tracking and the probe rows; splitting them would put one algorithm
in two files.)

References:
  Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Sec. 2.1, Eqs. 3-7.
  Wikipedia, "Vanishing gradient problem", section "Recurrent network model" ("loss differential") and note 3.
  Oseledets (1968), "A multiplicative ergodic theorem", Trans. Moscow Math. Soc. 19 (the leading Lyapunov
  subspace that ``spectral_sweep``'s probes converge to).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, sharding
from ..errors import ConfigError, check_choice, check_float, check_int
from .cells import (
    _forward_checkpoints,
    _measured_index,
    _rec,
    _renormalise,
    _reverse_over_states,
    _step,
    _step_with_tangent,
    _vjp_full,
    _vjp_state,
)
from .config import (
    _SLOTS_USED,
    CHECKPOINT_EVERY,
    MAX_RADIUS,
    POWER_MAX_ITERATIONS,
    POWER_TOLERANCE,
    RNN_ACTIVATIONS,
    SWEEP_PROBES,
    SWEEP_WINDOW,
    T_BUCKETS,
    JacobianNorms,
    Note3Product,
    ParameterGradientTerms,
    PascanuVerdict,
    RNNConfig,
    RNNWeights,
    SpectralSweep,
)
from .params import (
    CellSettings,
    Draws,
    Knobs,
    Params,
    _build_params,
    _config_draws,
    _inputs,
    _knobs,
    _settings,
    _specialise,
)

_LOG10_2 = math.log10(2.0)


def _analysis_step(p: Params, s: CellSettings, inputs):
    """step_fn(t, z) for one example z (2, H) driven by the analysis inputs."""
    return lambda t, z: _step(p, s, z[None], inputs[t][None])[0]


def _leading_directions(p: Params, s: CellSettings, inputs, length, checkpoints, tangent):
    """Orthonormal basis of span(∂z_T/∂z_{T-w} · tangent) for tangent (n, 2, H), w between SWEEP_WINDOW and
    SWEEP_WINDOW + CHECKPOINT_EVERY steps (all of them when T is shorter), re-orthonormalised every step: subspace
    iteration, converging to the leading forward Lyapunov subspace at time T — the subspace that the top left
    singular vectors of ∂z_T/∂z_{T-k} approach as k grows."""
    hidden = p.w_rec.shape[-1]
    n = tangent.shape[0]
    j0 = jnp.maximum(length - SWEEP_WINDOW, 0) // CHECKPOINT_EVERY

    def body(t, carry):
        z, v = carry
        z, v = _step_with_tangent(
            p, s, jnp.broadcast_to(z, (n, 2, hidden)), jnp.broadcast_to(inputs[t], (n,) + inputs[t].shape), v
        )
        return z[0], _orthonormal_rows(v.reshape(n, -1)).reshape(v.shape)

    return jax.lax.fori_loop(j0 * CHECKPOINT_EVERY, length, body, (checkpoints[j0], tangent))[1]


def _top_singular(m, u, exact):
    """Largest singular value of m (P, H) and the updated left vector u (P,).

    Power iteration u <- m mᵀ u / ||m mᵀ u||, warm-started from the previous lag: the left singular vectors of
    J_k = A_0 ⋯ A_{k-1} live at time T and converge as k grows (backward Oseledets vector), so few iterations
    per lag are needed; it stops when an iteration raises the estimate by less than POWER_TOLERANCE. The estimate
    never exceeds σ_max. ``exact`` (traced) takes the SVD instead.
    """

    def power(m, u):
        def cond(c):
            i, _, est, prev = c
            return (i < POWER_MAX_ITERATIONS) & ((i < 2) | (est - prev > POWER_TOLERANCE * est))

        def body(c):
            i, u, est, _ = c
            w = m @ (u @ m)
            n = jnp.linalg.norm(w)
            u_new = jnp.where(n > 0, w / jnp.where(n > 0, n, 1.0), u)
            return i + 1, u_new, jnp.sqrt(n), est  # ||m mᵀ u|| -> σ_max² as u converges

        # Both ||mᵀ u|| and sqrt(||m mᵀ u||) (unit u) lie below σ_max; the second is the tighter one.
        _, u, est, _ = jax.lax.while_loop(cond, body, (jnp.int32(0), u, jnp.linalg.norm(u @ m), jnp.float32(-1.0)))
        return jnp.maximum(jnp.linalg.norm(u @ m), est), u

    def svd(m, u):
        finite = jnp.all(jnp.isfinite(m))
        sv = jnp.linalg.svd(jnp.where(finite, m, 0.0), compute_uv=False)[0]
        return jnp.where(finite, sv, jnp.nan), u

    return jax.lax.cond(exact, svd, power, m, u)


def _top_singular_two(m, u):
    """σ_max of two rows m (2, H), exactly: the larger eigenvalue of the 2×2 Gram matrix [[a, b], [b, c]] is
    (a+c)/2 + sqrt(((a-c)/2)² + b²) (elementwise products and sums: no tiny batched matmuls under vmap)."""
    a = jnp.sum(m[0] * m[0])
    b = jnp.sum(m[0] * m[1])
    c = jnp.sum(m[1] * m[1])
    return jnp.sqrt(0.5 * (a + c) + jnp.sqrt(0.25 * (a - c) ** 2 + b * b)), u


def _lag_norms(p: Params, s: CellSettings, inputs, length, checkpoints, rows0, u0, norm_fn):
    """For k < length: (σ_k, e_k) with σ_max(P J_k restricted to the measured state) = σ_k · 2^e_k, where
    J_k = ∂z_T/∂z_{T-k} and P the rows ``rows0`` (n, 2, H)."""
    capacity = inputs.shape[0]
    m_idx = _measured_index(s)

    def body(t, z, carry):
        rows, e, u, sig, ex = carry
        k = length - 1 - t  # step T-k maps z_{T-k-1} = z_t with input u_{T-k} = inputs[t]
        m = jax.lax.dynamic_index_in_dim(rows, m_idx, 1, keepdims=False)
        val, u = norm_fn(m, u)
        sig, ex = sig.at[k].set(val), ex.at[k].set(e)
        rows, de = _renormalise(_vjp_state(p, s, z, inputs[t], rows))
        return rows, e + de, u, sig, ex

    init = (rows0, jnp.int32(0), u0, jnp.zeros((capacity,), jnp.float32), jnp.zeros((capacity,), jnp.int32))
    _, _, _, sig, ex = _reverse_over_states(_analysis_step(p, s, inputs), checkpoints, length, body, init)
    return sig, ex


def _on_measured(s: CellSettings, vecs):
    """Place row vectors (n, H) on the measured state: (n, 2, H)."""
    return jnp.where((jnp.arange(2) == _measured_index(s))[None, :, None], vecs[:, None, :], 0.0)


def _analysis_forward(draws: Draws, k: Knobs, inputs, length, cell: int, act: int):
    p = _build_params(draws, k)
    s = _settings(k, cell, act)
    hidden = draws.gauss.shape[-1]
    _, ck = _forward_checkpoints(
        _analysis_step(p, s, inputs), jnp.zeros((2, hidden), jnp.float32), length, inputs.shape[0]
    )
    return p, s, ck


@jax.jit
def _jacobian_program(draws: Draws, k: Knobs, inputs, length, exact):
    def run(cell, act):
        p, s, ck = _analysis_forward(draws, k, inputs, length, cell, act)
        rows0 = _on_measured(s, jnp.eye(draws.gauss.shape[-1], dtype=jnp.float32))
        norm_fn = functools.partial(_top_singular, exact=exact)
        return _lag_norms(p, s, inputs, length, ck, rows0, draws.u0, norm_fn)

    return _specialise(k, run)


def _orthonormal_rows(a):
    """Gram-Schmidt on the rows of a (n, H); a row that is (numerically) dependent on the earlier ones is
    replaced by zeros (a zero probe adds nothing, and keeps the block's norm ≤ 1)."""
    out = []
    for i in range(a.shape[0]):
        v = a[i]
        for q in out:
            v = v - jnp.sum(q * v) * q
        n = jnp.sqrt(jnp.sum(v * v))
        ok = jnp.isfinite(n) & (n > 1e-3)
        out.append(jnp.where(ok, v / jnp.where(ok, n, 1.0), 0.0))
    return jnp.stack(out)


def _sweep_one(draws: Draws, k: Knobs, radius, inputs, length):
    return _specialise(k, functools.partial(_sweep_variant, draws, k._replace(radius=radius), inputs, length))


def _sweep_variant(draws: Draws, k: Knobs, inputs, length, cell, act):
    p, s, ck = _analysis_forward(draws, k, inputs, length, cell, act)
    tangent = jnp.concatenate([draws.probes, draws.probes], axis=1).reshape(SWEEP_PROBES, 2, -1)
    v = _leading_directions(p, s, inputs, length, ck, tangent)
    lead = jax.lax.dynamic_index_in_dim(v, _measured_index(s), 1, keepdims=False)  # ≈ top left singular vectors
    # A lead that vanished (dead ReLUs, or a NaN forward pass) falls back to the fixed random probe rows.
    lead = jnp.where(jnp.all(jnp.isfinite(lead)) & (jnp.sum(lead * lead) > 0), lead, draws.probes)
    probes = _orthonormal_rows(lead)
    sig, ex = _lag_norms(
        p, s, inputs, length, ck, _on_measured(s, probes), jnp.zeros((2,), jnp.float32), _top_singular_two
    )
    return jnp.log10(sig) + ex.astype(jnp.float32) * _LOG10_2


# Only the radius is batched: cell, activation and family indices stay unbatched, so every lax.switch stays a real
# switch (a batched index would evaluate every branch), and the traced length keeps the loops unbatched.
_sweep_program = jax.jit(jax.vmap(_sweep_one, in_axes=(None, None, 0, None, None)))


@jax.jit
def _terms_program(draws: Draws, k: Knobs, inputs, length):
    return _specialise(k, functools.partial(_terms_variant, draws, k, inputs, length))


def _terms_variant(draws: Draws, k: Knobs, inputs, length, cell, act):
    p, s, ck = _analysis_forward(draws, k, inputs, length, cell, act)
    capacity = inputs.shape[0]
    delta0 = _on_measured(s, draws.u0[None, :])[0]  # ∂L/∂z_T = g on the measured state

    def body(t, z, carry):
        delta, e, logs, total = carry
        kk = length - 1 - t
        g, dz = _vjp_full(p, s, z[None], inputs[t][None], delta[None])
        norms = jnp.stack([jnp.sqrt(sum(jnp.sum(x * x) for x in g))] + [jnp.sqrt(jnp.sum(x * x)) for x in g])
        logs = logs.at[kk].set(jnp.log10(norms) + e.astype(jnp.float32) * _LOG10_2)
        total = jax.tree_util.tree_map(lambda a, b: a + b * jnp.exp2(e.astype(jnp.float32)), total, g)
        delta, de = _renormalise(dz[0])
        return delta, e + de, logs, total

    zeros = jax.tree_util.tree_map(jnp.zeros_like, _rec(p))
    init = (delta0, jnp.int32(0), jnp.full((capacity, 4), -jnp.inf, jnp.float32), zeros)
    _, _, logs, total = _reverse_over_states(_analysis_step(p, s, inputs), ck, length, body, init)
    return logs, jnp.sqrt(sum(jnp.sum(x * x) for x in total))


@jax.jit
def _params_program(draws: Draws, k: Knobs) -> Params:
    return _build_params(draws, k, scaled=True)


# ----------------------------------------------------------------------------------------------------------------
# Public API: analysis at initialisation
# ----------------------------------------------------------------------------------------------------------------
def _measured(cell: str) -> str:
    return {"vanilla": "x", "lstm": "c", "gru": "h"}[cell]


def _g(config: RNNConfig) -> float:
    """Pascanu's g = sup|σ'| of the vanilla cell (c for note 3); NaN for gated cells."""
    if config.cell != "vanilla":
        return math.nan
    if config.family == "note3":
        return float(np.float32(config.c))
    return float(activations.get(config.activation).max_derivative)


def largest_singular_value(config: RNNConfig) -> float:
    """λ1 = ||W_rec||_2 of the recurrent matrix at initialisation.

    Float64 from the float32 weights; the maximum over the matrices a gated cell uses. For note 3 the singular values
    of [[0, 2], [ε, 0]] are 2 and ε.

    Args:
      config: the network (cell, weight family, spectral radius, ε, seed, hidden size).

    Returns:
      λ1 as a float.

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Sec. 2.1 (λ1 in the sufficient condition for vanishing gradients).
    """
    if config.family == "note3":
        return max(2.0, float(np.float32(config.eps)))
    host = _config_draws(config)
    norms = host.norm_gauss if config.family == "gaussian" else host.norm_orth
    return float(np.float32(config.spectral_radius)) * float(norms[: _SLOTS_USED[config.cell]].max())


def _spectral_radius(config: RNNConfig) -> float:
    if config.family == "note3":
        return math.sqrt(2.0 * float(np.float32(config.eps)))
    return float(np.float32(config.spectral_radius))


def pascanu_threshold(activation: str) -> float:
    """1/g with g = sup|σ'|: the largest singular value below which the vanilla cell's gradients must vanish.

    Args:
      activation: one of ``RNN_ACTIVATIONS``.

    Returns:
      1/g: 1 for tanh, relu and linear, 4 for sigmoid.

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Sec. 2.1 (γ = 1 for tanh, 1/4 for sigmoid).
    """
    check_choice("activation", activation, RNN_ACTIVATIONS)
    return 1.0 / activations.get(activation).max_derivative


def pascanu_verdict(config: RNNConfig) -> PascanuVerdict:
    """λ1 = ||W_rec||_2 against 1/g, the sufficient and the necessary condition of Pascanu et al.

    λ1 < 1/g is *sufficient* for vanishing gradients ("vanishing guaranteed"), λ1 > 1/g is *necessary* for exploding
    ones ("exploding possible"); "borderline" within 1e-6 relative (e.g. an orthogonal W_rec at γ = 1 with tanh:
    neither can be concluded). Gated cells: "not applicable" (the bound is about the vanilla recurrence).

    Args:
      config: the network.

    Returns:
      A :class:`PascanuVerdict`.

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Sec. 2.1 (the conditions after Eq. 7).
    """
    lam = largest_singular_value(config)
    rho = _spectral_radius(config)
    if config.cell != "vanilla":
        return PascanuVerdict(lam, rho, math.nan, math.nan, "not applicable: gated cell", False)
    g = _g(config)
    threshold = math.inf if g == 0 else 1.0 / g
    product = lam * g
    if abs(product - 1.0) <= 1e-6:
        verdict = "borderline"
    elif product < 1.0:
        verdict = "vanishing guaranteed"
    else:
        verdict = "exploding possible"
    return PascanuVerdict(lam, rho, g, threshold, verdict, True)


def _log10_from(sig, ex, length):
    sig = np.asarray(sig, np.float64)[:length]
    ex = np.asarray(ex, np.float64)[:length]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(sig) + ex * _LOG10_2


def _pow10(a):
    with np.errstate(over="ignore"):
        return np.power(10.0, a)


def jacobian_norms(config: RNNConfig, exact: bool = False) -> JacobianNorms:
    """||∂z_T/∂z_{T-k}||_2 for k = 0..T-1 beside the bound (||W_rec||_2 g)^k of the vanilla cell.

    On the fixed input sequence u_1..u_T ~ N(0, I) from z_0 = 0. The full product is propagated backward
    (J_{k+1} = J_k · ∂z_{T-k}/∂z_{T-k-1}, one H×H product per lag); the 2-norm per lag is by warm-started power
    iteration (a lower estimate that tracks σ_max, see ``_top_singular``), or by SVD with ``exact=True`` (same compiled
    program, about 0.2 ms more per lag at H = 64).

    Args:
      config: the network and the sequence length T.
      exact: SVD per lag instead of power iteration.

    Returns:
      A :class:`JacobianNorms` (log10 exact over any range: the exponent is tracked separately).

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Eq. 5 (the per-step Jacobian), Sec. 2.1 and Eqs. 6-7 (the bound).
      Wikipedia, "Vanishing gradient problem", section "Recurrent network model".
    """
    host = _config_draws(config)
    sig, ex = _jacobian_program(
        host.draws,
        _knobs(config),
        _inputs(config.seed, config.hidden_size, config.capacity),
        np.int32(config.T),
        np.bool_(exact),
    )
    log10 = _log10_from(sig, ex, config.T)
    lag = np.arange(config.T)
    lam = largest_singular_value(config)
    g = _g(config)
    with np.errstate(divide="ignore", invalid="ignore"):
        log10_bound = lag * np.log10(lam * g) if config.cell == "vanilla" else np.full(config.T, np.nan)
    log10_bound = np.where(lag == 0, 0.0, log10_bound) if config.cell == "vanilla" else log10_bound
    return JacobianNorms(
        lag=lag,
        log10_norm=log10,
        norm=_pow10(log10),
        log10_bound=log10_bound,
        bound=_pow10(log10_bound),
        largest_singular_value=lam,
        max_derivative=g,
        spectral_radius=_spectral_radius(config),
        measured=_measured(config.cell),
        exact=bool(exact),
    )


def _check_radii(radii) -> np.ndarray:
    try:
        r = np.asarray(radii, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"radii must be a list of numbers, got {radii!r}") from None
    if not 1 <= r.size <= 4096:
        raise ConfigError(f"radii must hold 1 to 4096 values, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise ConfigError("radii must be finite numbers, got NaN or inf")
    if r.min() < 0 or r.max() > MAX_RADIUS:
        raise ConfigError(f"radii must lie in [0, {MAX_RADIUS:g}], got values in [{r.min():g}, {r.max():g}]")
    return r.astype(np.float32)


def spectral_sweep(config: RNNConfig, radii) -> SpectralSweep:
    """log10 ||∂z_T/∂z_{T-k}|| for every spectral radius in ``radii`` and every lag k = 0..T-1.

    One vmapped, jitted call (the heatmap lag × spectral radius), the radius axis sharded over all visible devices.
    Every other setting comes from ``config``.

    Estimator. The full H×H product of :func:`jacobian_norms` would cost about 1 s here (128 radii × T = 1000 ×
    H = 64 is 67 GFLOP on two cores), so for each radius the sweep propagates only SWEEP_PROBES = 2 rows P and
    reports σ_max(P J_k) (exact for two rows, from their 2×2 Gram matrix):

    1. a forward pass keeps checkpoints of the states;
    2. two tangent vectors are pushed through the last SWEEP_WINDOW steps with re-orthonormalisation (subspace
       iteration): they converge to the leading forward Lyapunov subspace at time T, which contains the top left
       singular vector of J_k = ∂z_T/∂z_{T-k} for large k (two directions, because a complex pair of eigenvalues
       rotates that vector inside a plane);
    3. the rows P (that basis, on the measured state) are propagated backward through every lag.

    With orthonormal rows σ_max(P J_k) <= ||J_k||_2: a lower estimate, exact at k = 0 and for isometries (an
    orthogonal linear net), and close to exact once k exceeds the few steps the top singular vector needs to settle.
    Measured against the SVD of the full product (every cell; tanh, sigmoid, relu, linear; Gaussian, orthogonal
    and note-3 weights; radii 0.5-1.5; H = 16 and 64, T = 128 and 300): median shortfall per curve at most 0.2
    decades (0 for most settings; the largest where the top singular values are nearly equal, e.g. sigmoid with
    orthogonal weights), worst single lag 0.4 decades — invisible on a colour scale spanning tens of decades.
    :func:`jacobian_norms` gives the exact curve for the current radius. Cost: two forward passes, a short tangent
    pass and 2/H of the full backward product (≈ 125 ms for the case above with the vanilla cell; LSTM and GRU cost
    ≈ 5× and 3× more).

    Args:
      config: the network (its ``spectral_radius`` is replaced by each of ``radii``).
      radii: 1 to 4096 finite spectral radii in [0, MAX_RADIUS].

    Returns:
      A :class:`SpectralSweep` (``log10_norm`` of shape (len(radii), T); NaN where the float32 forward pass
      overflowed).

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Sec. 2.1.
      Oseledets (1968), "A multiplicative ergodic theorem", Trans. Moscow Math. Soc. 19 (Lyapunov subspaces);
      Golub & Van Loan (2013), "Matrix Computations", 4th ed., Sec. 8.2.4 (orthogonal/subspace iteration).
    """
    r = _check_radii(radii)
    host = _config_draws(config)
    args = (host.draws, _knobs(config))
    rest = (_inputs(config.seed, config.hidden_size, config.capacity), np.int32(config.T))
    out = sharding.sweep_over_devices(_sweep_program, args, r, rest)  # radius axis over all devices
    if config.family == "note3":
        lam = np.full(r.shape, largest_singular_value(config))
    else:
        norms = host.norm_gauss if config.family == "gaussian" else host.norm_orth
        lam = r.astype(np.float64) * float(norms[: _SLOTS_USED[config.cell]].max())
    g = _g(config)
    return SpectralSweep(
        radii=r,
        log10_norm=out[:, : config.T],
        largest_singular_value=lam,
        threshold=(1.0 / g if g > 0 else math.inf) if config.cell == "vanilla" else math.nan,
        probes=SWEEP_PROBES,
    )


def note3_product(eps: float, c: float, steps: int) -> Note3Product:
    """Note 3's products P_k = (W_rec D)^k in float64, k = 1..steps, with W_rec = [[0, 2], [ε, 0]] and D = c·I.

    W_rec has spectral radius sqrt(2ε) (> 1 for ε > 1/2), yet (W_rec D)^2 = 2εc²·I, so (W_rec D)^{2N} = (2εc²)^N · I,
    which vanishes or explodes with c: the spectral radius alone does not decide. Products are computed by repeated
    float64 multiplication (exact for dyadic ε, c while the powers fit the 53-bit mantissa); ``log10_norm`` uses
    the closed form ||P_{2N}|| = (2εc²)^N, ||P_{2N+1}|| = (2εc²)^N · c·max(2, ε), which cannot overflow.

    Args:
      eps: ε in [0, 100].
      c: c in [0, 100].
      steps: the number of powers, 1 to 100 000.

    Returns:
      A :class:`Note3Product`.

    References:
      Wikipedia, "Vanishing gradient problem", section "Recurrent network model", note 3.
    """
    eps = check_float("eps", eps, 0.0, 100.0)
    c = check_float("c", c, 0.0, 100.0)
    steps = check_int("steps", steps, 1, 100_000)
    wd = np.array([[0.0, 2.0], [eps, 0.0]]) @ (c * np.eye(2))
    mats = np.empty((steps, 2, 2))
    p = np.eye(2)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for i in range(steps):
            p = p @ wd
            mats[i] = p
        finite = np.all(np.isfinite(mats), axis=(1, 2))
        norm = np.full(steps, np.inf)
        norm[finite] = np.linalg.norm(mats[finite], 2, axis=(1, 2))
        k = np.arange(1, steps + 1)
        rate = 2.0 * eps * c * c
        with np.errstate(divide="ignore"):
            log_rate = math.log10(rate) if rate > 0 else -math.inf
            log_odd = math.log10(c * max(2.0, eps)) if c * max(2.0, eps) > 0 else -math.inf
        log10 = (k // 2) * log_rate + np.where(k % 2 == 1, log_odd, 0.0)
        log10 = np.where((k // 2 == 0) & (k % 2 == 1), log_odd, log10)
        radius_power = np.power(math.sqrt(2.0 * eps), k.astype(np.float64))
    return Note3Product(
        k=k,
        matrices=mats,
        norm=norm,
        log10_norm=log10,
        spectral_radius=math.sqrt(2.0 * eps),
        rate=rate,
        radius_power=radius_power,
    )


def parameter_gradient_terms(config: RNNConfig) -> ParameterGradientTerms:
    """Sizes of the terms ∂L/∂z_T · ∂z_T/∂z_{T-k} · ∇_θF(z_{T-k-1}, u_{T-k}, θ) of ∇_θ L, k = 0..T-1.

    For L = <g, z_T> (g a fixed random unit vector) on the same input sequence as :func:`jacobian_norms`. The decay
    rate ρ = ||W_rec|| g bounds the ratio of consecutive terms' Jacobian factors; with ρ < 1 the terms fall like
    M ρ^k and ``terms_for_99`` is O(1/(1-ρ)).

    Args:
      config: the network and the sequence length T.

    Returns:
      A :class:`ParameterGradientTerms` (per term: the global norm over θ = (W_rec, W_in, b) and per group).

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Eqs. 3-5 and Sec. 2.1.
      Wikipedia, "Vanishing gradient problem", section "Recurrent network model" (the "loss differential").
    """
    host = _config_draws(config)
    logs, total = _terms_program(
        host.draws, _knobs(config), _inputs(config.seed, config.hidden_size, config.capacity), np.int32(config.T)
    )
    logs = np.asarray(logs, np.float64)[: config.T]
    log_term = logs[:, 0]
    ln = log_term * math.log(10.0)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(ln) | np.isneginf(ln)
        if np.all(finite) and np.any(np.isfinite(ln)):
            cum = np.logaddexp.accumulate(ln)
            share = np.exp(cum - cum[-1])
            terms_99 = int(np.searchsorted(share, 0.99 - 1e-12) + 1)
        else:
            share = np.full(config.T, np.nan)
            terms_99 = -1
    lam = largest_singular_value(config)
    g = _g(config)
    rho = lam * g if config.cell == "vanilla" else math.nan
    horizon = 1.0 / (1.0 - rho) if rho < 1.0 else (math.inf if rho >= 1.0 else math.nan)
    return ParameterGradientTerms(
        lag=np.arange(config.T),
        log10_term=log_term,
        term=_pow10(log_term),
        log10_w_rec=logs[:, 1],
        log10_w_in=logs[:, 2],
        log10_b=logs[:, 3],
        cumulative_share=share,
        terms_for_99=min(terms_99, config.T),
        decay_rate=rho,
        horizon=horizon,
        gradient_norm=float(total),
    )


def weights(config: RNNConfig) -> RNNWeights:
    """The network's parameters at initialisation and the analysis inputs u_1..u_T.

    Args:
      config: the network.

    Returns:
      A :class:`RNNWeights` (NumPy float32; W_rec includes the spectral radius).

    References:
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Eq. 2 (the vanilla cell's W_rec, W_in, b); Mezzadri (2007), "How to generate random matrices from
      the classical compact groups", Notices of the AMS 54(5) (the orthogonal family).
    """
    p = jax.device_get(_params_program(_config_draws(config).draws, _knobs(config)))
    return RNNWeights(
        w_rec=np.asarray(p.w_rec),
        w_in=np.asarray(p.w_in),
        b=np.asarray(p.b),
        w_out=np.asarray(p.w_out),
        inputs=_config_draws(config).inputs[: config.T].copy(),
    )


def warm_up(hidden_sizes=(32,), n_radii: int | None = None) -> None:
    """Compile the analysis programs for every T bucket (and the sweep for ``n_radii`` radii).

    Afterwards moving the radius, ε, c, input scale, activation, cell, family or T never compiles. Training programs
    compile on first use per (hidden size, batch, length bucket, optimizer, chunk).

    Args:
      hidden_sizes: the hidden sizes to compile for (one program set each).
      n_radii: the number of radii of the spectral sweep to compile for (None: no sweep).

    Returns:
      None.

    References:
      JAX documentation, "Just-in-time compilation" (one compiled program per input shape and static argument).
    """
    for hidden in hidden_sizes:
        for cap in T_BUCKETS:
            cfg = RNNConfig(hidden_size=hidden, T=cap)
            jacobian_norms(cfg)
            parameter_gradient_terms(cfg)
            if n_radii:
                spectral_sweep(cfg, np.linspace(0.1, 2.0, n_radii))
        weights(RNNConfig(hidden_size=hidden))
