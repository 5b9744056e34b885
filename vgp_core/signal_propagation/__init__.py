"""Signal propagation through wide random networks: the length and correlation maps and their depth scales.

Mean field (Poole et al. 2016, "Exponential expressivity in deep neural networks through transient chaos", Eqs. 3
and 5; Schoenholz et al. 2017, "Deep information propagation", Sec. 2–3, Eqs. 2–9). A layer
h^l = W^l phi(h^{l-1}) + b^l with W_ij ~ N(0, sigma_w^2/N), b_i ~ N(0, sigma_b^2) maps

* the length  q^l = sigma_w^2 ∫Dz phi(sqrt(q^{l-1}) z)^2 + sigma_b^2                       (length map, Eq. 3)
* the correlation of two inputs at the fixed point q*:
  c^l = [sigma_w^2 ∫Dz1 Dz2 phi(u1) phi(u2) + sigma_b^2] / q*,  u1 = sqrt(q*) z1,
  u2 = sqrt(q*) (c^{l-1} z1 + sqrt(1 - (c^{l-1})^2) z2)                                  (correlation map, Eq. 5)

c = 1 is always a fixed point; its slope there is chi_1 = sigma_w^2 ∫Dz phi'(sqrt(q*) z)^2: stable (ordered
phase, every input pair becomes parallel) when chi_1 < 1, unstable (chaotic phase, a second fixed point c* < 1)
when chi_1 > 1. Depth scales (Schoenholz et al. 2017, Eqs. 7–9):

* xi_q^{-1} = -ln(chi_1 + sigma_w^2 ∫Dz phi''(sqrt(q*) z) phi(sqrt(q*) z))  (the length's approach to q*),
* xi_c^{-1} = -ln chi_c,  chi_c = sigma_w^2 ∫Dz1 Dz2 phi'(u1) phi'(u2) at c = c*  (= chi_1 when c* = 1),

so xi_c diverges at chi_1 = 1, the order-to-chaos line over (sigma_w^2, sigma_b^2).

The same quantities are measured on a random network drawn by ``vgp_core.mlp`` (``measure``), so the mean-field
limit can be compared with a finite width and depth. Gaussian integrals use the midpoint rule of
``vgp_core.theory`` in 1-D and a product midpoint rule on ``_N_2D``² nodes over [-8, 8]² in 2-D.

Modules (one idea each; this package re-exports their public names, so ``from vgp_core import signal_propagation``
and ``signal_propagation.fixed_points`` keep working):

* ``maps``: the length and correlation maps and their iterates (Gaussian quadrature in 1-D and 2-D);
* ``scales``: the fixed points q* and c*, χ₁, the depth scales ξ_q and ξ_c and the phase diagram;
* ``measured``: the same quantities measured on a random network (``measure``) and ``warm_up``.
"""

from __future__ import annotations

from .maps import (
    C_GRID,
    C_NEWTON_STEPS,
    MAX_ITERATES,
    correlation_iterates,
    correlation_map,
    critical_sigma_w2,
    length_iterates,
    length_map,
)
from .measured import WEIGHTS, MeasuredPropagation, PropagationConfig, measure, network_layers, warm_up
from .scales import (
    MARGINAL,
    FixedPoints,
    PhaseDiagram,
    correlation_depth_scale,
    fixed_points,
    fixed_points_curve,
    length_depth_scale,
    phase_diagram,
)

__all__ = [
    "C_GRID",
    "C_NEWTON_STEPS",
    "FixedPoints",
    "MARGINAL",
    "MAX_ITERATES",
    "MeasuredPropagation",
    "PhaseDiagram",
    "PropagationConfig",
    "WEIGHTS",
    "correlation_depth_scale",
    "correlation_iterates",
    "correlation_map",
    "critical_sigma_w2",
    "fixed_points",
    "fixed_points_curve",
    "length_depth_scale",
    "length_iterates",
    "length_map",
    "measure",
    "network_layers",
    "phase_diagram",
    "warm_up",
]
