"""Doya's one-neuron recurrent network: equilibria, bifurcations, hysteresis and gradient sensitivity.

The Wikipedia article "Vanishing gradient problem" (section "Dynamical systems model"), after Doya (1993,
"Bifurcations of recurrent neural networks in gradient descent learning"; also Doya 1992, ISCAS). The network is

    x_{t+1} = (1 - ε) x_t + ε σ(w x_t + b) + ε w' u_t                                  (the map, Wikipedia's eq.)

and its small-ε limit is the flow dx/dt = -x + σ(w x + b) + w' u; the map is the forward-Euler step of the flow
with step ε. ``method="continuous"`` integrates the flow with classical RK4 instead, sampled at the same times
t·ε (sub-steps keep h·(1 + |w|/4) ≤ 0.5, inside RK4's stability region), so both methods share one time axis.

Equilibria with a constant input c = w' u satisfy x = σ(w x + b) + c. With y = x - c (the sigmoid's value) this
is y = σ(w y + b + w c), i.e. b + w c = logit(y) - w y (Wikipedia: b = ln(x/(1-x)) - 5x for w = 5, u = 0).
g(y) = logit(y) - w y is increasing for w ≤ 4; for w > 4 it has three monotone branches separated by the
saddle-node (fold) points where g'(y) = 1/(y(1-y)) - w = 0, i.e. w y(1-y) = 1, y = (1 ± sqrt(1 - 4/w))/2.
The map's derivative at an equilibrium (its multiplier) is 1 - ε + ε w y(1-y): stable when its modulus is < 1
(for the flow: w y(1-y) < 1). At equilibrium ∂x*/∂b = (1/(y(1-y)) - w)^{-1} (Wikipedia: (1/(x(1-x)) - 5)^{-1}).

Engineering: equilibria and the bifurcation diagram are exact float64 NumPy (bisection in z = logit(y) on every
monotone branch, to about 4e-16). Trajectories and sensitivities are float32 JAX programs defined at module
level; every slider value (x0, b, w, ε, u, w', method) is a traced scalar and T is a traced int bound of a
``lax.while_loop`` over at most ``MAX_STEPS`` steps, so one compiled program serves every setting and the work
follows T. Sensitivities use forward-mode autodiff (``jax.jvp``/``jax.jacfwd``), which, unlike reverse mode,
differentiates a while loop with a traced trip count. Array shapes (grid sizes, sweep length) are static: each
distinct grid size compiles once.

Modules (one idea each; this package re-exports their public names, so ``from vgp_core import doya`` and
``doya.simulate`` keep working):

* ``config``: the controls' defaults and validation ranges and the frozen result dataclasses;
* ``checks``: validation of the controls (shared with :mod:`vgp_core.cliff`);
* ``dynamics``: the float32 JAX programs (the map, the RK4 flow, trajectories, forward-mode sensitivities, the
  hysteresis sweep);
* ``equilibria``: the exact float64 equilibria, fold points and bifurcation diagram;
* ``simulation``: the public JAX-backed functions (``simulate``, ``hysteresis``, ``sensitivity``,
  ``sensitivity_map``) and ``warm_up``.
"""

from __future__ import annotations

from .checks import _grid, _method_index, _n_sub, _scalar, _steps
from .config import (
    B_RANGE,
    DEFAULT_EPS,
    DEFAULT_STEPS,
    DEFAULT_W,
    EPS_RANGE,
    MAX_GRID,
    MAX_STEPS,
    METHODS,
    RK4_STEP_BOUND,
    U_RANGE,
    W_IN_RANGE,
    W_RANGE,
    X_RANGE,
    BifurcationDiagram,
    FixedPoints,
    Hysteresis,
    Segment,
    Sensitivity,
    SensitivityMap,
    Trajectory,
)
from .dynamics import _final_state
from .equilibria import bifurcation_diagram, fixed_points, fold_points
from .simulation import hysteresis, sensitivity, sensitivity_map, simulate, warm_up

__all__ = [
    "B_RANGE",
    "BifurcationDiagram",
    "DEFAULT_EPS",
    "DEFAULT_STEPS",
    "DEFAULT_W",
    "EPS_RANGE",
    "FixedPoints",
    "Hysteresis",
    "MAX_GRID",
    "MAX_STEPS",
    "METHODS",
    "RK4_STEP_BOUND",
    "Segment",
    "Sensitivity",
    "SensitivityMap",
    "Trajectory",
    "U_RANGE",
    "W_IN_RANGE",
    "W_RANGE",
    "X_RANGE",
    "bifurcation_diagram",
    "fixed_points",
    "fold_points",
    "hysteresis",
    "sensitivity",
    "sensitivity_map",
    "simulate",
    "warm_up",
    # package-internal names that tests and bench/ reach through the package
    "_final_state",
    "_grid",
    "_method_index",
    "_n_sub",
    "_scalar",
    "_steps",
]
