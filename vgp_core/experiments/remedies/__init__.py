"""The remedies lab: one hard baseline and every remedy of our sources, each measured the same way.

The remedies are those named in the Wikipedia article "Vanishing gradient problem" (section "Solutions"), in
Ahirwar 2019 (section "Vanishing gradients") and in Glorot & Bengio 2010 (softsign, normalized initialization);
``Remedy.reference`` cites each remedy's own paper.

Baseline (Glorot & Bengio 2010): a deep MLP of ``LabConfig.depth`` logistic-sigmoid hidden layers
with the "standard" initialization U[±1/√n_in] (their Eq. 1), trained with plain SGD on the seeded Gaussian-mixture
task of :mod:`vgp_core.data`. Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) gives it
chi_1 = σ_w² E[σ'(√q* z)²] ≈ 0.02 per layer (σ_w² = 1/3, σ' ≤ 1/4), so the gradient reaching the input layer is
about 10^-15 of the top layer's at depth 20.

Every remedy changes one thing of that baseline (:data:`REMEDIES`) and is measured the same way:

* the per-layer back-propagated gradient ‖∂L/∂h_l‖ on a fixed held-out probe batch at initialization
  (``grad_init``) and after ``steps`` updates (``grad_trained``) (:func:`vgp_core.mlp.params_profile`);
* the training loss per step, the held-out loss and accuracy after training, and the wall time;
* ``input_grad_ratio`` = log10(‖∂L/∂h_1‖ of the remedy / ‖∂L/∂h_1‖ of the baseline) at initialization, its
  ``direction`` ("raise" / "lower" / "flat", threshold :data:`FLAT_DECADES`), and whether that agrees with the
  literature's prediction ``Remedy.expected``:

  - "raise": the input-layer gradient goes up (direction "raise");
  - "level": it goes up *and* the profile is level: |log10(‖∂L/∂h_1‖/‖∂L/∂h_L‖)| ≤ :data:`LEVEL_DECADES`;
  - "none": the remedy does not cure the vanishing gradient: the profile still falls by more than
    LEVEL_DECADES from the top to the input layer (Kumar's initialization on the sigmoid net: by mean-field
    theory, :func:`vgp_core.theory.chi_1`, σ_w² = 12.96 leaves chi_1 ≈ 0.36 < 1; gradient clipping and Rprop,
    which act on the update, not on ∂L/∂h);
  - "n/a": the gradient-free search (it never uses a gradient) and the LSTM (a recurrent net: a link to the
    Recurrent page, with the LSTM's and a vanilla RNN's measured Jacobian norms over T = depth steps).

Most remedies are a change of :class:`vgp_core.mlp.MLPConfig` or of the optimizer, so they run on the deep-net
engine's one compiled training program (traced depth, activation, initializer, residual and batch-norm flags;
one compilation per optimizer). Pre-training (:mod:`vgp_core.pretraining`) and the evolution strategy
(:mod:`vgp_core.evolution`) have their own module-level jitted programs; the Veit et al. (2016) path-length
analysis (:func:`veit_gradient_by_path_length`) has one too.

Modules (one idea each; this package re-exports their public names, so ``from vgp_core.experiments import
remedies`` and ``remedies.run_lab`` keep working):

* ``registry``: the lab's thresholds and baseline, the :class:`Remedy` entries (``REMEDIES``) and their look-up;
* ``config``: :class:`LabConfig` (validated on construction) and the result dataclasses;
* ``lab``: measuring one remedy, the whole lab, the ranking and ``warm_up``;
* ``veit``: Veit, Wilber & Belongie (2016), a residual net as an ensemble of paths (path counts and the gradient by
  path length).
"""

from __future__ import annotations

from .config import LabConfig, RecurrentComparison, RemedyResult
from .lab import LSTM_HIDDEN, rank, run_lab, run_lab_iter, run_remedy, warm_up
from .registry import (
    BASELINE_ACTIVATION,
    BASELINE_INIT,
    CHUNK,
    EXPECTED,
    FLAT_DECADES,
    GROUPS,
    INPUT_DIM,
    LEVEL_DECADES,
    MAX_LAB_DEPTH,
    N_CLASSES,
    REMEDIES,
    Remedy,
    names,
    remedy,
)
from .veit import (
    MAX_VEIT_BLOCKS,
    VEIT_BATCH,
    VeitAnalysis,
    veit_analysis,
    veit_gradient_by_path_length,
    veit_gradient_components,
    veit_path_counts,
    veit_path_distribution,
)

__all__ = [
    "BASELINE_ACTIVATION",
    "BASELINE_INIT",
    "CHUNK",
    "EXPECTED",
    "FLAT_DECADES",
    "GROUPS",
    "INPUT_DIM",
    "LEVEL_DECADES",
    "LSTM_HIDDEN",
    "LabConfig",
    "MAX_LAB_DEPTH",
    "MAX_VEIT_BLOCKS",
    "N_CLASSES",
    "REMEDIES",
    "RecurrentComparison",
    "Remedy",
    "RemedyResult",
    "VEIT_BATCH",
    "VeitAnalysis",
    "names",
    "rank",
    "remedy",
    "run_lab",
    "run_lab_iter",
    "run_remedy",
    "veit_analysis",
    "veit_gradient_by_path_length",
    "veit_gradient_components",
    "veit_path_counts",
    "veit_path_distribution",
    "warm_up",
]
