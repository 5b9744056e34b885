"""The lab's shared settings (:class:`LabConfig`, bounds declared once, validated on construction) and its
results (:class:`RemedyResult`, :class:`RecurrentComparison`).

References:
  Glorot & Bengio (2010), AISTATS, Sec. 4.2 (the per-layer back-propagated gradient every remedy is measured by).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ... import bounds, mlp
from ...errors import ConfigError
from .registry import BASELINE_ACTIVATION, BASELINE_INIT, CHUNK, INPUT_DIM, MAX_LAB_DEPTH, N_CLASSES


@dataclasses.dataclass(frozen=True)
class LabConfig:
    """The lab's shared settings. Validated on construction (ConfigError).

    Defaults: the hard baseline at depth 20 (as in the issue) with width 64 and batch 64, so that the whole default
    lab (18 entries, 200 steps each) runs in seconds on two CPU cores once compiled (bench/bench_remedies.py); the
    Deep network page uses width 128, which makes every step about 4× dearer and changes no conclusion.

    ``steps`` must be a multiple of :data:`CHUNK`. ``learning_rate``: SGD's step for every gradient run;
    ``rprop_step``: Rprop's initial per-weight step size (Riedmiller & Braun 1993 start at 0.1 on small nets; the
    weights here are ~0.07, so a step of 0.1 would overshoot at once); ``clip_norm``: the global-norm threshold of
    the clipping remedy (Pascanu et al. 2013 clip at 1). Evolution strategy (Salimans et al. 2017): ``es_pairs``
    antithetic pairs per generation, noise scale ``es_sigma``, Adam step ``es_learning_rate`` and ``es_batch_size``
    examples per loss evaluation (a generation is 2·es_pairs + 1 forward passes: at the defaults 17 passes over 32
    examples, about the work of 3 SGD steps at batch 64). Pre-training
    (Hinton et al. 2006): ``pretrain_updates`` CD-1 updates per layer at ``pretrain_learning_rate``.
    """

    # Bounds declared once (vgp_core.bounds): ``soft`` is the range the Remedies page's controls offer.
    depth: int = bounds.integer(20, 2, MAX_LAB_DEPTH)
    width: int = bounds.integer(64, 8, 512)
    steps: int = bounds.integer(200, CHUNK, 10_000, soft=(CHUNK, 1000))
    batch_size: int = bounds.integer(64, 8, 1024)
    learning_rate: float = bounds.real(0.1, 1e-6, 10.0)
    seed: int = bounds.integer(0, 0, 2**31 - 1, soft=(0, 9999))
    clip_norm: float = bounds.real(1.0, 1e-6, 1e6)
    rprop_step: float = bounds.real(1e-3, 1e-8, 1.0)
    es_pairs: int = bounds.integer(8, 1, 512)
    es_sigma: float = bounds.real(0.02, 1e-6, 10.0)
    es_learning_rate: float = bounds.real(1e-3, 1e-6, 10.0)
    es_batch_size: int = bounds.integer(32, 1, 1024)
    pretrain_updates: int = bounds.integer(100, 1, 100_000)
    pretrain_learning_rate: float = bounds.real(0.05, 1e-6, 10.0)

    def __post_init__(self):
        bounds.validate(self)
        if self.steps % CHUNK:
            raise ConfigError(f"steps must be a multiple of {CHUNK}, got {self.steps}")

    def replace(self, **changes) -> LabConfig:
        return dataclasses.replace(self, **changes)

    def mlp_config(self, **changes) -> mlp.MLPConfig:
        """The baseline network as an MLPConfig, with ``changes`` applied."""
        base = dict(
            depth=self.depth,
            width=self.width,
            activation=BASELINE_ACTIVATION,
            init=BASELINE_INIT,
            batch_size=self.batch_size,
            seed=self.seed,
            input_dim=INPUT_DIM,
            n_classes=N_CLASSES,
        )
        base.update(changes)
        return mlp.MLPConfig(**base)


@dataclasses.dataclass(frozen=True)
class RecurrentComparison:
    """The LSTM entry's measurement (vgp_core.rnn.jacobian_norms): log10 ‖∂z_T/∂z_(T-k)‖ for k = 0..T-1 of an LSTM
    (cell state) and of a vanilla sigmoid RNN with the same hidden size, spectral radius 1 and T = lab depth."""

    lag: np.ndarray
    log10_lstm: np.ndarray
    log10_vanilla: np.ndarray
    hidden_size: int
    spectral_radius: float


@dataclasses.dataclass
class RemedyResult:
    """One measured lab entry (see the module docstring). Per-layer arrays have shape (depth,), index 0 = layer 1.

    ``loss`` has shape (steps,): the training loss of step k's batch before its update; for the evolution strategy,
    entry k is the loss of the search distribution's mean on generation k's batch (one generation per step, each
    costing 2·es_pairs forward passes). The LSTM entry has NaN arrays (it is not a feed-forward run: see
    ``recurrent`` and ``notes``). ``chi_1`` is the mean-field per-layer factor where theory applies (zero-mean
    i.i.d. weights, no batch norm or residuals), else NaN.
    """

    name: str
    label: str
    layers: np.ndarray
    grad_init: np.ndarray
    grad_trained: np.ndarray
    loss: np.ndarray
    final_loss: float
    final_accuracy: float
    input_grad_ratio: float
    direction: str
    matches_literature: bool
    verdict: str
    wall_time_s: float
    notes: str = ""
    group: str = ""
    expected: str = ""
    trained_input_grad_ratio: float = float("nan")  # log10 of grad_trained[0] / baseline's grad_trained[0]
    spread: float = float("nan")  # log10(grad_init[0] / grad_init[-1]): decades from the last to the first layer
    chi_1: float = float("nan")
    link: str = ""
    recurrent: RecurrentComparison | None = None
