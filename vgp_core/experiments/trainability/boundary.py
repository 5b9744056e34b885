"""The mean-field trainability boundary: networks train when L ≲ 6 ξ_c(σ_w²), ξ_c the correlation depth
scale, which diverges at the order-to-chaos transition χ₁ = 1; and the theory fields stored beside a run.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017,
  Eq. 9 (ξ_c) and Sec. 5.
"""

from __future__ import annotations

import numpy as np

from ... import signal_propagation
from .config import ACTIVATION, SIGMA_B2, XI_C_FACTOR, TrainabilityConfig


def trainable_depth(sigma_w2, sigma_b2: float = SIGMA_B2) -> np.ndarray:
    """The boundary L = 6 ξ_c(σ_w²) of the trainable region (Schoenholz et al. 2017, Sec. 5), with the correlation
    depth scale ξ_c of their Eq. 9 from :func:`vgp_core.signal_propagation.correlation_depth_scale` (inf at χ₁ = 1).

    Args:
      sigma_w2: weight variance(s) σ_w².
      sigma_b2: bias variance σ_b².

    Returns:
      6 ξ_c in layers, an array shaped like ``sigma_w2``.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 9 (ξ_c) and Sec. 5 (trainable when L ≲ 6 ξ_c).
    """
    sw2 = np.asarray(sigma_w2, np.float64)
    return XI_C_FACTOR * np.asarray(signal_propagation.correlation_depth_scale(ACTIVATION, sw2, sigma_b2))


#: points of the fine σ_w² grid on which the boundary 6 ξ_c is stored for drawing
BOUNDARY_POINTS = 121


def theory_fields(config: TrainabilityConfig) -> dict:
    """The mean-field fields of a :class:`TrainabilityResult` for ``config``: ξ_c on the grid, the critical σ_w²
    (χ₁ = 1, :func:`vgp_core.theory.critical_sigma_w2`) and 6 ξ_c on a fine σ_w² grid spanning the run's range
    (plus the critical point itself, where it is infinite).

    Args:
      config: the run's configuration (its σ_w² grid and σ_b² are used).

    Returns:
      A dict: ``xi_c`` (S,) in layers, ``critical_sigma_w2`` (float), ``boundary_sigma_w2`` (B,) and
      ``boundary_depth`` (B,) = 6 ξ_c there, B = ``BOUNDARY_POINTS`` (+ 1 when the critical point is inside the range).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 9 (ξ_c), Sec. 5 (L = 6 ξ_c).
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        The order-to-chaos transition χ₁ = 1.
    """
    lo, hi = min(config.sigma_w2), max(config.sigma_w2)
    critical = float(signal_propagation.critical_sigma_w2(ACTIVATION, config.sigma_b2))
    fine = np.linspace(lo, hi, BOUNDARY_POINTS)
    if lo < critical < hi:
        fine = np.unique(np.append(fine, critical))
    return dict(
        xi_c=trainable_depth(config.sigma_w2, config.sigma_b2) / XI_C_FACTOR,
        critical_sigma_w2=critical,
        boundary_sigma_w2=fine,
        boundary_depth=trainable_depth(fine, config.sigma_b2),
    )
