"""The reproduction's configuration: the paper's activations, initializations and Table 1 figures,
:class:`Glorot2010Config` (validated on construction) and the seeded keys of one run.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
  Sec. 2-3 (protocol) and Table 1 (Shapeset-3x2 test errors).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import numpy as np

from ... import bounds, data
from ...errors import check_int

ACTIVATIONS = ("sigmoid", "tanh", "softsign")
#: the paper's two initializations; "normalized" (their name) is the registry's ``glorot_uniform``.
INITS = ("standard", "glorot_uniform")
INIT_ALIASES = {"standard": "standard", "normalized": "glorot_uniform", "glorot_uniform": "glorot_uniform"}
DEFAULT_LR_GRID = (0.01, 0.03, 0.1)
#: Glorot & Bengio 2010, Table 1, Shapeset-3x2 column, test error in %; "N" rows = normalized init.
#: The paper has no "Sigmoid N" row.
PAPER_TABLE1_SHAPESET = {
    ("softsign", "standard"): 16.27,
    ("softsign", "glorot_uniform"): 16.06,
    ("tanh", "standard"): 27.15,
    ("tanh", "glorot_uniform"): 15.60,
    ("sigmoid", "standard"): 82.61,
}
N_CLASSES = data.SHAPESET_N_CLASSES
#: validation / test sets are generated and evaluated in blocks of this many images (one compilation each).
EVAL_BLOCK = 500
#: gradient histograms span ±(this percentile of |value| over all layers), shared by the layers of one snapshot.
GRAD_HIST_PERCENTILE = 99.5
#: activation histograms span [-1, 1] for every activation (the sigmoid uses the right half).
ACT_HIST_RANGE = (-1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Glorot2010Config:
    """One reproduction run; validated on construction (ConfigError). ``lr_search_updates=None`` means each
    learning rate of the grid is trained for the full budget and the best one (validation error) *is* the final run;
    a smaller value runs a shorter search first and then trains the chosen rate for ``updates``."""

    # Bounds declared once (vgp_core.bounds); the few that depend on another field are checked in __post_init__.
    updates: int = bounds.integer(5000, 1, 10**8)
    depth: int = bounds.integer(5, 1, 20)
    width: int = bounds.integer(1000, 2, 4096)
    batch_size: int = bounds.integer(10, 1, 1000)
    activations: tuple = bounds.sequence(
        ACTIVATIONS,
        bounds.choice("tanh", ACTIVATIONS, label="activation"),
        length=(1, len(ACTIVATIONS)),
        repeats="drop",
    )
    inits: tuple = bounds.sequence(
        INITS, bounds.choice("standard", INITS, aliases=INIT_ALIASES, label="init"), repeats="drop"
    )
    lr_grid: tuple = bounds.sequence(
        DEFAULT_LR_GRID, bounds.real(0.01, 1e-6, 10.0, label="learning rate"), length=(1, 10)
    )
    #: None, or at most ``updates``
    lr_search_updates: int | None = None
    checkpoints: int = bounds.integer(20, 1, 1000)  # capped at updates
    #: at least ``batch_size``, at most ``test_size``
    probe_size: int = bounds.integer(300, 10, 10**6)
    validation_size: int = bounds.integer(1000, 10, 10**6)
    test_size: int = bounds.integer(5000, 10, 10**6)
    image_size: int = bounds.integer(32, 8, 128)
    hist_bins: int = bounds.integer(50, 2, 1000)
    #: probe examples whose layer Jacobians are SVD'd (0: skip; at most ``probe_size``). One suffices: the mean of a
    #: wide layer's 1000 singular values varies little between examples, and each SVD costs ~0.3 s at width 1000 on
    #: two cores.
    jacobian_examples: int = bounds.integer(1, 0, 10**6)
    chunk: int = bounds.integer(50, 1, 10000)
    seed: int = bounds.integer(0, 0, 2**31 - 1)

    def __post_init__(self):
        bounds.validate(self)
        # bounds that depend on another field
        set_ = functools.partial(object.__setattr__, self)
        if self.lr_search_updates is not None:
            set_("lr_search_updates", check_int("lr_search_updates", self.lr_search_updates, 1, self.updates))
        set_("probe_size", check_int("probe_size", self.probe_size, max(10, self.batch_size), self.test_size))
        set_("jacobian_examples", check_int("jacobian_examples", self.jacobian_examples, 0, self.probe_size))

    @property
    def search_updates(self) -> int:
        return self.updates if self.lr_search_updates is None else self.lr_search_updates

    @property
    def input_dim(self) -> int:
        return self.image_size * self.image_size

    def checkpoint_updates(self, updates: int | None = None) -> np.ndarray:
        """Update counts at which the probe statistics are taken: 0 and ``checkpoints`` evenly spaced ones."""
        updates = self.updates if updates is None else updates
        n = min(self.checkpoints, updates)
        return np.unique(np.round(np.linspace(0, updates, n + 1)).astype(np.int64))

    def replace(self, **changes) -> Glorot2010Config:
        return dataclasses.replace(self, **changes)


def _init_name(name) -> str:
    """The initializer ``name`` stands for (the paper's "normalized" is ``glorot_uniform``), or ConfigError."""
    return bounds.of(Glorot2010Config)["inits"].item.check("init", name)


class _Keys(NamedTuple):
    init: jax.Array
    train: jax.Array
    validation: jax.Array
    test: jax.Array


def _keys(seed: int) -> _Keys:
    root = jax.random.PRNGKey(seed)
    return _Keys(*(jax.random.fold_in(root, i) for i in range(4)))
