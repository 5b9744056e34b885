"""The reproduction's configuration: the paper's activations, initializations and Table 1 figures,
:class:`Glorot2010Config` (validated on construction) and the seeded keys of one run.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
  Sec. 2-3 (protocol) and Table 1 (Shapeset-3x2 test errors).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import numpy as np

from ... import data
from ...errors import ConfigError, check_choice, check_float, check_int

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


def _init_name(name) -> str:
    return INIT_ALIASES[check_choice("init", name, INIT_ALIASES)]


@dataclasses.dataclass(frozen=True)
class Glorot2010Config:
    """One reproduction run; validated on construction (ConfigError). ``lr_search_updates=None`` means each
    learning rate of the grid is trained for the full budget and the best one (validation error) *is* the final run;
    a smaller value runs a shorter search first and then trains the chosen rate for ``updates``."""

    updates: int = 5000
    depth: int = 5
    width: int = 1000
    batch_size: int = 10
    activations: tuple = ACTIVATIONS
    inits: tuple = INITS
    lr_grid: tuple = DEFAULT_LR_GRID
    lr_search_updates: int | None = None
    checkpoints: int = 20
    probe_size: int = 300
    validation_size: int = 1000
    test_size: int = 5000
    image_size: int = 32
    hist_bins: int = 50
    #: probe examples whose layer Jacobians are SVD'd (0: skip). One suffices: the mean of a wide layer's 1000 singular
    #: values varies little between examples, and each SVD costs ~0.3 s at width 1000 on two cores.
    jacobian_examples: int = 1
    chunk: int = 50
    seed: int = 0

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("updates", check_int("updates", self.updates, 1, 10**8))
        set_("depth", check_int("depth", self.depth, 1, 20))
        set_("width", check_int("width", self.width, 2, 4096))
        set_("batch_size", check_int("batch_size", self.batch_size, 1, 1000))
        for field, choices, norm in (
            ("activations", ACTIVATIONS, lambda a: check_choice("activation", a, ACTIVATIONS)),
            ("inits", INITS, _init_name),
        ):
            values = getattr(self, field)
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise ConfigError(f"{field} must be a non-empty list drawn from {', '.join(choices)}, got {values!r}")
            values = tuple(dict.fromkeys(norm(v) for v in values))
            set_(field, values)
        grid = self.lr_grid
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not 1 <= len(grid) <= 10:
            raise ConfigError(f"lr_grid must be a list of 1 to 10 learning rates, got {grid!r}")
        grid = tuple(check_float("learning rate", g, 1e-6, 10.0) for g in grid)
        if len(set(grid)) != len(grid):
            raise ConfigError(f"lr_grid has repeated values: {grid!r}")
        set_("lr_grid", grid)
        if self.lr_search_updates is not None:
            set_("lr_search_updates", check_int("lr_search_updates", self.lr_search_updates, 1, self.updates))
        set_("checkpoints", check_int("checkpoints", self.checkpoints, 1, 1000))  # capped at updates
        set_("test_size", check_int("test_size", self.test_size, 10, 10**6))
        set_("probe_size", check_int("probe_size", self.probe_size, max(10, self.batch_size), self.test_size))
        set_("validation_size", check_int("validation_size", self.validation_size, 10, 10**6))
        set_("image_size", check_int("image_size", self.image_size, 8, 128))
        set_("hist_bins", check_int("hist_bins", self.hist_bins, 2, 1000))
        set_("jacobian_examples", check_int("jacobian_examples", self.jacobian_examples, 0, self.probe_size))
        set_("chunk", check_int("chunk", self.chunk, 1, 10000))
        set_("seed", check_int("seed", self.seed, 0, 2**31 - 1))

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


class _Keys(NamedTuple):
    init: jax.Array
    train: jax.Array
    validation: jax.Array
    test: jax.Array


def _keys(seed: int) -> _Keys:
    root = jax.random.PRNGKey(seed)
    return _Keys(*(jax.random.fold_in(root, i) for i in range(4)))
