"""The trainability phase diagram of Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information
propagation", Sec. 5 and Fig. 5: deep tanh networks train only when their depth L is below about 6 ξ_c, where ξ_c is
the mean-field correlation depth scale (their Eq. 9), which diverges at the order-to-chaos transition χ₁ = 1.

The experiment:

* fully connected tanh networks, ``depth`` hidden layers of ``width`` units, a softmax read-out and the mean negative
  log-likelihood; every weight W_ij ~ N(0, σ_w²/fan_in) and every bias ~ N(0, σ_b²) with σ_b² = 0.05 (their setup);
* a grid of σ_w² (≈ 1–4) × depth (≈ 10–300), each network trained with plain SGD for a fixed budget of steps;
* the data: scikit-learn's bundled 8×8 handwritten digits (``sklearn.datasets.load_digits``: 1,797 images in 10
  classes, shipped inside the wheel, nothing downloaded), each pixel standardized on the training split;
* the result: the accuracy on the training split after the budget (their Fig. 5 plots training accuracy) and on a
  held-out split, beside L = 6 ξ_c(σ_w²) and the critical σ_w² where χ₁ = 1.

Every network of one depth starts from the *same* standard-normal draws scaled by σ_w and σ_b, and every network
sees the same minibatch stream, so the σ_w² axis is a paired comparison.

Engineering: the networks of one depth are trained together as one batch of nets (one compiled program per depth),
the net axis sharded over ``jax.devices()`` with a ``NamedSharding``, so the same command uses one CPU, a GPU or
several. On accelerators the batch is one ``jax.vmap`` (batched matmuls); on the CPU it is a ``lax.map``, a loop of the
single-net program inside one compiled call, because that loop is bit-identical to :func:`train_one` (which trains one
configuration with the single-net program, chunk by chunk: the page retrains a tapped cell and streams its loss
curve), so a retrained cell reproduces its committed curve exactly, chaotic deep nets included. The vmapped program
agrees with it only to float32 rounding (~1e-7) where training is stable; deep nets in the chaotic phase amplify that
rounding as they amplify any perturbation (measured: 45 % apart in loss at depth 60, σ_w² = 4, after 50 steps). On
this project's shared 2-core CPU neither is consistently faster (``bench/bench_trainability.py``: vmap 1.2× faster at
depth 10 and 1.6× at depth 300, lax.map 1.8× faster at depth 60). Training runs in
``lax.scan`` chunks of ``chunk`` steps; the layers are a ``lax.scan`` over the stacked hidden weights.

CLI: ``python -m vgp_core.experiments.trainability --out DIR`` writes ``DIR/results.json``.

Modules (one idea each; this package re-exports their public names, so ``from vgp_core.experiments import
trainability`` and ``trainability.run`` keep working):

* ``config``: the experiment's constants, ``TrainabilityConfig`` and the digits data set (``load_digits``);
* ``boundary``: the mean-field boundary L = 6 ξ_c (``trainable_depth``) and the theory fields stored with a run;
* ``network``: the tanh network, its seeded draws and the jitted SGD chunks (one net, or a batch of nets);
* ``retrain``: one configuration trained chunk by chunk (the page's live retraining, ``train_one_chunks``) and
  ``warm_up``;
* ``grid``: the whole σ_w² × depth grid, sharded over ``jax.devices()`` (``train_depth``, ``run``) and its result;
* ``committed``: the committed run (``load_committed``) and its agreement with the boundary;
* ``cli``: ``python -m vgp_core.experiments.trainability --out DIR``.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017.
  Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
  neural networks through transient chaos. NIPS 2016.
"""

from __future__ import annotations

from .boundary import BOUNDARY_POINTS, theory_fields, trainable_depth
from .cli import main
from .committed import ASSET_PATH, BoundaryAgreement, boundary_agreement, load_committed
from .config import (
    ACTIVATION,
    DEFAULT_DEPTHS,
    DEFAULT_SIGMA_W2,
    N_CLASSES,
    SIGMA_B2,
    XI_C_FACTOR,
    Digits,
    TrainabilityConfig,
    load_digits,
)
from .grid import TrainabilityResult, run, train_depth
from .network import Params, _depth_key, forward, init_params, scale_draws, standard_draws, vectorize_default
from .retrain import TrainProgress, train_one, train_one_chunks, warm_up

__all__ = [
    "ACTIVATION",
    "ASSET_PATH",
    "BOUNDARY_POINTS",
    "BoundaryAgreement",
    "DEFAULT_DEPTHS",
    "DEFAULT_SIGMA_W2",
    "Digits",
    "N_CLASSES",
    "Params",
    "SIGMA_B2",
    "TrainProgress",
    "TrainabilityConfig",
    "TrainabilityResult",
    "XI_C_FACTOR",
    "boundary_agreement",
    "forward",
    "init_params",
    "load_committed",
    "load_digits",
    "main",
    "run",
    "scale_draws",
    "standard_draws",
    "theory_fields",
    "train_depth",
    "train_one",
    "train_one_chunks",
    "trainable_depth",
    "vectorize_default",
    "warm_up",
    # package-internal names that tests and bench/ reach through the package
    "_depth_key",
]
