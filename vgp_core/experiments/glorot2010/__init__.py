"""Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks": the engine.

The paper's protocol (Sec. 2–3), on Shapeset-3x2 (:func:`vgp_core.data.shapeset`):

* an MLP with ``depth`` hidden layers of ``width`` units (paper: 5 × 1000), s^i = z^i W^i + b^i, z^{i+1} = f(s^i)
  (row vectors, their notation; z^0 = x the 32×32 image flattened), softmax output, negative log-likelihood;
* plain SGD on minibatches of 10, biases initialised to 0, weights from the *standard* initialization
  W ~ U[-1/√n, 1/√n] (their Eq. 1) or the *normalized* one W ~ U[±√6/√(n_j + n_{j+1})] (their Eq. 16; registry name
  ``glorot_uniform``), for the activations sigmoid, tanh and softsign x/(1+|x|);
* online learning: a fresh Shapeset minibatch every update (the same stream for every run, see ``_train``), the
  learning rate chosen on a validation set from a small grid;
* statistics on a fixed set of 300 test examples (the *probe* set): per hidden layer, the mean, standard deviation
  and 2nd/98th percentiles of the activations over training (their Fig. 2–3, 5), the variance of the
  back-propagated gradients ∂C/∂s^i (Eq. 12–13, Fig. 7) and of the weight gradients ∂C/∂W^i (Eq. 14, Fig. 8–9),
  normalized histograms of activations, back-propagated and weight gradients at initialization and after training
  (Fig. 6–8), the mean singular value of each layer's Jacobian J^i = ∂z^{i+1}/∂z^i (Sec. 4.2.1: ≈0.5 for standard,
  ≈0.8 for normalized init with tanh) and the test error (Table 1).

Every (activation, init) combination starts from the *same* random draws (``initializers`` maps one normal draw to
each initializer) and trains on the same data stream, so the comparison is paired.

Engineering: the network is a plain unrolled Python loop over the (fixed, small) depth; ``jax.grad`` gives the
update. Training runs in ``lax.scan`` chunks of ``chunk`` updates, one jitted call each, fed by one jitted call that
generates the chunk's Shapeset minibatches; the activation is a traced registry index (``lax.switch``), so one compiled
program serves every activation, initialization and learning rate. All jitted functions live at module level.

CLI: ``python -m vgp_core.experiments.glorot2010 --updates N --out DIR`` writes ``DIR/results.json``.

Modules (one idea each; this package re-exports their public names, so ``from vgp_core.experiments import
glorot2010`` and ``glorot2010.run`` keep working):

* ``config``: the paper's constants (Table 1), ``Glorot2010Config`` and the seeded keys;
* ``network``: the MLP, its jitted training chunk and the probe statistics (``init_params``, ``jacobian_sv_mean``);
* ``results``: the frozen result dataclasses and their JSON round trip;
* ``driver``: data sets, snapshots, one run, the learning-rate search and the whole protocol (``run``);
* ``cli``: ``python -m vgp_core.experiments.glorot2010 --updates N --out DIR``.
"""

from __future__ import annotations

from .cli import main
from .config import (
    ACT_HIST_RANGE,
    ACTIVATIONS,
    DEFAULT_LR_GRID,
    EVAL_BLOCK,
    GRAD_HIST_PERCENTILE,
    INIT_ALIASES,
    INITS,
    N_CLASSES,
    PAPER_TABLE1_SHAPESET,
    Glorot2010Config,
)
from .driver import _best, evaluate, run, run_combination, snapshot, train_run, validation_error
from .network import (
    _batch_loss,
    _forward,
    _nll,
    _probe,
    _probe_forward_backward,
    _stream_block,
    _train_chunk,
    init_params,
    jacobian_sv_mean,
)
from .results import CombinationResult, Glorot2010Result, Histograms, RunResult, Snapshot

__all__ = [
    "ACTIVATIONS",
    "ACT_HIST_RANGE",
    "CombinationResult",
    "DEFAULT_LR_GRID",
    "EVAL_BLOCK",
    "GRAD_HIST_PERCENTILE",
    "Glorot2010Config",
    "Glorot2010Result",
    "Histograms",
    "INITS",
    "INIT_ALIASES",
    "N_CLASSES",
    "PAPER_TABLE1_SHAPESET",
    "RunResult",
    "Snapshot",
    "evaluate",
    "init_params",
    "jacobian_sv_mean",
    "main",
    "run",
    "run_combination",
    "snapshot",
    "train_run",
    "validation_error",
    # package-internal names that tests and bench/ reach through the package
    "_batch_loss",
    "_best",
    "_forward",
    "_nll",
    "_probe",
    "_probe_forward_backward",
    "_stream_block",
    "_train_chunk",
]
