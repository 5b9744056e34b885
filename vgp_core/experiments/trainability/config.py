"""The experiment's constants, its configuration (:class:`TrainabilityConfig`, validated on construction) and
its data: scikit-learn's bundled 8×8 digits, standardized on the training split.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017,
  Sec. 5 and Fig. 5 (σ_b² = 0.05, the grid).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

from ... import bounds

ACTIVATION = "tanh"
N_CLASSES = 10
#: Schoenholz et al. 2017, Fig. 5: σ_b² = 0.05 for every network of the phase diagram.
SIGMA_B2 = 0.05
#: Schoenholz et al. 2017, Sec. 5: networks are trainable when L ≲ 6 ξ_c.
XI_C_FACTOR = 6.0
DEFAULT_SIGMA_W2 = tuple(np.round(np.linspace(1.0, 4.0, 13), 4).tolist())
DEFAULT_DEPTHS = (10, 20, 40, 60, 80, 100, 150, 200, 250, 300)


@dataclasses.dataclass(frozen=True)
class TrainabilityConfig:
    """One phase-diagram run; validated on construction (ConfigError)."""

    # Bounds declared once (vgp_core.bounds).
    sigma_w2: tuple = bounds.sequence(DEFAULT_SIGMA_W2, bounds.real(1.0, 0.01, 100.0), ordered=True)
    depths: tuple = bounds.sequence(DEFAULT_DEPTHS, bounds.integer(10, 1, 2000), ordered=True)
    sigma_b2: float = bounds.real(SIGMA_B2, 0.0, 10.0)
    width: int = bounds.integer(64, 2, 4096)
    steps: int = bounds.integer(300, 1, 10**7)
    batch_size: int = bounds.integer(64, 1, 1000)
    learning_rate: float = bounds.real(0.01, 1e-6, 10.0)
    test_size: int = bounds.integer(497, 10, 1000)  # 1797 - 497 = 1300 training images
    chunk: int = bounds.integer(50, 1, 10**5)
    seed: int = bounds.integer(0, 0, 2**31 - 1)

    def __post_init__(self):
        bounds.validate(self)

    def chunk_ends(self) -> np.ndarray:
        """Step counts at which a chunk ends (the loss curve's x values): chunk, 2·chunk, ..., steps."""
        return np.unique(np.minimum(np.arange(1, -(-self.steps // self.chunk) + 1) * self.chunk, self.steps))

    def replace(self, **changes) -> TrainabilityConfig:
        return dataclasses.replace(self, **changes)


class Digits(NamedTuple):
    x_train: np.ndarray  # (n_train, 64) float32, standardized on the training split
    y_train: np.ndarray  # (n_train,) int32
    x_test: np.ndarray
    y_test: np.ndarray


@functools.lru_cache(maxsize=4)
def load_digits(test_size: int = 497, seed: int = 0) -> Digits:
    """scikit-learn's bundled 8×8 digits (no download), split by a seeded permutation; each pixel standardized by the
    training split's mean and standard deviation (pixels constant on it stay 0), so the input length q⁰ ≈ 1.

    Cached (the last 4 (test_size, seed) pairs).

    Args:
      test_size: images held out for the test split (the rest of the 1,797 train).
      seed: seed of the permutation that splits the images.

    Returns:
      :class:`Digits`: x_train (1797 - test_size, 64) and x_test (test_size, 64) float32 standardized pixels, y_train
      and y_test int32 labels in 0..9.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    from sklearn.datasets import load_digits as _sk_load_digits  # imported here: no import-time cost

    bunch = _sk_load_digits()
    x, y = bunch.data.astype(np.float64), bunch.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:test_size], order[test_size:]
    mean, std = x[train].mean(0), x[train].std(0)
    std = np.where(std > 0, std, 1.0)

    def norm(a):
        return ((a - mean) / std).astype(np.float32)

    return Digits(norm(x[train]), y[train], norm(x[test]), y[test])
