"""Deep feedforward networks: per-layer gradient profiles, gain sweeps and training traces.

Network (Glorot & Bengio 2010 notation, row vectors): h_0 = x, and for hidden layers l = 1..L

    s_l = gain · h_{l-1} W_l + b_l        (optionally batch-normalised over the batch, Ioffe & Szegedy 2015)
    h_l = phi(s_l)                        (or h_{l-1} + phi(s_l) with residual connections, l >= 2; He et al. 2016)

followed by a softmax output layer and the mean cross-entropy loss L. Layer 1 maps input_dim -> width, the others
width -> width.

Engineering (measured on a 2-core machine: 20 slider settings passed as static arguments cost 20 compiles, 23 s,
against one compile of 0.36 s with traced integers): one compiled program per (width, batch, input_dim, n_classes,
capacity) serves every depth, activation, initializer, gain, bias scale, residual and batch-norm setting. Depth
is a traced integer bound of a ``lax.while_loop``, so the work follows the active depth (not the capacity), and the
backward pass is written as a reverse ``while_loop`` of per-layer VJPs (``jax.vjp``) over the activations stored
by the forward pass — reverse-mode ``jax.grad`` cannot differentiate a loop with a traced trip count. The same
per-layer VJPs give the back-propagated gradient ∂L/∂h_l, the weight gradient ∂L/∂W_l and the parameter gradients
for training; tests check them against ``jax.grad`` of an unrolled network and against finite differences.

Weights are an elementwise function of standard-normal draws fixed by the seed (``initializers``), so changing
the initializer or gain re-scales the *same* random network.

Modules (one idea each; this package re-exports their public names, so ``from vgp_core import mlp`` and
``mlp.gradient_profile`` keep working):

* ``config``: ``MLPConfig``, the engine's size constants and the result dataclasses;
* ``params``: traced settings, seeded draws, the probe batch and the parameters (``init_params``, ``check_params``);
* ``engine``: one hidden layer, the forward pass and the manual reverse pass (``_forward_backward``);
* ``workspace``: a pool of activation buffers that the profile program reuses by donation;
* ``profile``: measurements without training (``gradient_profile``, ``gain_sweep``, ``params_profile``,
  ``probe_accuracy``);
* ``training``: mini-batch training (``train``, ``train_iter``, ``train_with_params``);
* ``warmup``: compiling the app's programs ahead of time (``warm_up``).
"""

from __future__ import annotations

from .config import (
    BN_EPS,
    CAPACITY_BUCKETS,
    JACOBIAN_EVERY,
    JACOBIAN_EXAMPLES,
    MAX_DEPTH,
    MAX_WIDTH,
    OPTIMIZERS,
    SWEEP_BATCH,
    GainSweep,
    GradientProfile,
    MLPConfig,
    TrainTrace,
)
from .engine import LayerStats, _forward_backward
from .params import (
    Draws,
    Params,
    Settings,
    _config_draws,
    _data_keys,
    _init_params,
    _probe_batch,
    _settings,
    check_params,
    init_params,
)
from .profile import gain_sweep, gradient_profile, params_profile, probe_accuracy
from .training import _train_states, train, train_iter, train_with_params
from .warmup import warm_up

__all__ = [
    "BN_EPS",
    "CAPACITY_BUCKETS",
    "JACOBIAN_EVERY",
    "JACOBIAN_EXAMPLES",
    "MAX_DEPTH",
    "MAX_WIDTH",
    "OPTIMIZERS",
    "SWEEP_BATCH",
    "Draws",
    "GainSweep",
    "GradientProfile",
    "LayerStats",
    "MLPConfig",
    "Params",
    "Settings",
    "TrainTrace",
    "check_params",
    "gain_sweep",
    "gradient_profile",
    "init_params",
    "params_profile",
    "probe_accuracy",
    "train",
    "train_iter",
    "train_with_params",
    "warm_up",
    # Package-internal names other modules, tests and bench/ reach through ``mlp.``: the probe batch and the task
    # keys (pretraining, evolution, remedies), the traced settings, the seeded draws and parameters, and the engine
    # itself (tests check its gradients against jax.grad and finite differences).
    "_config_draws",
    "_data_keys",
    "_forward_backward",
    "_init_params",
    "_probe_batch",
    "_settings",
    "_train_states",
]
