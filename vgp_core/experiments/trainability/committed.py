"""The committed phase diagram (read on first use) and how well its trainable cells agree with the
boundary 6 ξ_c.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017,
  Sec. 5 and Fig. 5.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os

import numpy as np

from .grid import TrainabilityResult


@dataclasses.dataclass(frozen=True)
class BoundaryAgreement:
    """How the trainable cells (accuracy > chance + margin) sit against L = 6 ξ_c.

    ``precision``: share of the trainable cells that lie inside the boundary (the paper: nearly all).
    ``recall``: share of the cells inside the boundary that trained (below 1 at a finite budget: deep nets near the
    boundary need more steps)."""

    margin: float
    inside_trainable: int
    inside_total: int
    outside_trainable: int
    outside_total: int
    #: the largest L / (6 ξ_c) over the trainable cells: how far past the boundary training reached (NaN if none)
    max_depth_ratio: float

    @property
    def precision(self) -> float:
        n = self.inside_trainable + self.outside_trainable
        return self.inside_trainable / n if n else math.nan

    @property
    def recall(self) -> float:
        return self.inside_trainable / self.inside_total if self.inside_total else math.nan


def boundary_agreement(result: TrainabilityResult, margin: float = 0.2, which: str = "train") -> BoundaryAgreement:
    """Count trainable cells inside (L ≤ 6 ξ_c) and outside the boundary.

    Args:
      result: a phase diagram.
      margin: a cell is trainable when its accuracy exceeds chance + ``margin``.
      which: "train" (the paper's training accuracy) or "test".

    Returns:
      :class:`BoundaryAgreement`.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    acc = result.train_accuracy if which == "train" else result.test_accuracy
    trainable = acc > result.chance + margin
    ratio = result.depths[None, :] / result.trainable_depth()[:, None]
    inside = ratio <= 1.0
    return BoundaryAgreement(
        margin=float(margin),
        inside_trainable=int(np.sum(trainable & inside)),
        inside_total=int(np.sum(inside)),
        outside_trainable=int(np.sum(trainable & ~inside)),
        outside_total=int(np.sum(~inside)),
        max_depth_ratio=float(np.max(ratio[trainable])) if np.any(trainable) else math.nan,
    )


ASSET_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "assets", "trainability", "results.json")


@functools.lru_cache(maxsize=2)
def load_committed(path: str = ASSET_PATH) -> TrainabilityResult:
    """The committed phase diagram (read on first use, then cached).

    Args:
      path: the results JSON (default ``assets/trainability/results.json``).

    Returns:
      :class:`TrainabilityResult`. Raises ``OSError`` when the file is missing.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    with open(path) as f:
        return TrainabilityResult.from_json(f.read())
