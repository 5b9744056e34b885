"""Recurrent networks (issue 3; Wikipedia article "Vanishing gradient problem", section "Recurrent network model" and
note 3; Pascanu, Mikolov & Bengio 2013): Jacobians through time against closed forms, independent reference
implementations and Pascanu's bound; the note-3 counterexample; LSTM against a sigmoid RNN; BPTT gradients; no
recompilation.

Most tests share one compiled program per (hidden size, T bucket): H = 16 with T <= 128 for the analysis, H = 32,
batch 32, length <= 128, 100-update chunks for training, so the file stays cheap on two cores.
"""

import json
import math
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vgp_core import activations, rnn
from vgp_core.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
U32 = 2.0**-24  # unit round-off of float32
H = 16  # hidden size of the analysis tests
RADII = np.linspace(0.25, 2.0, 8)  # one sweep shape for the whole file


def product_tolerance(k, hidden):
    """Relative error bound of a float32 product of k matrices of size hidden: each matrix product adds at most
    hidden·u relative error per entry (Higham's γ_n bound for a length-n dot product), so singular values of the
    computed product are off by at most (1 + hidden·u)^k - 1 ≈ k·hidden·u (first order). The power-of-two
    renormalisation adds nothing (it is exact)."""
    k = np.asarray(k, np.float64)
    return np.expm1(k * np.log1p(hidden * U32))


def log10_tolerance(k, hidden, magnitude=0.0):
    """The same bound on a log10 scale, plus the float32 rounding of a stored log10 value of this magnitude."""
    return np.log10(1.0 + product_tolerance(k, hidden)) + 4 * U32 * (1.0 + np.abs(magnitude))


# ------------------------------------------------------------------------------------------------------------------
# Independent reference implementations (written from the papers' equations, not from vgp_core.rnn)
# ------------------------------------------------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + jnp.exp(-x))


def ref_step(cell, activation, w, z, u):
    """One step of the cell for a state z = (h or x, c) using the weights of rnn.weights()."""
    w_rec, w_in, b = (jnp.asarray(a) for a in (w.w_rec, w.w_in, w.b))
    drive = [u @ w_in[i] + b[i] for i in range(4)]
    if cell == "vanilla":  # Pascanu et al. (2013) Eq. 2: x_t = W_rec σ(x_{t-1}) + W_in u_t + b
        sigma = {"tanh": jnp.tanh, "sigmoid": _sigmoid, "relu": lambda v: jnp.maximum(v, 0.0), "linear": lambda v: v}[
            activation
        ]
        return (w_rec[0] @ sigma(z[0]) + drive[0], jnp.zeros_like(z[1]))
    if cell == "lstm":  # gates i, f, o, g (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)
        h, c = z
        i, f, o, g = (w_rec[j] @ h + drive[j] for j in range(4))
        c_new = _sigmoid(f) * c + _sigmoid(i) * jnp.tanh(g)
        return (_sigmoid(o) * jnp.tanh(c_new), c_new)
    h = z[0]  # GRU, Cho et al. (2014) Eqs. 5-8
    r = _sigmoid(w_rec[0] @ h + drive[0])
    upd = _sigmoid(w_rec[1] @ h + drive[1])
    cand = jnp.tanh(w_rec[2] @ (r * h) + drive[2])
    return (upd * h + (1.0 - upd) * cand, jnp.zeros_like(z[1]))


def ref_states(cfg, w):
    z = (jnp.zeros(cfg.hidden_size), jnp.zeros(cfg.hidden_size))
    states = [z]
    for t in range(cfg.T):
        z = ref_step(cfg.cell, cfg.activation, w, z, jnp.asarray(w.inputs[t]))
        states.append(z)
    return states


def ref_jacobian_norms(cfg):
    """||∂z_T/∂z_{T-k}||_2 by forward-mode autodiff of the reference recurrence (measured state: x, c or h)."""
    w = rnn.weights(cfg)
    states = ref_states(cfg, w)
    m = 1 if cfg.cell == "lstm" else 0
    out = []
    for k in range(cfg.T):
        start = states[cfg.T - k]

        def run(v, start=start, k=k):
            z = (v, start[1]) if m == 0 else (start[0], v)
            for t in range(cfg.T - k, cfg.T):
                z = ref_step(cfg.cell, cfg.activation, w, z, jnp.asarray(w.inputs[t]))
            return z[m]

        jac = np.asarray(jax.jacfwd(run)(start[m]), np.float64)
        out.append(np.linalg.norm(jac, 2))
    return np.array(out)


# ------------------------------------------------------------------------------------------------------------------
# Must show: orthogonal linear RNN is an exact γ-scaled isometry
# ------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.75, 1.0, 1.25])
def test_orthogonal_linear_rnn_gives_gamma_to_the_k(gamma):
    # Linear σ: ∂x_t/∂x_{t-1} = W_rec = γQ, so ∂x_T/∂x_{T-k} = γ^k Q^k and every singular value is γ^k.
    # γ is dyadic, so float32(γ) = γ and the expected value has no representation error.
    cfg = rnn.RNNConfig(hidden_size=H, T=128, activation="linear", family="orthogonal", spectral_radius=gamma)
    k = np.arange(cfg.T)
    expected = k * math.log10(gamma)
    for exact in (False, True):
        got = rnn.jacobian_norms(cfg, exact=exact)
        np.testing.assert_array_equal(got.lag, k)
        # float32 product of k matrices (product_tolerance); the power iteration is exact here because all
        # singular values are equal (any start vector is a top singular vector).
        assert np.all(np.abs(got.log10_norm - expected) <= log10_tolerance(k, H))
        rel = np.abs(got.norm / gamma**k - 1.0)
        assert np.all(rel <= product_tolerance(k, H) + 4 * U32)
    # The sweep's probe estimate is exact for an isometry too (every orthonormal probe block has σ_max = γ^k);
    # its log10 is stored in float32 (the magnitude term of log10_tolerance).
    sweep = rnn.spectral_sweep(cfg, RADII)
    row = sweep.log10_norm[list(RADII).index(gamma)]
    assert np.all(np.abs(row - expected) <= log10_tolerance(k, H, expected))
    # Pascanu's bound is attained: ||W_rec||_2 = γ (orthogonal), g = 1 (linear).
    assert got.largest_singular_value == pytest.approx(gamma, rel=H * U32)
    assert np.all(got.log10_norm <= got.log10_bound + log10_tolerance(k, H))


# ------------------------------------------------------------------------------------------------------------------
# Must show: Wikipedia, "Vanishing gradient problem", note 3
# ------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "eps,c,pairs",
    [
        (0.75, 0.5, 30),  # 2εc² = 3/8 < 1: vanishes although ρ(W_rec) = sqrt(1.5) > 1
        (1.125, 0.75, 8),  # 2εc² = 81/64 > 1: explodes
    ],
)
def test_note3_product_is_exact(eps, c, pairs):
    out = rnn.note3_product(eps, c, 2 * pairs)
    rate = 2 * eps * c * c
    # ε and c are dyadic and rate^N = 3^N/8^N resp. 3^(4N)/2^(6N) fits float64's 53-bit mantissa for these N
    # (3^30 < 2^53, 3^32 < 2^53), so every product is computed without rounding: exact equality.
    for n in range(1, pairs + 1):
        np.testing.assert_array_equal(out.matrices[2 * n - 1], rate**n * np.eye(2))
    w_rec = np.array([[0.0, 2.0], [eps, 0.0]])
    assert out.spectral_radius == pytest.approx(np.abs(np.linalg.eigvals(w_rec)).max(), rel=1e-15)
    assert out.spectral_radius == pytest.approx(math.sqrt(2 * eps), rel=1e-15)
    assert out.spectral_radius > 1.0  # ε > 1/2
    assert out.rate == rate
    # The closed-form log10 agrees with the norms of the computed products (float64 SVD of 2×2: ~1e-15).
    np.testing.assert_allclose(np.log10(out.norm), out.log10_norm, rtol=0, atol=1e-12)
    # The spectral radius alone would predict growth (2ε)^{k/2}; the true norm follows (2εc²)^{k/2}.
    even = out.k % 2 == 0
    np.testing.assert_allclose(out.norm[even], rate ** (out.k[even] / 2), rtol=1e-15)
    assert np.all(out.radius_power[even] > 1.0)
    assert (out.norm[-1] < 1e-3) == (rate < 1)


def test_note3_inside_the_rnn_matches_the_closed_form():
    # Family "note3" puts W_rec = [[0, 2], [ε, 0]] in the RNN with σ(x) = c·x, so ∂x_T/∂x_{T-k} = (W_rec D)^k.
    # With dyadic ε, c the float32 products are exact too (3^15 < 2^24), leaving the 2-norm of the odd powers
    # (power iteration on an exactly represented matrix): a few float32 ulps.
    eps, c = 0.75, 0.5
    cfg = rnn.RNNConfig(hidden_size=H, T=31, family="note3", eps=eps, c=c, activation="tanh")
    ref = rnn.note3_product(eps, c, cfg.T - 1)
    for exact in (False, True):
        got = rnn.jacobian_norms(cfg, exact=exact)
        np.testing.assert_allclose(got.log10_norm[1:], ref.log10_norm, rtol=0, atol=8 * U32)
        assert got.spectral_radius == pytest.approx(math.sqrt(2 * eps))
    verdict = rnn.pascanu_verdict(cfg)
    assert verdict.largest_singular_value == 2.0 and verdict.max_derivative == c


# ------------------------------------------------------------------------------------------------------------------
# Must show: Pascanu's bound holds
# ------------------------------------------------------------------------------------------------------------------
CONFIGS = [
    dict(activation=a, family=f, spectral_radius=r)
    for a in ("sigmoid", "tanh", "relu", "linear")
    for f in ("gaussian", "orthogonal")
    for r in (0.5, 1.0, 1.75)
]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_measured_norms_never_exceed_pascanu_bound(kw):
    cfg = rnn.RNNConfig(hidden_size=H, T=100, **kw)
    got = rnn.jacobian_norms(cfg)
    k = got.lag
    g = activations.get(kw["activation"]).max_derivative
    # The bound ||W_rec||^k (max σ')^k, with ||W_rec||_2 recomputed here from the float32 weights in float64.
    lam = np.linalg.norm(rnn.weights(cfg).w_rec[0].astype(np.float64), 2)
    assert got.largest_singular_value == pytest.approx(lam, rel=4 * H * U32)
    # (weights() rounds γ·W0 to float32 entrywise: ||W_rec||_2 moves by at most 4·H·u relative, so k·that in log10)
    assert np.all(np.abs(got.log10_bound - k * np.log10(lam * g)) <= k * np.log10(1 + 4 * H * U32) + 1e-12)
    finite = np.isfinite(got.log10_norm)
    assert finite.all()  # T = 100 overflows nothing at these radii
    # float32 products: measured may exceed the exact value by product_tolerance (and lam by 4·H·u relative).
    slack = log10_tolerance(k, H) + k * np.log10(1 + 4 * H * U32)
    assert np.all(got.log10_norm <= got.log10_bound + slack)
    # The sweep estimates the same norms from below (a two-row probe block), so it obeys the bound as well.
    sweep = rnn.spectral_sweep(cfg, RADII)
    lam_r = RADII / kw["spectral_radius"] * lam
    bound = k[None, :] * np.log10(lam_r * g)[:, None]
    assert np.all((sweep.log10_norm <= bound + slack + log10_tolerance(k, H, bound)) | ~np.isfinite(sweep.log10_norm))


def test_jacobian_norms_match_an_independent_reference():
    # Forward-mode autodiff (jax.jacfwd) through a separate implementation of each cell's equations, then the
    # float64 SVD: both sides are float32 networks, so agreement is to float32 rounding of T = 12 steps
    # (product_tolerance: 12·16·u ≈ 1e-5 relative), with margin 10× for the different operation order.
    for cell, act in (("vanilla", "tanh"), ("vanilla", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")):
        cfg = rnn.RNNConfig(hidden_size=H, T=12, cell=cell, activation=act, spectral_radius=1.3)
        want = ref_jacobian_norms(cfg)
        got = rnn.jacobian_norms(cfg, exact=True)
        np.testing.assert_allclose(got.norm, want, rtol=10 * product_tolerance(cfg.T, H), err_msg=cell)
        # The default power iteration is a lower estimate. Where it has not converged after
        # POWER_MAX_ITERATIONS the top singular values are nearly equal, so the shortfall is at most their gap;
        # measured against the SVD it is under 1 % (H = 16..64, T up to 300); 2 % leaves room.
        fast = rnn.jacobian_norms(cfg)
        assert np.all(fast.norm <= want * (1 + 10 * product_tolerance(cfg.T, H)))
        assert np.all(fast.norm >= 0.98 * want)
        assert fast.measured == {"vanilla": "x", "lstm": "c", "gru": "h"}[cell]


def test_sweep_rows_track_the_exact_curve():
    # spectral_sweep propagates two probe rows (the leading forward Lyapunov directions): a lower estimate of
    # ||J_k||, exact at k = 0. Its documented accuracy (rnn.spectral_sweep) is a few tenths of a decade at worst and
    # about 0 in the median; checked here against the SVD curve of jacobian_norms for each cell.
    for cell in rnn.CELLS:
        cfg = rnn.RNNConfig(hidden_size=H, T=100, cell=cell, activation="tanh", spectral_radius=RADII[3])
        exact = rnn.jacobian_norms(cfg, exact=True).log10_norm
        sweep = rnn.spectral_sweep(cfg, RADII)
        assert sweep.log10_norm.shape == (len(RADII), cfg.T)
        diff = exact - sweep.log10_norm[3]
        assert diff[0] == pytest.approx(0.0, abs=1e-6)  # J_0 = I
        assert np.all(diff >= -log10_tolerance(np.arange(cfg.T), H, exact))  # never above the exact norm
        assert diff.max() <= 0.5 and np.median(diff) <= 0.05, cell


def test_sharded_sweep_matches_unsharded():
    """With several devices spectral_sweep shards its radius axis (like mlp.gain_sweep); the result must not change."""
    code = textwrap.dedent(
        """
        import os, json
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=3"
        os.environ["VGP_JAX_CACHE_DIR"] = "off"
        import jax
        from vgp_core import rnn
        assert len(jax.devices()) == 3, jax.devices()
        out = rnn.spectral_sweep(rnn.RNNConfig(hidden_size=16, T=40), %r)  # 8 radii padded to 9
        print(json.dumps(out.log10_norm.tolist()))
    """
        % RADII.tolist()
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    sharded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert sharded.returncode == 0, sharded.stderr
    got = np.array(json.loads(sharded.stdout.strip().splitlines()[-1]))
    want = rnn.spectral_sweep(rnn.RNNConfig(hidden_size=16, T=40), RADII).log10_norm
    # the same float32 program per radius, split across devices: identical up to reduction order
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_explosions_and_deep_underflow_come_through():
    # Exponent tracking: a sigmoid RNN at radius 0.25 shrinks by ≤ (0.25·||W0||/4) per step, far below float32's
    # 1e-38 after 127 steps, yet the log10 stays finite and obeys the bound.
    cfg = rnn.RNNConfig(hidden_size=H, T=128, activation="sigmoid", spectral_radius=0.25)
    got = rnn.jacobian_norms(cfg)
    assert np.all(np.isfinite(got.log10_norm)) and got.log10_norm[-1] < -60
    assert got.norm[-1] == pytest.approx(10.0 ** got.log10_norm[-1], rel=1e-12)
    # A linear RNN at radius 10 overflows float32 in its forward pass (10^38 after ~40 steps): NaN, not a crash.
    cfg = rnn.RNNConfig(hidden_size=H, T=128, activation="linear", spectral_radius=10.0)
    got = rnn.jacobian_norms(cfg)
    assert np.isnan(got.log10_norm[-1]) and got.log10_norm[0] == 0.0
    assert np.isnan(rnn.spectral_sweep(cfg.replace(spectral_radius=1.0), [10.0] * len(RADII)).log10_norm[0, -1])


# ------------------------------------------------------------------------------------------------------------------
# Pascanu thresholds, the loss differential's terms
# ------------------------------------------------------------------------------------------------------------------
def test_pascanu_thresholds_and_verdicts():
    assert rnn.pascanu_threshold("sigmoid") == 4.0 and rnn.pascanu_threshold("tanh") == 1.0
    sig = rnn.pascanu_verdict(rnn.RNNConfig(hidden_size=H, activation="sigmoid", spectral_radius=0.9))
    assert sig.threshold == 4.0 and sig.largest_singular_value < 4.0 and sig.verdict == "vanishing guaranteed"
    tanh = rnn.pascanu_verdict(rnn.RNNConfig(hidden_size=H, activation="tanh", spectral_radius=1.5))
    assert tanh.largest_singular_value > 1.0 and tanh.verdict == "exploding possible"
    iso = rnn.pascanu_verdict(rnn.RNNConfig(hidden_size=H, activation="linear", family="orthogonal"))
    assert iso.verdict == "borderline" and iso.applies
    gated = rnn.pascanu_verdict(rnn.RNNConfig(hidden_size=H, cell="lstm"))
    assert not gated.applies and gated.verdict.startswith("not applicable")
    # λ1 of a Gaussian matrix scaled to spectral radius γ: γ times the unscaled one (float64 SVD of float32).
    base = rnn.largest_singular_value(rnn.RNNConfig(hidden_size=H, spectral_radius=1.0))
    assert rnn.largest_singular_value(rnn.RNNConfig(hidden_size=H, spectral_radius=0.5)) == pytest.approx(base / 2)


def test_parameter_gradient_terms_sum_to_the_gradient_and_decay():
    cfg = rnn.RNNConfig(hidden_size=H, T=12, activation="sigmoid", spectral_radius=1.0)
    terms = rnn.parameter_gradient_terms(cfg)
    w = rnn.weights(cfg)
    g = np.asarray(rnn._config_draws(cfg).draws.u0)  # the fixed unit vector of L = <g, x_T>

    def loss(w_rec0, w_in0, b0):
        x = jnp.zeros(H)
        for t in range(cfg.T):  # Pascanu et al. (2013) Eq. 2
            x = w_rec0 @ _sigmoid(x) + jnp.asarray(w.inputs[t]) @ w_in0 + b0
        return jnp.dot(jnp.asarray(g), x)

    grads = jax.grad(loss, argnums=(0, 1, 2))(jnp.asarray(w.w_rec[0]), jnp.asarray(w.w_in[0]), jnp.asarray(w.b[0]))
    want = math.sqrt(sum(float(jnp.sum(x * x)) for x in grads))
    # Σ_k term_k = ∇_θ L (Wikipedia's "loss differential"); float32 sums of 12 terms: 1e-5 relative is ample.
    assert terms.gradient_norm == pytest.approx(want, rel=1e-5)
    # Term k = δ_k ⊗ (σ(x_{T-k-1}), u_{T-k}, 1) with ||δ_k|| <= (||W_rec|| g)^k = ρ^k, and |σ| <= 1, so
    # term_k <= ρ^k sqrt(H + ||u_{T-k}||² + 1): the terms decay like M ρ^k.
    rho = terms.decay_rate
    assert rho == pytest.approx(rnn.largest_singular_value(cfg) / 4)
    u_norm = np.linalg.norm(w.inputs[::-1], axis=1)  # u_{T-k} for k = 0..T-1
    bound = terms.lag * np.log10(rho) + 0.5 * np.log10(H + u_norm**2 + 1)
    assert np.all(terms.log10_term <= bound + log10_tolerance(terms.lag, H))
    assert terms.horizon == pytest.approx(1 / (1 - rho))
    # With ρ ≈ 0.5 almost all of the gradient is in the first few terms (O(1/(1-ρ)) = 2).
    assert terms.cumulative_share[-1] == pytest.approx(1.0)
    assert terms.terms_for_99 <= 8


# ------------------------------------------------------------------------------------------------------------------
# Must show: LSTM against a sigmoid vanilla RNN
# ------------------------------------------------------------------------------------------------------------------
def test_lstm_keeps_gradients_over_lag_100():
    lstm = rnn.jacobian_norms(rnn.RNNConfig(hidden_size=H, T=101, cell="lstm"))
    sigmoid = rnn.jacobian_norms(rnn.RNNConfig(hidden_size=H, T=101, cell="vanilla", activation="sigmoid"))
    # Same size, same weight family and radius. The sigmoid RNN is bounded by (||W_rec||/4)^100 (about 1e-30 with
    # ||W_rec|| ≈ 2 for a Gaussian matrix of spectral radius 1); the LSTM's cell state keeps the error flowing
    # through the forget gate (constant error carousel): it stays more than 20 orders of magnitude above even
    # that upper bound, and far above the measured sigmoid value.
    assert sigmoid.log10_norm[100] <= sigmoid.log10_bound[100] + log10_tolerance(100, H)
    assert lstm.log10_norm[100] - sigmoid.log10_bound[100] >= 20
    assert lstm.log10_norm[100] - sigmoid.log10_norm[100] >= 50


TRAIN = dict(task="adding", length=20, steps=300, learning_rate=0.01, batch_size=32, chunk=100)


def test_lstm_solves_the_adding_problem_where_the_sigmoid_rnn_fails():
    # Hochreiter & Schmidhuber (1997) adding problem, length 20 (both marked values in the first half: lags >= 10),
    # same seed and data, a fixed budget of 300 Adam updates for each network (about 10 s on two cores).
    lstm = rnn.train_memory_task(rnn.RNNConfig(hidden_size=32, T=20, cell="lstm"), **TRAIN)
    vanilla = rnn.train_memory_task(rnn.RNNConfig(hidden_size=32, T=20, activation="sigmoid"), **TRAIN)
    assert lstm.steps == vanilla.steps == 300
    assert lstm.time_grad_norm.shape == (300, 20)
    assert lstm.solved and lstm.eval_accuracy >= rnn.SOLVED_ACCURACY
    assert lstm.eval_loss < 0.1 * lstm.baseline_loss
    # The sigmoid RNN stays at the best constant output: accuracy near chance (0.154), loss near Var(target).
    assert not vanilla.solved
    assert vanilla.eval_accuracy < 2 * vanilla.chance_accuracy
    assert vanilla.eval_loss > 0.8 * vanilla.baseline_loss
    # Why: at initialisation the loss gradient reaching the first input is tiny for the sigmoid RNN.
    assert lstm.time_grad_norm[0, 0] > 1e6 * vanilla.time_grad_norm[0, 0]


def ref_batch_loss(cfg, task_batch, perturb, params):
    """Mean loss of the reference network on a batch; ``perturb`` (T, 2, B, H) is added to the states z_1..z_T so
    that its gradient is ∂L/∂z_t."""
    w = rnn.weights(cfg)
    w_rec, w_in, b, w_out, b_out = params
    x = jnp.asarray(task_batch.inputs)
    batch = x.shape[0]
    hidden = w.w_rec.shape[-1]
    z = (jnp.zeros((batch, hidden)), jnp.zeros((batch, hidden)))
    weights_obj = type(w)(w_rec=w_rec, w_in=w_in, b=b, w_out=w_out, inputs=w.inputs)
    step = jax.vmap(lambda z0, z1, u: ref_step(cfg.cell, cfg.activation, weights_obj, (z0, z1), u))
    for t in range(x.shape[1]):
        z = step(z[0], z[1], x[:, t])
        z = (z[0] + perturb[t, 0], z[1] + perturb[t, 1])
    feat = _sigmoid(z[0]) if cfg.cell == "vanilla" else z[0]
    out = feat @ w_out + b_out
    return jnp.mean((out[:, 0] - jnp.asarray(task_batch.target)) ** 2)


@pytest.mark.parametrize("cell", ["vanilla", "lstm"])
def test_bptt_gradients_match_reverse_mode_autodiff(cell):
    # The first update of a training run reports the global gradient norm and ||∂L/∂z_t|| before any update;
    # recompute both with jax.grad of the reference network on the same batch (memory_task_batch). float32 BPTT
    # over 20 steps in a different operation order: 1e-4 relative.
    cfg = rnn.RNNConfig(hidden_size=32, T=20, cell=cell, activation="sigmoid")
    trace = rnn.train_memory_task(cfg, **{**TRAIN, "steps": 100})
    batch = rnn.memory_task_batch("adding", 20, 32, cfg.seed, step=0)
    w = rnn.weights(cfg)
    params = tuple(jnp.asarray(a) for a in (w.w_rec, w.w_in, w.b, w.w_out, np.zeros(rnn.N_OUT, np.float32)))
    perturb = jnp.zeros((20, 2, 32, 32))
    loss, (gp, gz) = jax.value_and_grad(lambda p, e: ref_batch_loss(cfg, batch, e, p), argnums=(0, 1))(params, perturb)
    assert trace.loss[0] == pytest.approx(float(loss), rel=1e-5)
    want = math.sqrt(sum(float(jnp.sum(x * x)) for x in gp))
    assert trace.grad_norm[0] == pytest.approx(want, rel=1e-4)
    tg = np.sqrt(np.sum(np.asarray(gz) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(trace.time_grad_norm[0], tg, rtol=1e-4, atol=1e-12)


def test_clipping_changes_the_update_but_not_the_data():
    cfg = rnn.RNNConfig(hidden_size=32, T=20, activation="sigmoid")
    plain = rnn.train_memory_task(cfg, **{**TRAIN, "steps": 100})
    clipped = rnn.train_memory_task(cfg, **{**TRAIN, "steps": 100}, clip_norm=1e-3)
    # Same seed: identical first batch and network, hence identical step-0 loss and gradient.
    assert clipped.loss[0] == plain.loss[0] and clipped.grad_norm[0] == plain.grad_norm[0]
    assert clipped.clip_norm == 1e-3 and plain.clip_norm == math.inf
    np.testing.assert_array_equal(clipped.clipped, clipped.grad_norm > 1e-3)
    assert not plain.clipped.any()


def test_memory_task_batches():
    add = rnn.memory_task_batch("adding", 40, 16, seed=3)
    values, marks = add.inputs[:, :, 0], add.inputs[:, :, 1]
    assert np.all(marks.sum(axis=1) == 2)
    first = marks.argmax(axis=1)
    assert np.all(first < 4)  # first marker among the first 10 % of the positions
    assert np.all(np.nonzero(marks)[1] < 20)  # both in the first half
    np.testing.assert_allclose(add.target, 0.5 + (values * marks).sum(axis=1) / 4, atol=1e-6)
    order = rnn.memory_task_batch("temporal_order", 100, 16, seed=3)
    sym = order.inputs.argmax(axis=2)
    assert np.all(sym[:, 0] == 4) and np.all(sym[:, -1] == 5)
    relevant = [np.nonzero(s >= 6)[0] for s in sym]
    assert all(len(r) == 2 and 10 <= r[0] < 20 and 50 <= r[1] < 60 for r in relevant)
    np.testing.assert_array_equal(order.label, [2 * (s[r[0]] - 6) + (s[r[1]] - 6) for s, r in zip(sym, relevant)])
    copy = rnn.memory_task_batch("copy_first", 30, 16, seed=3)
    np.testing.assert_array_equal(copy.label, copy.inputs[:, 0].argmax(axis=1))
    assert np.all(copy.inputs[:, 1:].argmax(axis=2) >= 4)


# ------------------------------------------------------------------------------------------------------------------
# Engineering: no recompilation, validation
# ------------------------------------------------------------------------------------------------------------------
def test_zero_compilations_while_the_controls_move(compile_counter):
    rnn.warm_up(hidden_sizes=(H,), n_radii=len(RADII))
    base = rnn.RNNConfig(hidden_size=H, T=100)
    moves = (
        [dict(spectral_radius=r) for r in (0.1, 1, 1.0, 2, 1.37)]  # 1 and 2 (ints) must not trace again
        + [dict(activation=a) for a in rnn.RNN_ACTIVATIONS]
        + [dict(cell=c) for c in rnn.CELLS]
        + [dict(family=f) for f in rnn.FAMILIES]
        + [dict(T=t) for t in (1, 50, 128, 129, 500, 1000, 1024, 64)]
        + [dict(eps=1, c=0.9), dict(input_scale=0), dict(forget_bias=3), dict(seed=5)]
    )
    with compile_counter() as compiles:
        cfg = base
        for move in moves:
            cfg = cfg.replace(**move)
            rnn.jacobian_norms(cfg)
            rnn.spectral_sweep(cfg, RADII)
            rnn.parameter_gradient_terms(cfg)
            rnn.pascanu_verdict(cfg)
            rnn.note3_product(cfg.eps, cfg.c, cfg.T)
    assert compiles == [], f"{len(compiles)} compilations after warm-up"


def test_training_reuses_its_program(compile_counter):
    cfg = rnn.RNNConfig(hidden_size=32, T=20, activation="sigmoid")
    rnn.train_memory_task(cfg, **{**TRAIN, "steps": 100})
    with compile_counter() as compiles:
        for move in (dict(spectral_radius=1.5), dict(family="orthogonal"), dict(seed=2)):
            rnn.train_memory_task(
                cfg.replace(**move), **{**TRAIN, "steps": 100, "clip_norm": 1.0, "learning_rate": 0.003, "length": 30}
            )
        rnn.train_memory_task(cfg, **{**TRAIN, "steps": 100, "task": "temporal_order"})
    assert compiles == []


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(spectral_radius=float("nan")), "finite"),
        (dict(spectral_radius=-0.1), "spectral_radius"),
        (dict(T=0), "T"),
        (dict(T=rnn.MAX_T + 1), "T"),
        (dict(hidden_size=1), "hidden_size"),
        (dict(activation="softsign"), "sigmoid, tanh, relu, linear"),
        (dict(cell="transformer"), "vanilla, lstm, gru"),
        (dict(family="uniform"), "gaussian, orthogonal, note3"),
        (dict(eps=float("inf")), "finite"),
        (dict(c=-1), "c"),
        (dict(seed=1.5), "seed"),
    ],
)
def test_invalid_configs_raise_clear_errors(kw, match):
    with pytest.raises(ConfigError, match=match):
        rnn.RNNConfig(**kw)


def test_invalid_call_arguments():
    cfg = rnn.RNNConfig(hidden_size=H)
    with pytest.raises(ConfigError, match="finite"):
        rnn.spectral_sweep(cfg, [1.0, float("nan")])
    with pytest.raises(ConfigError, match="radii"):
        rnn.spectral_sweep(cfg, [])
    with pytest.raises(ConfigError, match="task"):
        rnn.train_memory_task(cfg, task="parity")
    with pytest.raises(ConfigError, match="length"):
        rnn.train_memory_task(cfg, length=2)
    with pytest.raises(ConfigError, match="clip_norm"):
        rnn.train_memory_task(cfg, clip_norm=float("nan"))
    with pytest.raises(ConfigError, match="optimizer"):
        rnn.train_memory_task(cfg, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="steps"):
        rnn.note3_product(0.75, 0.5, 0)
    with pytest.raises(ConfigError, match="eps"):
        rnn.note3_product(float("nan"), 0.5, 10)
