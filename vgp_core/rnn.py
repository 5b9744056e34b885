"""Recurrent networks unrolled through time: Jacobian norms, spectral sweeps, gradient terms and memory tasks.

The Wikipedia article "Vanishing gradient problem" (section "Recurrent network model" and note 3), after Pascanu,
Mikolov & Bengio (2013, "On the difficulty of training recurrent neural networks", arXiv:1211.5063). Cells (state
z_t; inputs u_t; column vectors):

* ``vanilla`` (Pascanu et al. 2013, Eq. 2):  x_t = W_rec σ(x_{t-1}) + W_in u_t + b, so that
  ∂x_t/∂x_{t-1} = W_rec diag(σ'(x_{t-1})) (Eq. 5; the paper prints W_recᵀ, a known typo, the Wikipedia
  article has it right) and ||∏ ∂x_j/∂x_{j-1}|| ≤ (||W_rec|| g)^k with g = sup|σ'| (Sec. 2.1, Eqs. 6-7).
* ``lstm`` (Hochreiter & Schmidhuber 1997, with the forget gate of Gers, Schmidhuber & Cummins 2000):
  i, f, o = σ(W_{i,f,o} h_{t-1} + U_{i,f,o} u_t + b_{i,f,o}), g = tanh(W_g h_{t-1} + U_g u_t + b_g),
  c_t = f ⊙ c_{t-1} + i ⊙ g (the constant error carousel: ∂c_t/∂c_{t-1} ⊇ diag(f), = I without a forget gate),
  h_t = o ⊙ tanh(c_t). b_f starts at ``forget_bias``. The measured state is the cell c.
* ``gru`` (Cho et al. 2014, Eqs. 5-8): r = σ(W_r h + U_r u + b_r), z = σ(W_z h + U_z u + b_z),
  h̃ = tanh(W (r ⊙ h) + U u + b), h_t = z ⊙ h_{t-1} + (1 - z) ⊙ h̃. The measured state is h.

The activation control selects σ of the vanilla cell (sigmoid, tanh, relu, linear); gated cells keep their
sigmoid gates and tanh candidates. Recurrent weights (every recurrent matrix of a cell) come from one family:

* ``gaussian``: i.i.d. N(0, 1) divided by its exact spectral radius (float64 eigenvalues), times ``spectral_radius``;
* ``orthogonal``: a Haar orthogonal matrix (QR, Mezzadri 2007) times ``spectral_radius`` (all singular values γ);
* ``note3``: Wikipedia's note 3, W_rec = [[0, 2], [ε, 0]] in the top-left 2×2 block (zeros elsewhere), whose spectral
  radius is sqrt(2ε). With this family the vanilla cell uses σ(x) = c·x, so diag(σ') = D = c·I exactly as in the
  note and ∂x_T/∂x_{T-k} = (W_rec D)^k; ``spectral_radius`` is then unused.

Engineering (JAX): every program is a module-level ``jax.jit`` (``panel serve`` re-runs the app script for every
session, so a jit created there would compile again per student); one compiled analysis program per
hidden size and T-capacity bucket (``T_BUCKETS``) serves every spectral radius, ε, c, input scale and forget bias
(traced float32), every cell, activation and weight family (traced int32 indices) and every T inside the bucket.
The (cell, activation) pair selects one branch of a single top-level ``lax.switch`` whose branches are the whole
computation specialised to that pair (``_specialise``), so the per-step code carries no conditionals. T is the
traced trip count of ``lax.fori_loop`` (a while loop), so the work follows the active T, not the bucket. Backward
passes are reverse loops of per-step VJPs (reverse-mode ``jax.grad`` cannot differentiate a loop with a traced trip
count) over checkpointed segments: the forward pass keeps every ``CHECKPOINT_EVERY``-th state and each segment is
recomputed before it is traversed backward, which costs one extra forward pass but keeps memory small (a full state
buffer for 128 radii × 1024 steps is 67 MB, and filling a fresh one costs more than the arithmetic). The state
Jacobians' transposes are written out for every cell (vanilla: Eq. 5); parameter gradients of the gated cells use
``jax.vjp`` of their step function (tests check both against autodiff of independent implementations).

Jacobian products are propagated backward, J_{k+1} = J_k · ∂z_{T-k}/∂z_{T-k-1}, as a block of rows (the identity
for :func:`jacobian_norms`, ``SWEEP_PROBES`` rows for :func:`spectral_sweep`), renormalised every step by an exact
power of two whose exponent is carried as an integer, so ||J_k|| is reported over any range (1e-300 or 1e+300 alike)
without float32 under/overflow and without rounding from the rescaling. Only genuine float32 failures of the forward
pass (a state that overflowed into inf - inf = NaN) give NaN, which is reported as such.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import activations
from .errors import ConfigError, check_choice, check_float, check_int

MAX_T = 1024
#: Capacity buckets of T: a run of length T uses the smallest bucket >= T (buffers follow the bucket, loops T).
T_BUCKETS = (128, MAX_T)
MAX_HIDDEN = 256
MAX_RADIUS = 10.0
CELLS = ("vanilla", "lstm", "gru")
RNN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
FAMILIES = ("gaussian", "orthogonal", "note3")
TASKS = ("adding", "temporal_order", "copy_first")
OPTIMIZERS = ("adam", "sgd")
#: Input channels (one-hot symbols of the tasks; Gaussian drive for the Jacobian analysis) and outputs.
INPUT_DIM = 8
N_OUT = 4
#: Recurrent matrix slots: vanilla uses slot 0, GRU 0..2 (reset, update, candidate), LSTM 0..3 (i, f, o, g).
N_SLOTS = 4
_SLOTS_USED = {"vanilla": 1, "lstm": 4, "gru": 3}
_LSTM = CELLS.index("lstm")
_VANILLA = CELLS.index("vanilla")
#: Rows propagated by ``spectral_sweep`` (see there): the two leading directions from forward subspace iteration
#: (two, because a complex pair of eigenvalues rotates the top singular direction within a plane). Propagating the
#: full H×H product for 128 radii × 1000 steps × H = 64 is 67 GFLOP (about 1 s on two cores); 2 rows cost 2/H.
SWEEP_PROBES = 2
#: Steps at the end of the sequence over which spectral_sweep's forward subspace iteration runs (at least).
SWEEP_WINDOW = 128
#: Backward passes keep every CHECKPOINT_EVERY-th state and recompute the states in between, segment by segment.
CHECKPOINT_EVERY = 32
#: Power iteration per lag (see ``_top_singular``): warm-started from the previous lag's left singular vector, it
#: stops when an iteration raises the estimate of σ_max² by less than POWER_TOLERANCE (relative; float32 resolves
#: about 6e-8) or after POWER_MAX_ITERATIONS.
POWER_TOLERANCE = 1e-6
POWER_MAX_ITERATIONS = 64
#: Adding problem: an output within this distance of the target counts as correct (Hochreiter & Schmidhuber 1997).
ADDING_TOLERANCE = 0.04
#: Shortest sequence of the memory tasks (room for temporal order's B, two relevant symbols and E).
MIN_TASK_LENGTH = 8
#: Fixed held-out batch on which ``train_memory_task`` reports its final loss and accuracy.
EVAL_BATCH = 512
#: A task counts as solved when the held-out accuracy reaches this level.
SOLVED_ACCURACY = 0.9
_LOG10_2 = math.log10(2.0)


# ----------------------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RNNConfig:
    """A recurrent network and the sequence it is probed with. Validated on construction (ConfigError).

    ``T``: sequence length (1..MAX_T; the analysis runs on T steps of a fixed seeded input sequence, training uses
    it as the default task length). ``spectral_radius``: γ of every recurrent matrix (families gaussian and
    orthogonal). ``activation``: σ of the vanilla cell. ``family``: "gaussian", "orthogonal" or "note3" (then ``eps``
    and ``c`` define W_rec and D). ``cell``: "vanilla", "lstm", "gru". ``input_scale``: multiplies W_in (entries
    N(0, 1/INPUT_DIM)). ``forget_bias``: the LSTM forget gate's initial bias.
    """

    hidden_size: int = 32
    T: int = 100
    spectral_radius: float = 1.0
    activation: str = "tanh"
    family: str = "gaussian"
    cell: str = "vanilla"
    input_scale: float = 1.0
    seed: int = 0
    eps: float = 0.75  # note 3's ε (family "note3")
    c: float = 0.5  # note 3's D = c·I (family "note3")
    forget_bias: float = 1.0  # LSTM forget-gate bias at initialisation

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("hidden_size", check_int("hidden_size", self.hidden_size, 2, MAX_HIDDEN))
        set_("T", check_int("T", self.T, 1, MAX_T))
        set_("spectral_radius", check_float("spectral_radius", self.spectral_radius, 0.0, MAX_RADIUS))
        set_("activation", check_choice("activation", self.activation, RNN_ACTIVATIONS))
        set_("family", check_choice("weight family", self.family, FAMILIES))
        set_("cell", check_choice("cell", self.cell, CELLS))
        set_("input_scale", check_float("input_scale", self.input_scale, 0.0, 100.0))
        set_("seed", check_int("seed", self.seed, 0, 2**31 - 1))
        set_("eps", check_float("eps", self.eps, 0.0, 100.0))
        set_("c", check_float("c", self.c, 0.0, 100.0))
        set_("forget_bias", check_float("forget_bias", self.forget_bias, -20.0, 20.0))

    @property
    def capacity(self) -> int:
        return _bucket(self.T)

    def replace(self, **changes) -> RNNConfig:
        return dataclasses.replace(self, **changes)


def _bucket(length: int) -> int:
    return next(b for b in T_BUCKETS if b >= length)


# ----------------------------------------------------------------------------------------------------------------
# Results (frozen dataclasses of NumPy arrays)
# ----------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class JacobianNorms:
    """||∂z_T/∂z_{T-k}||_2 for k = 0..T-1 (z = x for vanilla, c for LSTM, h for GRU) beside Pascanu's bound.

    ``log10_norm`` is exact in range (power-of-two exponent tracking): -inf only where the product is exactly zero
    (dead ReLUs), NaN where the float32 forward pass itself overflowed into NaN. ``norm`` = 10**log10_norm in
    float64 (0 or inf outside float64's range).
    """

    lag: np.ndarray  # (T,) k
    log10_norm: np.ndarray  # (T,) float64
    norm: np.ndarray  # (T,) float64
    log10_bound: np.ndarray  # (T,) k·log10(||W_rec||_2 g) (Pascanu et al. 2013, Sec. 2.1); NaN for gated cells
    bound: np.ndarray  # (T,) float64
    largest_singular_value: float  # ||W_rec||_2 (the vanilla recurrent matrix; max over a gated cell's matrices)
    max_derivative: float  # g = sup|σ'| (c for note 3; NaN for gated cells)
    spectral_radius: float  # of W_rec: the configured γ, or sqrt(2ε) for note 3
    measured: str  # "x", "c" or "h"
    exact: bool  # SVD per lag (True) or warm-started power iteration (False)


@dataclasses.dataclass(frozen=True)
class SpectralSweep:
    """log10 ||∂z_T/∂z_{T-k}|| (the SWEEP_PROBES-row estimate of ``spectral_sweep``) for every radius and lag."""

    radii: np.ndarray  # (n,)
    log10_norm: np.ndarray  # (n, T) float32; NaN where the float32 forward pass overflowed
    largest_singular_value: np.ndarray  # (n,) ||W_rec(γ)||_2 per radius
    threshold: float  # 1/g: largest singular value below which vanishing is guaranteed (NaN for gated cells)
    probes: int  # rows propagated per radius (SWEEP_PROBES)


@dataclasses.dataclass(frozen=True)
class Note3Product:
    """Note 3 of the Wikipedia article "Vanishing gradient problem" in float64: P_k = (W_rec D)^k with
    W_rec = [[0, 2], [ε, 0]], D = c·I, k = 1..steps."""

    k: np.ndarray  # (steps,)
    matrices: np.ndarray  # (steps, 2, 2) float64
    norm: np.ndarray  # (steps,) ||P_k||_2 (inf beyond float64's range)
    log10_norm: np.ndarray  # (steps,) log10 ||P_k||_2 from the closed form (never overflows)
    spectral_radius: float  # of W_rec: sqrt(2ε)
    rate: float  # 2εc²: P_{2N} = rate^N · I
    radius_power: np.ndarray  # (steps,) ρ(W_rec)^k = (2ε)^{k/2}, what the spectral radius alone would suggest


@dataclasses.dataclass(frozen=True)
class ParameterGradientTerms:
    """The terms of Wikipedia's "loss differential" for L = <g, z_T> (g a fixed random unit vector):

        ∇_θ L = Σ_k  ∂L/∂z_T · (∂z_T/∂z_{T-k}) · ∇_θ F(z_{T-k-1}, u_{T-k}, θ),    k = 0..T-1,

    term k's global norm over θ = (W_rec, W_in, b) and per group. Terms decay like M·(||W_rec|| g)^k, so for a
    decay rate ρ < 1 only the first O(1/(1-ρ)) terms matter (Wikipedia, "Recurrent network model"; Pascanu et al.
    2013, Eqs. 3-5, Sec. 2.1).
    """

    lag: np.ndarray  # (T,)
    log10_term: np.ndarray  # (T,) log10 of the global norm of term k (exact exponent tracking)
    term: np.ndarray  # (T,) float64
    log10_w_rec: np.ndarray  # (T,) the W_rec part
    log10_w_in: np.ndarray  # (T,) the W_in part
    log10_b: np.ndarray  # (T,) the bias part
    cumulative_share: np.ndarray  # (T,) Σ_{j<=k} term_j / Σ_j term_j
    terms_for_99: int  # fewest leading terms holding 99 % of Σ term_k (-1 when undefined: NaN or all zero)
    decay_rate: float  # ρ = ||W_rec||_2 · g (Pascanu's per-step bound; NaN for gated cells)
    horizon: float  # 1/(1-ρ) for ρ < 1, inf otherwise
    gradient_norm: float  # ||Σ_k term_k|| = ||∇_θ L|| (float32; 0/inf where it under/overflowed)


@dataclasses.dataclass(frozen=True)
class PascanuVerdict:
    """Pascanu et al. (2013, Sec. 2.1): with ||diag(σ')|| ≤ g, λ1 = ||W_rec||_2 < 1/g is sufficient for vanishing
    gradients and λ1 > 1/g is necessary for exploding ones (g = 1 tanh, 1/4 sigmoid)."""

    largest_singular_value: float  # λ1
    spectral_radius: float
    max_derivative: float  # g
    threshold: float  # 1/g (inf when g = 0)
    verdict: str  # "vanishing guaranteed", "exploding possible", "borderline" (λ1 = 1/g), or "not applicable: ..."
    applies: bool  # False for gated cells (the bound is about the vanilla recurrence)


@dataclasses.dataclass(frozen=True)
class RNNWeights:
    """The parameters at initialisation and the analysis input sequence (NumPy float32)."""

    w_rec: np.ndarray  # (N_SLOTS, H, H); slots used: vanilla 0, GRU 0..2, LSTM 0..3
    w_in: np.ndarray  # (N_SLOTS, INPUT_DIM, H)
    b: np.ndarray  # (N_SLOTS, H)
    w_out: np.ndarray  # (H, N_OUT)
    inputs: np.ndarray  # (T, INPUT_DIM) u_1..u_T of the Jacobian analysis, N(0, I)


@dataclasses.dataclass(frozen=True)
class MemoryTaskTrace:
    """Training on a synthetic long-range task; per-step arrays are measured on the step's batch before its update
    (row 0 is the network at initialisation)."""

    task: str
    length: int
    cell: str
    clip_norm: float  # inf when not clipping
    loss: np.ndarray  # (steps,)
    accuracy: np.ndarray  # (steps,)
    grad_norm: np.ndarray  # (steps,) global norm of all parameter gradients, before clipping
    clipped: np.ndarray  # (steps,) bool: clipping changed the update
    time_grad_norm: np.ndarray  # (steps, length): ||∂L/∂z_t|| for t = 1..length (column 0 = first input)
    eval_loss: float  # on a fixed held-out batch of EVAL_BATCH sequences after the last update
    eval_accuracy: float
    baseline_loss: float  # the best constant output: Var(target) for adding, log 4 for the 4-class tasks
    chance_accuracy: float  # accuracy of that constant output

    @property
    def steps(self) -> int:
        return int(self.loss.shape[0])

    @property
    def solved(self) -> bool:
        return bool(self.eval_accuracy >= SOLVED_ACCURACY)


# ----------------------------------------------------------------------------------------------------------------
# Traced controls, random draws and parameters
# ----------------------------------------------------------------------------------------------------------------
class Knobs(NamedTuple):
    """Every control that must not trigger a compilation, as a traced scalar."""

    cell: jax.Array  # int32 index into CELLS
    act: jax.Array  # int32 index into the activation registry
    family: jax.Array  # int32 index into FAMILIES
    radius: jax.Array  # float32
    eps: jax.Array  # float32
    c: jax.Array  # float32
    input_scale: jax.Array  # float32
    forget_bias: jax.Array  # float32
    variant: jax.Array  # int32 index into _VARIANTS: the (cell, activation) pair


class CellSettings(NamedTuple):
    """Inside a program, ``cell`` and ``act`` are Python ints: each (cell, activation) variant is a branch of one
    top-level ``lax.switch`` (see ``_specialise``), so the per-step code has no conditionals."""

    cell: int
    act: int  # activation registry index (vanilla cell only)
    note3: jax.Array  # bool
    c: jax.Array
    # Recurrent products are (W h)·rec_scale: the analysis keeps W unscaled and passes the radius here, so a sweep
    # over radii shares one W (a real matmul for all radii) instead of materialising a scaled copy per radius.
    rec_scale: jax.Array


class Params(NamedTuple):
    w_rec: jax.Array  # (N_SLOTS, H, H)
    w_in: jax.Array  # (N_SLOTS, INPUT_DIM, H)
    b: jax.Array  # (N_SLOTS, H)
    w_out: jax.Array  # (H, N_OUT)
    b_out: jax.Array  # (N_OUT,)


class Draws(NamedTuple):
    gauss: jax.Array  # (N_SLOTS, H, H) N(0,1) divided by its spectral radius
    orth: jax.Array  # (N_SLOTS, H, H) Haar orthogonal
    w_in: jax.Array  # (N_SLOTS, INPUT_DIM, H) N(0, 1/INPUT_DIM)
    w_out: jax.Array  # (H, N_OUT) N(0, 1/H)
    probes: jax.Array  # (SWEEP_PROBES, H) orthonormal rows
    u0: jax.Array  # (H,) unit vector: power-iteration start, and g of parameter_gradient_terms


class _HostDraws(NamedTuple):
    draws: Draws
    inputs: np.ndarray  # (MAX_T, INPUT_DIM)
    norm_gauss: np.ndarray  # (N_SLOTS,) ||gauss[s]||_2, float64
    norm_orth: np.ndarray  # (N_SLOTS,)


def _knobs(config: RNNConfig) -> Knobs:
    # Explicit dtypes at the boundary: a Python int where a float was traced before would compile a second version.
    return Knobs(
        cell=np.int32(CELLS.index(config.cell)),
        act=np.int32(activations.index(config.activation)),
        family=np.int32(FAMILIES.index(config.family)),
        radius=np.float32(config.spectral_radius),
        eps=np.float32(config.eps),
        c=np.float32(config.c),
        input_scale=np.float32(config.input_scale),
        forget_bias=np.float32(config.forget_bias),
        variant=np.int32(_variant_index(config.cell, config.activation)),
    )


def _haar(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diagonal(r))[None, :]  # sign fix: Haar-distributed (Mezzadri 2007)


@functools.lru_cache(maxsize=16)
def _host_draws(seed: int, hidden: int) -> _HostDraws:
    """Seeded draws (NumPy, float64 then float32): no XLA program runs, so a new seed never compiles."""
    rng = np.random.default_rng([seed, hidden, 7])
    gauss = rng.standard_normal((N_SLOTS, hidden, hidden))
    gauss = gauss / np.abs(np.linalg.eigvals(gauss)).max(axis=-1)[:, None, None]  # exact spectral radius 1
    orth = np.stack([_haar(rng, hidden) for _ in range(N_SLOTS)])
    w_in = rng.standard_normal((N_SLOTS, INPUT_DIM, hidden)) / math.sqrt(INPUT_DIM)
    w_out = rng.standard_normal((hidden, N_OUT)) / math.sqrt(hidden)
    probes = _haar(rng, hidden)[:SWEEP_PROBES]
    u0 = rng.standard_normal(hidden)
    u0 /= np.linalg.norm(u0)
    inputs = rng.standard_normal((MAX_T, INPUT_DIM)).astype(np.float32)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    draws = Draws(*(jnp.asarray(f32(a)) for a in (gauss, orth, w_in, w_out, probes, u0)))
    norms = lambda m: np.linalg.norm(f32(m).astype(np.float64), 2, axis=(1, 2))  # noqa: E731
    return _HostDraws(draws, inputs, norms(gauss), norms(orth))


@functools.lru_cache(maxsize=32)
def _inputs(seed: int, hidden: int, capacity: int) -> jax.Array:
    return jnp.asarray(_host_draws(seed, hidden).inputs[:capacity])


def _note3_matrix(hidden, eps):
    m = jnp.zeros((hidden, hidden), jnp.float32)
    return m.at[0, 1].set(2.0).at[1, 0].set(eps)


def _build_params(draws: Draws, k: Knobs, scaled: bool = False) -> Params:
    """Parameters at initialisation; W_rec is unscaled (radius 1) unless ``scaled`` (then it includes the radius,
    and the cells must run with rec_scale = 1)."""
    hidden = draws.gauss.shape[-1]
    w_rec = jax.lax.switch(
        k.family,
        (
            lambda e: draws.gauss,
            lambda e: draws.orth,
            lambda e: jnp.broadcast_to(_note3_matrix(hidden, e), (N_SLOTS, hidden, hidden)),
        ),
        k.eps,
    )
    if scaled:
        w_rec = _rec_scale(k) * w_rec
    b = jnp.zeros((N_SLOTS, hidden), jnp.float32)
    b = b.at[1].set(jnp.where(k.cell == _LSTM, k.forget_bias, 0.0))  # slot 1 is the LSTM forget gate
    return Params(
        w_rec=w_rec, w_in=k.input_scale * draws.w_in, b=b, w_out=draws.w_out, b_out=jnp.zeros((N_OUT,), jnp.float32)
    )


def _rec_scale(k: Knobs):
    return jnp.where(k.family == FAMILIES.index("note3"), jnp.float32(1.0), k.radius)


#: The (cell index, activation registry index) pairs a program is specialised for: the vanilla cell with each of
#: its activations, and the gated cells (whose nonlinearities are fixed).
_VARIANTS = tuple(
    [(CELLS.index("vanilla"), activations.index(a)) for a in RNN_ACTIVATIONS]
    + [(CELLS.index("lstm"), activations.index("tanh")), (CELLS.index("gru"), activations.index("tanh"))]
)


def _variant_index(cell: str, activation: str) -> int:
    act = activations.index(activation if cell == "vanilla" else "tanh")
    return _VARIANTS.index((CELLS.index(cell), act))


def _specialise(k: Knobs, fn):
    """fn(cell, act) -> result, called once per variant inside one ``lax.switch`` on the traced ``k.variant``.

    Measured (128 radii × T = 1000 × H = 64): a ``lax.switch`` on cell and activation inside every step costs about
    35 ms per sweep in conditional overhead (forward, recomputation and backward steps); hoisted here, it costs one
    conditional per call, and the compiled code size stays about the same (each cell's code appears once either
    way). Under ``vmap`` the variant index is unbatched, so this stays a real switch.
    """
    return jax.lax.switch(k.variant, [functools.partial(fn, cell, act) for cell, act in _VARIANTS])


def _settings(k: Knobs, cell: int, act: int, scaled: bool = False) -> CellSettings:
    """Cell settings for one variant; ``scaled`` says the parameters already include the radius (training)."""
    return CellSettings(
        cell=cell,
        act=act,
        note3=k.family == FAMILIES.index("note3"),
        c=k.c,
        rec_scale=jnp.float32(1.0) if scaled else _rec_scale(k),
    )


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
def _config_draws(config: RNNConfig) -> _HostDraws:
    return _host_draws(config.seed, config.hidden_size)


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
    """λ1 = ||W_rec||_2 of the recurrent matrix at initialisation (float64 from the float32 weights; the maximum
    over the matrices a gated cell uses). For note 3 the singular values of [[0, 2], [ε, 0]] are 2 and ε."""
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
    """1/g, g = sup|σ'| (Pascanu et al. 2013, Sec. 2.1): 1 for tanh, relu and linear, 4 for sigmoid."""
    check_choice("activation", activation, RNN_ACTIVATIONS)
    return 1.0 / activations.get(activation).max_derivative


def pascanu_verdict(config: RNNConfig) -> PascanuVerdict:
    """λ1 = ||W_rec||_2 against 1/g: λ1 < 1/g is *sufficient* for vanishing gradients ("vanishing guaranteed"),
    λ1 > 1/g is *necessary* for exploding ones ("exploding possible"); "borderline" within 1e-6 relative (e.g. an
    orthogonal W_rec at γ = 1 with tanh: neither can be concluded). Pascanu et al. (2013), Sec. 2.1."""
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
    """||∂z_T/∂z_{T-k}||_2 for k = 0..T-1 on the fixed input sequence u_1..u_T ~ N(0, I) from z_0 = 0, beside the
    bound (||W_rec||_2 g)^k of Pascanu et al. (2013, Sec. 2.1, Eqs. 6-7) for the vanilla cell.

    The full product is propagated backward (J_{k+1} = J_k · ∂z_{T-k}/∂z_{T-k-1}, one H×H product per lag);
    the 2-norm per lag is by warm-started power iteration (a lower estimate that tracks σ_max, see
    ``_top_singular``), or by SVD with ``exact=True`` (same compiled program, about 0.2 ms more per lag at H = 64).
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


@functools.lru_cache(maxsize=4)
def _sweep_sharding(devices: tuple):
    mesh = jax.sharding.Mesh(np.asarray(devices), ("radius",))
    return (
        jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("radius")),
        jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()),
    )


def spectral_sweep(config: RNNConfig, radii) -> SpectralSweep:
    """log10 ||∂z_T/∂z_{T-k}|| for every spectral radius in ``radii`` (rows) and lag k = 0..T-1 (columns), in one
    vmapped, jitted call (the heatmap lag × spectral radius). Every other setting comes from ``config``.

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
    """
    r = _check_radii(radii)
    host = _config_draws(config)
    args = (host.draws, _knobs(config))
    rest = (_inputs(config.seed, config.hidden_size, config.capacity), np.int32(config.T))
    devices = tuple(jax.devices())
    padded = r
    if len(devices) > 1:  # shard the radius axis over all visible devices (as mlp.gain_sweep does)
        padded = np.concatenate([r, np.full((-r.size) % len(devices), r[-1], np.float32)])
        radius_sharding, replicated = _sweep_sharding(devices)
        args, rest = jax.device_put((args, rest), replicated)
        padded = jax.device_put(padded, radius_sharding)
    out = _sweep_program(*args, padded, *rest)
    if config.family == "note3":
        lam = np.full(r.shape, largest_singular_value(config))
    else:
        norms = host.norm_gauss if config.family == "gaussian" else host.norm_orth
        lam = r.astype(np.float64) * float(norms[: _SLOTS_USED[config.cell]].max())
    g = _g(config)
    return SpectralSweep(
        radii=r,
        log10_norm=np.asarray(out)[: r.size, : config.T],
        largest_singular_value=lam,
        threshold=(1.0 / g if g > 0 else math.inf) if config.cell == "vanilla" else math.nan,
        probes=SWEEP_PROBES,
    )


def note3_product(eps: float, c: float, steps: int) -> Note3Product:
    """Wikipedia, "Vanishing gradient problem", note 3: W_rec = [[0, 2], [ε, 0]], D = c·I. W_rec has spectral
    radius sqrt(2ε) (> 1 for ε > 1/2), yet (W_rec D)^2 = 2εc²·I, so (W_rec D)^{2N} = (2εc²)^N · I, which
    vanishes or explodes with c: the spectral radius alone does not decide. Products are computed by repeated
    float64 multiplication (exact for dyadic ε, c while the powers fit the 53-bit mantissa); ``log10_norm`` uses
    the closed form ||P_{2N}|| = (2εc²)^N, ||P_{2N+1}|| = (2εc²)^N · c·max(2, ε), which cannot overflow."""
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
    """Sizes of the terms ∂L/∂z_T · ∂z_T/∂z_{T-k} · ∇_θF(z_{T-k-1}, u_{T-k}, θ) of ∇_θ L (Wikipedia,
    "loss differential"; Pascanu et al. 2013, Eqs. 3-5) for L = <g, z_T>, k = 0..T-1, on the same input sequence as
    :func:`jacobian_norms`. The decay rate ρ = ||W_rec|| g bounds the ratio of consecutive terms' Jacobian
    factors; with ρ < 1 the terms fall like M ρ^k and ``terms_for_99`` is O(1/(1-ρ))."""
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
    """The network's parameters at initialisation and the analysis inputs u_1..u_T."""
    p = jax.device_get(_params_program(_config_draws(config).draws, _knobs(config)))
    return RNNWeights(
        w_rec=np.asarray(p.w_rec),
        w_in=np.asarray(p.w_in),
        b=np.asarray(p.b),
        w_out=np.asarray(p.w_out),
        inputs=_config_draws(config).inputs[: config.T].copy(),
    )


# ----------------------------------------------------------------------------------------------------------------
# Synthetic long-range tasks (Hochreiter & Schmidhuber 1997, Sec. 5)
# ----------------------------------------------------------------------------------------------------------------
def _adding(key, batch, capacity, length):
    """Adding problem (H&S 1997, Exp. 4): channel 0 holds values U[-1, 1], channel 1 marks two of them, the first
    among the first 10 % of the positions, the second elsewhere in the first half; target 0.5 + (X1 + X2)/4."""
    k_v, k_1, k_2 = jax.random.split(key, 3)
    vals = jax.random.uniform(k_v, (batch, capacity), jnp.float32, -1.0, 1.0)
    n1 = jnp.maximum(1, length // 10)
    n2 = jnp.maximum(2, length // 2)
    m1 = jax.random.randint(k_1, (batch,), 0, n1)
    m2 = jax.random.randint(k_2, (batch,), 0, n2 - 1)
    m2 = m2 + (m2 >= m1)
    pos = jnp.arange(capacity)[None, :]
    active = pos < length
    marks = (pos == m1[:, None]) | (pos == m2[:, None])
    x = jnp.zeros((batch, capacity, INPUT_DIM), jnp.float32)
    x = x.at[:, :, 0].set(jnp.where(active, vals, 0.0)).at[:, :, 1].set(marks.astype(jnp.float32))
    rows = jnp.arange(batch)
    y = 0.5 + (vals[rows, m1] + vals[rows, m2]) / 4.0
    return x, y, jnp.zeros((batch,), jnp.int32)


def _one_hot_sequence(symbols, length, capacity):
    pos = jnp.arange(capacity)[None, :]
    return jax.nn.one_hot(symbols, INPUT_DIM, dtype=jnp.float32) * (pos < length)[:, :, None]


def _temporal_order(key, batch, capacity, length):
    """Temporal order (H&S 1997, Exp. 6a): distractors a-d (channels 0-3), B at the start (4), E at the end (5),
    X or Y (6, 7) at t1 in [10 %, 20 %) and t2 in [50 %, 60 %) of the sequence; 4 classes XX, XY, YX, YY."""
    k_d, k_1, k_2, k_s = jax.random.split(key, 4)
    sym = jax.random.randint(k_d, (batch, capacity), 0, 4)
    n10 = jnp.maximum(1, length // 10)
    n20 = jnp.maximum(n10 + 1, length // 5)
    n50 = jnp.maximum(n20, length // 2)
    n60 = jnp.minimum(jnp.maximum(n50 + 1, (6 * length) // 10), length - 1)
    t1 = jax.random.randint(k_1, (batch,), n10, n20)
    t2 = jax.random.randint(k_2, (batch,), n50, n60)
    xy = jax.random.randint(k_s, (batch, 2), 0, 2)
    pos = jnp.arange(capacity)[None, :]
    sym = jnp.where(pos == 0, 4, sym)
    sym = jnp.where(pos == length - 1, 5, sym)
    sym = jnp.where(pos == t1[:, None], 6 + xy[:, :1], sym)
    sym = jnp.where(pos == t2[:, None], 6 + xy[:, 1:], sym)
    return _one_hot_sequence(sym, length, capacity), jnp.zeros((batch,), jnp.float32), 2 * xy[:, 0] + xy[:, 1]


def _copy_first(key, batch, capacity, length):
    """Copy the first symbol (Wikipedia, "Dynamical systems model": "outputting the first input it sees at the very
    end"): one of 4 symbols (channels 0-3) at t = 1, then distractors (channels 4-7); the class is the first symbol."""
    k_s, k_d = jax.random.split(key)
    first = jax.random.randint(k_s, (batch,), 0, 4)
    sym = jax.random.randint(k_d, (batch, capacity), 4, 8)
    sym = jnp.where(jnp.arange(capacity)[None, :] == 0, first[:, None], sym)
    return _one_hot_sequence(sym, length, capacity), jnp.zeros((batch,), jnp.float32), first


_TASK_FNS = (_adding, _temporal_order, _copy_first)


def _task_batch(task, key, batch, capacity, length):
    branches = [lambda key, length, f=f: f(key, batch, capacity, length) for f in _TASK_FNS]
    return jax.lax.switch(task, branches, key, length)


@dataclasses.dataclass(frozen=True)
class MemoryTaskBatch:
    """One batch of a synthetic task, as the training loop sees it at ``step``."""

    task: str
    inputs: np.ndarray  # (batch, length, INPUT_DIM) float32
    target: np.ndarray  # (batch,) float32 regression target (adding problem; zeros otherwise)
    label: np.ndarray  # (batch,) int32 class (temporal order, copy first; zeros for adding)


@functools.partial(jax.jit, static_argnames=("batch", "capacity"))
def _task_program(task, key, length, batch, capacity):
    return _task_batch(task, key, batch, capacity, length)


def _data_keys(seed: int):
    root = jax.random.fold_in(jax.random.PRNGKey(seed), 11)
    data_key, eval_key = jax.random.split(root)
    return data_key, eval_key


def memory_task_batch(
    task: str = "adding", length: int = 100, batch_size: int = 32, seed: int = 0, step: int = 0
) -> MemoryTaskBatch:
    """The batch that :func:`train_memory_task` trains on at update ``step`` (same seed, length and batch size)."""
    task = check_choice("task", task, TASKS)
    length = check_int("length", length, MIN_TASK_LENGTH, MAX_T)
    batch_size = check_int("batch_size", batch_size, 1, 4096)
    seed = check_int("seed", seed, 0, 2**31 - 1)
    step = check_int("step", step, 0, 2**31 - 1)
    data_key, _ = _data_keys(seed)
    x, y, label = jax.device_get(
        _task_program(
            np.int32(TASKS.index(task)),
            jax.random.fold_in(data_key, step),
            np.int32(length),
            batch=batch_size,
            capacity=_bucket(length),
        )
    )
    return MemoryTaskBatch(task, np.asarray(x)[:, :length], np.asarray(y), np.asarray(label))


def _baseline(task: str) -> tuple[float, float]:
    """(loss, accuracy) of the best constant output."""
    if task == "adding":
        # target 0.5 + S/4, S = X1 + X2 triangular on [-2, 2]: Var = (2/3)/16; P(|S|/4 < a) = 4a - 4a².
        a = ADDING_TOLERANCE
        return 2.0 / 3.0 / 16.0, 4 * a - 4 * a * a
    return math.log(4.0), 0.25


# ----------------------------------------------------------------------------------------------------------------
# Training by back-propagation through time (manual reverse loop, traced length)
# ----------------------------------------------------------------------------------------------------------------
def _head(s, task, z_last, w_out, b_out, y_reg, y_cls):
    feat, dfeat = _features(s, z_last)

    def loss_fn(feat, w_out, b_out):
        out = feat @ w_out + b_out
        mse = jnp.mean((out[:, 0] - y_reg) ** 2)
        ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, y_cls))
        adding = task == 0
        acc = jnp.where(
            adding, jnp.mean(jnp.abs(out[:, 0] - y_reg) < ADDING_TOLERANCE), jnp.mean(jnp.argmax(out, axis=-1) == y_cls)
        )
        return jnp.where(adding, mse, ce), acc

    loss, vjp, acc = jax.vjp(loss_fn, feat, w_out, b_out, has_aux=True)
    d_feat, d_w_out, d_b_out = vjp(jnp.float32(1.0))
    dz = jnp.stack([d_feat * dfeat, jnp.zeros_like(d_feat)], axis=1)
    return loss, acc, dz, d_w_out, d_b_out


def _bptt(p: Params, s: CellSettings, task, x, y_reg, y_cls, length):
    """Loss, accuracy, parameter gradients and ||∂L/∂z_t|| (t = 1..length at index t-1) for a batch x (B, cap, D),
    by back-propagation through time over checkpointed segments."""
    batch, capacity, _ = x.shape
    hidden = p.w_rec.shape[-1]

    def step_fn(t, z):
        return _step(p, s, z, x[:, t])

    z_last, ck = _forward_checkpoints(step_fn, jnp.zeros((batch, 2, hidden), jnp.float32), length, capacity)
    loss, acc, delta, d_w_out, d_b_out = _head(s, task, z_last, p.w_out, p.b_out, y_reg, y_cls)

    def body(t, z, carry):
        delta, grads, tg = carry
        tg = tg.at[t].set(jnp.sqrt(jnp.sum(delta * delta)))  # ||∂L/∂z_{t+1}||
        g, delta = _vjp_full(p, s, z, x[:, t], delta)
        return delta, jax.tree_util.tree_map(jnp.add, grads, g), tg

    zeros = jax.tree_util.tree_map(jnp.zeros_like, _rec(p))
    _, rec_grads, tg = _reverse_over_states(
        step_fn, ck, length, body, (delta, zeros, jnp.zeros((capacity,), jnp.float32))
    )
    return loss, acc, Params(*rec_grads, d_w_out, d_b_out), tg


def _optimizer(name: str, learning_rate, clip_norm) -> optax.GradientTransformation:
    base = optax.adam(learning_rate) if name == "adam" else optax.sgd(learning_rate)
    # Gradient norm clipping (Pascanu et al. 2013, Algorithm 1); clip_norm = inf leaves the update unchanged.
    return optax.chain(optax.clip_by_global_norm(clip_norm), base)


@functools.partial(jax.jit, static_argnames=("optimizer",))
def _init_training(draws: Draws, k: Knobs, learning_rate, optimizer):
    params = _build_params(draws, k, scaled=True)
    return params, _optimizer(optimizer, learning_rate, jnp.inf).init(params)


@functools.partial(jax.jit, static_argnames=("optimizer", "chunk", "batch", "capacity", "variant"))
def _train_chunk(
    params,
    opt_state,
    step0,
    total,
    k: Knobs,
    task,
    length,
    data_key,
    learning_rate,
    clip_norm,
    optimizer,
    chunk,
    batch,
    capacity,
    variant,
):
    """``chunk`` updates from step ``step0``; steps >= ``total`` are skipped (a shorter last chunk runs in the same
    program), their outputs are NaN."""
    tx = _optimizer(optimizer, learning_rate, clip_norm)

    def run(cell, act):
        s = _settings(k, cell, act, scaled=True)

        def update(params, opt_state, step):
            x, y_reg, y_cls = _task_batch(task, jax.random.fold_in(data_key, step), batch, capacity, length)
            loss, acc, grads, tg = _bptt(params, s, task, x, y_reg, y_cls, length)
            grad_norm = optax.tree.norm(grads)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, opt_state), (loss, acc, grad_norm, grad_norm > clip_norm, tg)

        def skip(params, opt_state, step):
            nan = jnp.float32(jnp.nan)
            return (params, opt_state), (nan, nan, nan, jnp.bool_(False), jnp.full((capacity,), nan))

        def one_step(carry, step):
            return jax.lax.cond(step < total, update, skip, *carry, step)

        (p, o), out = jax.lax.scan(one_step, (params, opt_state), step0 + jnp.arange(chunk))
        return p, o, out

    return run(*_VARIANTS[variant])


@functools.partial(jax.jit, static_argnames=("batch", "capacity", "variant"))
def _evaluate(params, k: Knobs, task, length, key, batch, capacity, variant):
    x, y_reg, y_cls = _task_batch(task, key, batch, capacity, length)
    hidden = params.w_rec.shape[-1]

    def run(cell, act):
        s = _settings(k, cell, act, scaled=True)
        z_last = jax.lax.fori_loop(
            0, length, lambda t, z: _step(params, s, z, x[:, t]), jnp.zeros((batch, 2, hidden), jnp.float32)
        )
        loss, acc, *_ = _head(s, task, z_last, params.w_out, params.b_out, y_reg, y_cls)
        return loss, acc

    return run(*_VARIANTS[variant])


def train_memory_task_iter(
    config: RNNConfig,
    task: str = "adding",
    length: int | None = None,
    steps: int = 500,
    clip_norm: float | None = None,
    optimizer: str = "adam",
    learning_rate: float = 0.01,
    batch_size: int = 32,
    chunk: int = 50,
) -> Iterator[MemoryTaskTrace]:
    """Train ``config``'s network (cell, activation, weight family and radius at initialisation) on a synthetic
    long-range task, yielding the trace so far after every ``chunk`` updates (stop iterating to cancel). The last
    trace also holds the held-out evaluation; earlier ones have NaN there.

    Data come from the seed alone (a fresh batch per update, ``jax.random.fold_in(key, step)``), so runs that differ
    only in cell, activation, radius or clipping see exactly the same sequences. ``length`` defaults to config.T.
    Gradients are exact back-propagation through time (a reverse loop of per-step VJPs over the traced length,
    on checkpointed segments). Every chunk runs in one compiled program; a shorter last chunk skips its extra steps,
    so exactly ``steps`` updates are made.
    """
    task = check_choice("task", task, TASKS)
    length = config.T if length is None else length
    length = check_int("length", length, MIN_TASK_LENGTH, MAX_T)
    steps = check_int("steps", steps, 1, 100_000)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    learning_rate = check_float("learning_rate", learning_rate, 0.0, 100.0)
    clip = math.inf if clip_norm is None else check_float("clip_norm", clip_norm, 1e-8, 1e12)
    batch_size = check_int("batch_size", batch_size, 1, 4096)
    chunk = min(check_int("chunk", chunk, 1, 10_000), steps)
    capacity = _bucket(length)
    k = _knobs(config)
    # Training compiles once per (cell, activation) variant it uses (a static argument): a training run is started
    # by a button, not a slider, and compiling all six variants into one program would cost about 10 s up front.
    variant = int(k.variant)
    params, opt_state = _init_training(_config_draws(config).draws, k, np.float32(learning_rate), optimizer)
    data_key, eval_key = _data_keys(config.seed)
    task_idx = np.int32(TASKS.index(task))
    base_loss, base_acc = _baseline(task)
    parts = []
    done = 0
    while done < steps:
        params, opt_state, out = _train_chunk(
            params,
            opt_state,
            np.int32(done),
            np.int32(steps),
            k,
            task_idx,
            np.int32(length),
            data_key,
            np.float32(learning_rate),
            np.float32(clip),
            optimizer=optimizer,
            chunk=chunk,
            batch=batch_size,
            capacity=capacity,
            variant=variant,
        )
        parts.append(jax.device_get(out))
        done += chunk
        ev_loss, ev_acc = math.nan, math.nan
        if done >= steps:
            ev = jax.device_get(
                _evaluate(
                    params,
                    k,
                    task_idx,
                    np.int32(length),
                    eval_key,
                    batch=EVAL_BATCH,
                    capacity=capacity,
                    variant=variant,
                )
            )
            ev_loss, ev_acc = float(ev[0]), float(ev[1])
        n = min(done, steps)

        def cat(i, n=n):
            return np.concatenate([p[i] for p in parts])[:n]

        yield MemoryTaskTrace(
            task=task,
            length=length,
            cell=config.cell,
            clip_norm=clip,
            loss=cat(0),
            accuracy=cat(1),
            grad_norm=cat(2),
            clipped=cat(3),
            time_grad_norm=cat(4)[:, :length],
            eval_loss=ev_loss,
            eval_accuracy=ev_acc,
            baseline_loss=base_loss,
            chance_accuracy=base_acc,
        )


def train_memory_task(
    config: RNNConfig,
    task: str = "adding",
    length: int | None = None,
    steps: int = 500,
    clip_norm: float | None = None,
    optimizer: str = "adam",
    learning_rate: float = 0.01,
    batch_size: int = 32,
    chunk: int = 50,
) -> MemoryTaskTrace:
    """The full training trace (see :func:`train_memory_task_iter`)."""
    trace = None
    args = (config, task, length, steps, clip_norm, optimizer, learning_rate, batch_size, chunk)
    for trace in train_memory_task_iter(*args):  # noqa: B007 (the loop keeps the last item)
        pass
    return trace


def warm_up(hidden_sizes=(32,), n_radii: int | None = None) -> None:
    """Compile the analysis programs for every T bucket (and the sweep for ``n_radii`` radii), so that moving the
    radius, ε, c, input scale, activation, cell, family or T never compiles afterwards. Training programs compile
    on first use per (hidden size, batch, length bucket, optimizer, chunk)."""
    for hidden in hidden_sizes:
        for cap in T_BUCKETS:
            cfg = RNNConfig(hidden_size=hidden, T=cap)
            jacobian_norms(cfg)
            parameter_gradient_terms(cfg)
            if n_radii:
                spectral_sweep(cfg, np.linspace(0.1, 2.0, n_radii))
        weights(RNNConfig(hidden_size=hidden))
