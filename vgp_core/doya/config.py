"""Doya's one-neuron network: the controls' defaults and validation ranges, and the frozen results
(trajectories, fixed points, bifurcation diagrams, hysteresis loops, sensitivities).

References:
  Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning";
  Wikipedia, "Vanishing gradient problem", section "Dynamical systems model".
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

MAX_STEPS = 2000
DEFAULT_W = 5.0
DEFAULT_EPS = 0.1
DEFAULT_STEPS = 200
METHODS = ("discrete", "continuous")
#: Validation ranges of the controls.
X_RANGE = (-10.0, 10.0)
B_RANGE = (-50.0, 50.0)
W_RANGE = (-50.0, 50.0)
EPS_RANGE = (1e-3, 1.0)
U_RANGE = (-10.0, 10.0)
W_IN_RANGE = (-10.0, 10.0)
MAX_GRID = 2048
#: RK4 sub-step bound: h · (1 + |w|/4) ≤ RK4_STEP_BOUND (the flow's rates are at most 1 + |w|/4 in modulus).
RK4_STEP_BOUND = 0.5
_LN10 = math.log(10.0)
_Z_TOL = 4e-16


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """x_t for t = 0..T (Doya's map, or its continuous-time limit sampled at times t·ε)."""

    t: np.ndarray  # (T+1,) int step index
    time: np.ndarray  # (T+1,) t·ε, the time of the flow the map discretises
    x: np.ndarray  # (T+1,) float32 state
    method: str


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """Equilibria x* = σ(w x* + b) + w'u at one (b, w), sorted ascending; exact in float64."""

    x: np.ndarray  # (k,) equilibria, k = 1..3 (2 exactly at a fold)
    stable: np.ndarray  # (k,) bool: |multiplier| < 1 (the map with this ε)
    stable_flow: np.ndarray  # (k,) bool: w y(1-y) < 1 (the continuous-time limit)
    multiplier: np.ndarray  # (k,) map derivative 1 - ε + ε w y(1-y), y = x* - w'u
    dxdb: np.ndarray  # (k,) ∂x*/∂b = (1/(y(1-y)) - w)^{-1} (inf at a fold)


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of the equilibrium curve b = logit(y) - w y - w w'u, x = y + w'u, of constant stability."""

    b: np.ndarray  # (m,)
    x: np.ndarray  # (m,) sorted along the curve (ascending x)
    stable: bool


@dataclasses.dataclass(frozen=True)
class BifurcationDiagram:
    """Equilibria against b (Wikipedia, "Dynamical systems model", bifurcation diagram figure; Doya 1993).

    ``segments`` sample the curve densely (uniform in b and in x); a segment ends exactly at a fold when the fold
    is in range. Fold (saddle-node) points are exact: w y(1-y) = 1.
    """

    w: float
    b_range: tuple
    segments: tuple  # of Segment
    fold_b: np.ndarray  # (0,) for w <= 4, else (2,): b of the folds (all of them, in range or not)
    fold_x: np.ndarray  # (0,) or (2,): x of the folds
    b_grid: np.ndarray  # (n,) uniform in b_range
    n_equilibria: np.ndarray  # (n,) int number of equilibria at each b_grid value


@dataclasses.dataclass(frozen=True)
class Hysteresis:
    """Final state after ``steps_per_b`` steps at each b while b sweeps down, then up, carrying the state."""

    b_down: np.ndarray  # (n,) from b_range[1] down to b_range[0]
    x_down: np.ndarray  # (n,)
    b_up: np.ndarray  # (n,) from b_range[0] up to b_range[1]
    x_up: np.ndarray  # (n,)
    jump_down_b: float  # b where the down sweep changes branch (largest |Δx|); NaN if no jump
    jump_up_b: float  # b where the up sweep changes branch; NaN if no jump


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """∂x(T)/∂x(0) and ∂x(T)/∂b (forward-mode autodiff through the T steps) beside Wikipedia's equilibrium value."""

    x_T: float
    dxT_dx0: float  # autodiff; 0.0 where float32 underflowed (vanishing), inf where it overflowed
    dxT_db: float  # autodiff
    log10_abs_dxT_dx0: float  # log10|∂x(T)/∂x(0)| accumulated in log space (never under/overflows)
    dxT_db_analytic: float  # (1/(y(1-y)) - w)^{-1} at y = x(T) - w'u (Wikipedia; valid once x(T) has settled)
    residual: float  # |x(T) - x(T-1)|: how far from settled (0 at an equilibrium)


@dataclasses.dataclass(frozen=True)
class SensitivityMap:
    """log10|∂x(T)/∂x(0)| and log10|∂x(T)/∂b| over the (b, x0) plane; rows are x0, columns b."""

    b: np.ndarray  # (n_b,)
    x0: np.ndarray  # (n_x0,)
    log10_dxT_dx0: np.ndarray  # (n_x0, n_b) float32; -inf where a factor was exactly 0
    log10_dxT_db: np.ndarray  # (n_x0, n_b) float32; inf where float32 overflowed
    x_T: np.ndarray  # (n_x0, n_b) final state (which attractor)
