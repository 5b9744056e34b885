"""Recurrent networks: the configuration, the package's constants and the result dataclasses (NumPy arrays).

References:
  Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks", arXiv:1211.5063,
  Sec. 2.1 (the bound of ``JacobianNorms.log10_bound`` and ``PascanuVerdict``), Eqs. 3-5 (``ParameterGradientTerms``).
  Hochreiter & Schmidhuber (1997), "Long short-term memory", Neural Computation 9(8), Sec. 5 (the memory tasks of
  ``MemoryTaskTrace``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import bounds

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

    # Bounds declared once (vgp_core.bounds): ``soft`` is the range the Recurrent page's sliders offer.
    hidden_size: int = bounds.integer(32, 2, MAX_HIDDEN)
    T: int = bounds.integer(100, 1, MAX_T, soft=(10, 1000))
    spectral_radius: float = bounds.real(1.0, 0.0, MAX_RADIUS, soft=(0.1, 2.0))
    activation: str = bounds.choice("tanh", RNN_ACTIVATIONS)
    family: str = bounds.choice("gaussian", FAMILIES, label="weight family")
    cell: str = bounds.choice("vanilla", CELLS)
    input_scale: float = bounds.real(1.0, 0.0, 100.0)
    seed: int = bounds.integer(0, 0, 2**31 - 1, soft=(0, 9999))
    eps: float = bounds.real(0.75, 0.0, 100.0, soft=(0.0, 2.0))  # note 3's ε (family "note3")
    c: float = bounds.real(0.5, 0.0, 100.0, soft=(0.0, 1.5))  # note 3's D = c·I (family "note3")
    forget_bias: float = bounds.real(1.0, -20.0, 20.0)  # LSTM forget-gate bias at initialisation

    def __post_init__(self):
        bounds.validate(self)

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
