"""The deep feedforward network's configuration (``MLPConfig``, its bounds declared once), the engine's size
constants and the frozen result dataclasses (``GradientProfile``, ``GainSweep``, ``TrainTrace``).

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
  Sec. 4.2 (the per-layer quantities the results hold).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import activations, bounds, diagnostics, initializers, optimizers

MAX_DEPTH = 256
MAX_WIDTH = 512
#: Parameter capacity buckets: a net of depth L uses the smallest bucket >= L (memory follows the depth).
CAPACITY_BUCKETS = (64, MAX_DEPTH)
BN_EPS = 1e-5
#: Examples whose layer Jacobians' singular values are averaged in ``jacobian_sv_mean``. One SVD of a 128x128
#: matrix costs ~1 ms here, per layer; the mean over the width singular values of one example is already a
#: low-variance estimate for wide layers.
JACOBIAN_EXAMPLES = 1
#: Examples per gain in ``gain_sweep`` (a vmapped forward+backward per gain). 64 gains x depth 50 x width 128 at
#: batch 8 is ~1.7 GFLOP, ~40 ms on two cores (bench/); each norm still averages 8 x width entries, a few % noise,
#: invisible on the log10 heatmap.
SWEEP_BATCH = 8
#: In training, the Jacobian SVDs are measured every this many steps (they cost more than the step itself).
JACOBIAN_EVERY = 10
OPTIMIZERS = optimizers.OPTIMIZERS


@dataclasses.dataclass(frozen=True)
class MLPConfig:
    """A deep feedforward network and the batch it is probed with. Validated on construction (ConfigError)."""

    # Bounds declared once (vgp_core.bounds): ``soft`` is the range the Deep network page's controls offer.
    depth: int = bounds.integer(50, 1, MAX_DEPTH)
    width: int = bounds.integer(128, 2, MAX_WIDTH)
    activation: str = bounds.choice("tanh", activations.names())
    init: str = bounds.choice("glorot_normal", initializers.names(), label="initializer")
    gain: float = bounds.real(1.0, 0.0, 100.0, soft=(0.1, 4.0))
    bias_std: float = bounds.real(0.0, 0.0, 100.0, soft=(0.0, 1.0))
    residual: bool = bounds.flag(False)
    batchnorm: bool = bounds.flag(False)
    batch_size: int = bounds.integer(128, 2, 4096)
    seed: int = bounds.integer(0, 0, 2**31 - 1, soft=(0, 9999))
    input_dim: int = bounds.integer(64, 1, 4096)
    n_classes: int = bounds.integer(10, 2, 1000)

    def __post_init__(self):
        bounds.validate(self)

    @property
    def capacity(self) -> int:
        return next(c for c in CAPACITY_BUCKETS if c >= self.depth)

    def replace(self, **changes) -> MLPConfig:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class GradientProfile:
    """Per-layer quantities at initialisation for one batch; every array has shape (depth,), index 0 = layer 1
    (input side). Norms are Frobenius norms over the batch (L is the batch-mean loss)."""

    backprop_norm: np.ndarray  # ||∂L/∂h_l||
    weight_grad_norm: np.ndarray  # ||∂L/∂W_l||
    act_mean: np.ndarray  # mean of h_l
    act_std: np.ndarray  # std of h_l
    saturation: np.ndarray  # fraction of units with |phi'(s_l)| < SATURATION_LEVEL · sup|phi'|
    jacobian_sv_mean: np.ndarray  # mean singular value of ∂h_l/∂h_{l-1} (JACOBIAN_EXAMPLES examples); NaN if skipped
    loss: float
    #: histograms, dead-unit share, weight-gradient and weight std per layer (``diagnostics``); None if skipped
    layer_diagnostics: diagnostics.LayerDiagnostics | None = None


@dataclasses.dataclass(frozen=True)
class GainSweep:
    gains: np.ndarray  # (n_gains,)
    log10_backprop_norm: np.ndarray  # (n_gains, depth); -inf where float32 underflowed to 0, inf/NaN on overflow


@dataclasses.dataclass(frozen=True)
class TrainTrace:
    """Per-step trace of training; per-layer arrays have shape (steps, depth), measured on the step's batch
    before its update (row 0 is the network at initialisation)."""

    loss: np.ndarray  # (steps,)
    accuracy: np.ndarray  # (steps,) on the training batch
    grad_norm: np.ndarray  # (steps,) global norm of all parameter gradients, before clipping
    clipped: np.ndarray  # (steps,) bool: clipping changed the update
    backprop_norm: np.ndarray
    weight_grad_norm: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    saturation: np.ndarray
    jacobian_sv_mean: np.ndarray  # measured every JACOBIAN_EVERY steps (from step 0), NaN in between
    prelu_slope: np.ndarray  # (steps, depth): PReLU's learned slope (0.25 at init; unused by other activations)
    #: (steps, depth): log10(std(ΔW_l) / std(W_l)) of the optimizer's update at each step (``diagnostics``)
    update_data_log10: np.ndarray | None = None
    #: per-layer diagnostics measured every JACOBIAN_EVERY steps (from step 0): row k is step k·JACOBIAN_EVERY
    layer_diagnostics: diagnostics.LayerDiagnostics | None = None

    @property
    def steps(self) -> int:
        return int(self.loss.shape[0])
