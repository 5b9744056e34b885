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

Modules (one idea each; this package re-exports their public names, so ``from vgp_core import rnn`` and
``rnn.jacobian_norms`` keep working):

* ``config``: ``RNNConfig``, the constants and the result dataclasses;
* ``params``: traced controls (``Knobs``), seeded draws and the parameters at initialisation;
* ``cells``: the cells' steps, their VJPs and the checkpointed forward/reverse loops over time;
* ``jacobians``: the analysis at initialisation (``jacobian_norms``, ``spectral_sweep``, ``parameter_gradient_terms``,
  ``pascanu_verdict``, ``note3_product``, ``weights``, ``warm_up``);
* ``tasks``: the synthetic long-range memory tasks (``memory_task_batch``);
* ``training``: training by back-propagation through time (``train_memory_task``, ``train_memory_task_iter``).
"""

from __future__ import annotations

from .config import (
    ADDING_TOLERANCE,
    CELLS,
    CHECKPOINT_EVERY,
    EVAL_BATCH,
    FAMILIES,
    INPUT_DIM,
    MAX_HIDDEN,
    MAX_RADIUS,
    MAX_T,
    MIN_TASK_LENGTH,
    N_OUT,
    N_SLOTS,
    OPTIMIZERS,
    POWER_MAX_ITERATIONS,
    POWER_TOLERANCE,
    RNN_ACTIVATIONS,
    SOLVED_ACCURACY,
    SWEEP_PROBES,
    SWEEP_WINDOW,
    T_BUCKETS,
    TASKS,
    JacobianNorms,
    MemoryTaskTrace,
    Note3Product,
    ParameterGradientTerms,
    PascanuVerdict,
    RNNConfig,
    RNNWeights,
    SpectralSweep,
)
from .jacobians import (
    jacobian_norms,
    largest_singular_value,
    note3_product,
    parameter_gradient_terms,
    pascanu_threshold,
    pascanu_verdict,
    spectral_sweep,
    warm_up,
    weights,
)
from .params import CellSettings, Draws, Knobs, Params, _config_draws
from .tasks import MemoryTaskBatch, memory_task_batch
from .training import train_memory_task, train_memory_task_iter

__all__ = [
    "ADDING_TOLERANCE",
    "CELLS",
    "CHECKPOINT_EVERY",
    "EVAL_BATCH",
    "FAMILIES",
    "INPUT_DIM",
    "MAX_HIDDEN",
    "MAX_RADIUS",
    "MAX_T",
    "MIN_TASK_LENGTH",
    "N_OUT",
    "N_SLOTS",
    "OPTIMIZERS",
    "POWER_MAX_ITERATIONS",
    "POWER_TOLERANCE",
    "RNN_ACTIVATIONS",
    "SOLVED_ACCURACY",
    "SWEEP_PROBES",
    "SWEEP_WINDOW",
    "T_BUCKETS",
    "TASKS",
    "CellSettings",
    "Draws",
    "JacobianNorms",
    "Knobs",
    "MemoryTaskBatch",
    "MemoryTaskTrace",
    "Note3Product",
    "ParameterGradientTerms",
    "Params",
    "PascanuVerdict",
    "RNNConfig",
    "RNNWeights",
    "SpectralSweep",
    "jacobian_norms",
    "largest_singular_value",
    "memory_task_batch",
    "note3_product",
    "parameter_gradient_terms",
    "pascanu_threshold",
    "pascanu_verdict",
    "spectral_sweep",
    "train_memory_task",
    "train_memory_task_iter",
    "warm_up",
    "weights",
    "_config_draws",  # the seeded draws; tests/test_rnn.py checks a gradient against them
]
