"""Doya's one-neuron network (Doya 1993; Wikipedia article "Vanishing gradient problem", section "Dynamical systems
model"): equilibria, folds, hysteresis, autodiff sensitivities, and no recompilation while the controls move."""

import math

import numpy as np
import pytest

from vgp_core import doya
from vgp_core.errors import ConfigError

F32_EPS = 2.0**-24  # unit round-off of float32


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logit(x):
    return math.log(x / (1.0 - x))


def reference_map(x0, b, w=5.0, eps=0.1, steps=100):
    """Independent float64 implementation of Doya's map x_{t+1} = (1-ε) x_t + ε σ(w x_t + b) (u = 0)."""
    x = float(x0)
    for _ in range(steps):
        x = (1.0 - eps) * x + eps * sigmoid(w * x + b)
    return x


# ---------------------------------------------------------------------------------------------------- equilibria
@pytest.mark.parametrize("w", [-10.0, 0.0, 3.0, 4.0, 4.5, 5.0, 10.0, 30.0])
@pytest.mark.parametrize("b", [-20.0, -5.0, -2.5, -2.4, -1.0, 0.0, 3.0])
def test_equilibria_solve_the_fixed_point_equation(w, b):
    fp = doya.fixed_points(b, w)
    assert 1 <= fp.x.size <= 3
    for x in fp.x:
        # Issue 4: x = σ(w x + b) to 1e-10 (the solver works in float64 to ~4e-16, so 1e-10 has a wide margin).
        assert abs(x - sigmoid(w * x + b)) <= 1e-10


def test_equilibria_with_constant_input():
    # x = σ(w x + b) + w'u: the shifted problem of the module docstring.
    fp = doya.fixed_points(-2.5, 5.0, u=0.2, w_in=0.5)
    assert fp.x.size >= 1
    for x in fp.x:
        assert abs(x - sigmoid(5.0 * x - 2.5) - 0.1) <= 1e-10


def test_folds_for_w5():
    w = 5.0
    fold_b, fold_x = doya.fold_points(w)
    # Folds (saddle-nodes) are where d/dx [logit(x) - w x] = 1/(x(1-x)) - w = 0, i.e. w x(1-x) = 1, whose roots
    # are x = (1 ± sqrt(1 - 4/w))/2; closed form in float64, so 1e-12 is round-off only.
    r = math.sqrt(1.0 - 4.0 / w)
    assert sorted(fold_x) == pytest.approx([(1 - r) / 2, (1 + r) / 2], abs=1e-12)
    for x, b in zip(fold_x, fold_b):
        assert w * x * (1 - x) == pytest.approx(1.0, abs=1e-12)
        assert b == pytest.approx(logit(x) - w * x, abs=1e-12)
    b_lo, b_hi = sorted(fold_b)
    x_lo, x_hi = sorted(fold_x)
    # Strictly between the fold values of b there are exactly three equilibria, outside exactly one, and the
    # middle (unstable) one lies strictly between the fold values of x.
    for b in np.linspace(b_lo, b_hi, 9)[1:-1]:
        fp = doya.fixed_points(b, w)
        assert fp.x.size == 3
        assert list(fp.stable) == [True, False, True]
        assert fp.x[0] < x_lo < fp.x[1] < x_hi < fp.x[2]
    for b in (b_lo - 1e-3, b_hi + 1e-3, -3.0, -2.0):
        fp = doya.fixed_points(b, w)
        assert fp.x.size == 1 and fp.stable[0]
    # The diagram's grid count agrees: 3 exactly where b_lo < b < b_hi.
    d = doya.bifurcation_diagram(w, (-3.0, -2.0), 201)
    assert np.all((d.n_equilibria == 3) == ((d.b_grid > b_lo) & (d.b_grid < b_hi)))
    assert np.all((d.n_equilibria == 1) == ((d.b_grid < b_lo) | (d.b_grid > b_hi)))
    # Segments: stable - unstable - stable, each ending exactly at a fold.
    assert [s.stable for s in d.segments] == [True, False, True]
    lower, middle, upper = d.segments
    assert lower.b[-1] == pytest.approx(b_hi, abs=1e-12) and lower.x[-1] == pytest.approx(x_lo, abs=1e-12)
    assert upper.b[0] == pytest.approx(b_lo, abs=1e-12) and upper.x[0] == pytest.approx(x_hi, abs=1e-12)
    assert middle.x[0] == pytest.approx(x_lo, abs=1e-12) and middle.x[-1] == pytest.approx(x_hi, abs=1e-12)
    # every sampled point lies on the curve b = logit(x) - w x
    for s in d.segments:
        assert np.max(np.abs(np.log(s.x / (1 - s.x)) - w * s.x - s.b)) < 1e-9


def test_no_folds_below_w4():
    d = doya.bifurcation_diagram(3.0, (-3.0, 3.0), 50)
    assert d.fold_b.size == 0 and len(d.segments) == 1 and d.segments[0].stable
    assert np.all(d.n_equilibria == 1)


def test_branch_values_at_b_minus_2_5():
    fp = doya.fixed_points(-2.5, 5.0)
    assert fp.x.size == 3 and list(fp.stable) == [True, False, True]
    # Unstable point: logit(0.5) - 5·0.5 = 0 - 2.5 = -2.5, so x = 1/2 exactly (solver accuracy ~1e-16).
    assert fp.x[1] == pytest.approx(0.5, abs=1e-12)
    # Symmetry: g(x) = logit(x) - 5x satisfies g(1-x) = -g(x) - 5, so g(x) = -2.5 <=> g(1-x) = -2.5: the stable
    # points are x and 1-x (to solver accuracy).
    assert fp.x[0] + fp.x[2] == pytest.approx(1.0, abs=1e-12)
    # Wikipedia (note 4) quotes them to three decimals, 0.145 and 0.855: within half a unit of the last digit.
    assert fp.x[0] == pytest.approx(0.145, abs=5e-4)
    assert fp.x[2] == pytest.approx(0.855, abs=5e-4)
    # and the formula b = logit(x) - 5x gives -2.5 at Wikipedia's rounded value to within g'(x)·5e-4 ≈ 1.6e-3.
    assert logit(0.855) - 5 * 0.855 == pytest.approx(-2.5, abs=(1 / (0.855 * 0.145) - 5) * 5e-4)
    # Multipliers of the map: 1 - ε + ε·5·x(1-x) (here ε = 0.1): 1.025 at x = 1/2.
    assert fp.multiplier[1] == pytest.approx(1.025, abs=1e-12)


# ---------------------------------------------------------------------------------------------------- dynamics
def test_simulate_matches_float64_reference():
    tr = doya.simulate(0.3, -2.45, w=5.0, eps=0.1, steps=150)
    assert tr.x.shape == (151,) and tr.t[-1] == 150 and tr.time[-1] == pytest.approx(15.0)
    ref = [reference_map(0.3, -2.45, steps=k) for k in (0, 1, 10, 150)]
    # float32 state: one rounding per step, contracted by the stable dynamics; 1e-5 is > 100 float32 ulps of x.
    np.testing.assert_allclose(tr.x[[0, 1, 10, 150]], ref, atol=1e-5)


def test_input_pulse_flips_the_memory():
    # One-bit memory: start on the lower attractor at b = -2.5, a positive input pulse for 50 steps moves the state
    # to the upper basin, where it stays after the pulse.
    u = np.zeros(400)
    u[:50] = 1.0
    tr = doya.simulate(0.145, -2.5, steps=400, u=u, w_in=1.0)
    assert tr.x[-1] == pytest.approx(0.855, abs=1e-3)
    assert doya.simulate(0.145, -2.5, steps=400).x[-1] == pytest.approx(0.145, abs=1e-3)


def test_continuous_limit():
    # The map is forward Euler of dx/dt = -x + σ(w x + b) with step ε, so its error against the flow (RK4 with
    # ε = 0.1, whose own error is O(1e-8) here) is first order: halving ε halves it. The band [1.7, 2.3]
    # allows the O(ε²) term (a few % at ε = 0.04) and float32 round-off (~1e-7 against errors ~1e-4).
    flow = doya.simulate(0.3, -2.45, eps=0.1, steps=100, method="continuous").x[-1]
    err = [doya.simulate(0.3, -2.45, eps=e, steps=round(10 / e)).x[-1] - flow for e in (0.04, 0.02)]
    assert 1.7 < err[0] / err[1] < 2.3
    assert abs(err[1]) < 1e-3


def test_hysteresis_loop():
    n = 201
    h = doya.hysteresis(5.0, (-3.0, -2.0), n, steps_per_b=200)
    fold_b, _ = doya.fold_points(5.0)
    b_lo, b_hi = sorted(fold_b)
    step = 1.0 / (n - 1)
    # Sweeping down, the state stays on the upper branch until that branch ends at the lower fold b_lo; it cannot
    # jump before (up to the midpoint convention, step/2). Slow passage through the saddle-node bottleneck delays
    # the jump: with F ≈ μ/w + (w/2)|1-2x_f| y² near the fold, the passage takes π/sqrt(A B) time units
    # (A = |μ|/w, B = 1.118), which is below the 200·ε = 20 units spent at one b once |μ| > 0.11; so the delay is
    # below 0.11 + step.
    assert b_lo - 0.11 - step < h.jump_down_b < b_lo + step
    assert b_hi - step < h.jump_up_b < b_hi + 0.11 + step
    # One-bit memory: inside the bistable range the final state depends on the sweep direction.
    i = int(np.argmin(np.abs(h.b_down + 2.5)))
    j = int(np.argmin(np.abs(h.b_up + 2.5)))
    assert h.x_down[i] == pytest.approx(0.855, abs=1e-3)  # settled to float32 after 200 steps per b
    assert h.x_up[j] == pytest.approx(0.145, abs=1e-3)


# ---------------------------------------------------------------------------------------------------- sensitivity
@pytest.mark.parametrize(
    "x0,b,steps", [(0.3, -2.5, 100), (0.7, -2.6, 100), (0.45, -2.45, 100), (0.52, -2.5, 200), (0.2, -2.3, 60)]
)
def test_autodiff_matches_central_differences(x0, b, steps):
    s = doya.sensitivity(x0, b, w=5.0, eps=0.1, steps=steps)
    h = 1e-6  # float64 central differences: truncation O(h²) ~ 1e-12, round-off 1e-16/h ~ 1e-10
    fd_x0 = (reference_map(x0 + h, b, steps=steps) - reference_map(x0 - h, b, steps=steps)) / (2 * h)
    fd_b = (reference_map(x0, b + h, steps=steps) - reference_map(x0, b - h, steps=steps)) / (2 * h)
    # The engine runs in float32: each of the T steps adds a relative error of a few 2^-24 to the product of
    # derivatives, so |rel. error| <~ T · 4 · 2^-24 = 5e-5 at T = 200 (measured up to 2e-5); rtol 2e-4 leaves 4x.
    rtol = 2e-4
    assert s.dxT_dx0 == pytest.approx(fd_x0, rel=rtol)
    assert s.dxT_db == pytest.approx(fd_b, rel=rtol)
    assert s.log10_abs_dxT_dx0 == pytest.approx(math.log10(abs(fd_x0)), abs=rtol)


def reference_flow(x0, b, w=5.0, eps=0.1, steps=80):
    """Independent float64 RK4 for dx/dt = -x + σ(w x + b) with step ε (one sub-step: ε(1 + w/4) = 0.225 <= 0.5)."""

    def f(v):
        return sigmoid(w * v + b) - v

    x = float(x0)
    for _ in range(steps):
        k1 = f(x)
        k2 = f(x + 0.5 * eps * k1)
        k3 = f(x + 0.5 * eps * k2)
        k4 = f(x + eps * k3)
        x += eps / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.mark.parametrize("x0,b", [(0.45, -2.45), (0.8, -2.6)])
def test_continuous_sensitivity_matches_central_differences(x0, b):
    s = doya.sensitivity(x0, b, eps=0.1, steps=80, method="continuous")
    assert s.x_T == pytest.approx(reference_flow(x0, b), abs=1e-5)  # float32 state, as in the map test
    h = 1e-6  # float64 central differences, as above
    fd_x0 = (reference_flow(x0 + h, b) - reference_flow(x0 - h, b)) / (2 * h)
    fd_b = (reference_flow(x0, b + h) - reference_flow(x0, b - h)) / (2 * h)
    # float32 over 80 RK4 steps of 4 stages: the same T·(few)·2^-24 argument as the map, rtol 2e-4.
    assert s.dxT_dx0 == pytest.approx(fd_x0, rel=2e-4)
    assert s.dxT_db == pytest.approx(fd_b, rel=2e-4)


@pytest.mark.parametrize(
    "x0,b,u,w_in",
    [(0.9, -2.5, 0.0, 0.0), (0.1, -2.5, 0.0, 0.0), (0.6, -2.2, 0.0, 0.0), (0.3, -2.8, 0.0, 0.0), (0.5, -2.5, 0.3, 0.5)],
)
def test_dxdb_at_equilibrium_matches_seed_formula(x0, b, u, w_in):
    # T = 2000 steps of ε = 0.1: the stable multipliers are <= 1 - 0.1·(1 - 0.62) = 0.962, so the distance to the
    # attractor has shrunk by 0.962^2000 < 1e-30: x(T) is the equilibrium to float32 precision.
    s = doya.sensitivity(x0, b, w=5.0, eps=0.1, steps=2000, u=u, w_in=w_in)
    fp = doya.fixed_points(b, 5.0, u=u, w_in=w_in)
    k = int(np.argmin(np.abs(fp.x - s.x_T)))
    assert fp.stable[k]
    assert s.x_T == pytest.approx(fp.x[k], abs=1e-6)  # float32 equilibrium of a contraction: a few ulps
    # seed: ∂x(T)/∂b = (1/(x(1-x)) - 5)^{-1}; autodiff sums a geometric series of ratio 0.962 in float32:
    # relative error ~ 2^-24/(1-0.962) ~ 2e-6; rtol 1e-4.
    assert s.dxT_db == pytest.approx(fp.dxdb[k], rel=1e-4)
    assert s.dxT_db_analytic == pytest.approx(fp.dxdb[k], rel=1e-4)
    # while ∂x(T)/∂x(0) has vanished (0.962^2000 underflows float32 to 0)
    assert abs(s.dxT_dx0) < 1e-30
    assert s.log10_abs_dxT_dx0 < -30
    assert s.residual < 1e-6


def test_sensitivity_explodes_on_the_separatrix():
    # x(0) = 1/2 at b = -2.5 sits on the unstable equilibrium: every step multiplies by λ = 1 + ε(w/4 - 1) = 1.025.
    s = doya.sensitivity(0.5, -2.5, steps=200)
    assert s.log10_abs_dxT_dx0 == pytest.approx(200 * math.log10(1.025), rel=1e-4)  # float32 sum of 200 logs


def test_sensitivity_map_agrees_with_pointwise_autodiff():
    bg = np.linspace(-3.0, -2.0, 11)
    xg = np.linspace(0.05, 0.95, 7)
    m = doya.sensitivity_map(bg, xg, steps=100)
    assert m.log10_dxT_dx0.shape == (7, 11)
    for i, j in [(0, 0), (3, 5), (6, 10), (2, 7)]:
        s = doya.sensitivity(xg[i], bg[j], steps=100)
        assert m.x_T[i, j] == pytest.approx(s.x_T, abs=1e-6)
        assert m.log10_dxT_dx0[i, j] == pytest.approx(s.log10_abs_dxT_dx0, abs=1e-4)
        assert m.log10_dxT_db[i, j] == pytest.approx(math.log10(abs(s.dxT_db)), abs=1e-4)  # rel. 2e-4 in value
    # The largest sensitivity of each column is next to the unstable branch (the separatrix).
    j = 5  # b = -2.5: unstable equilibrium 0.5, the grid point x0 = 0.5 is row 3
    assert int(np.argmax(m.log10_dxT_dx0[:, j])) == 3


def test_overflow_is_returned_not_raised():
    # ε = 1, w = 50 at the unstable point: |f'| = 50/4 = 12.5 per step, 12.5^2000 overflows float32.
    b = -25.0  # x = 1/2 is an equilibrium: logit(1/2) - 50/2 = -25
    m = doya.sensitivity_map([b], [0.5], w=50.0, eps=1.0, steps=2000)
    assert np.isposinf(m.log10_dxT_db[0, 0]) or np.isnan(m.log10_dxT_db[0, 0])
    s = doya.sensitivity(0.5, b, w=50.0, eps=1.0, steps=2000)
    assert not math.isfinite(s.dxT_db)


# ---------------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "call",
    [
        lambda: doya.simulate(float("nan"), -2.5),
        lambda: doya.simulate(0.5, "abc"),
        lambda: doya.simulate(0.5, -2.5, eps=0.0),
        lambda: doya.simulate(0.5, -2.5, steps=doya.MAX_STEPS + 1),
        lambda: doya.simulate(0.5, -2.5, steps=10.5),
        lambda: doya.simulate(0.5, -2.5, method="euler"),
        lambda: doya.simulate(0.5, -2.5, steps=10, u=np.ones(5)),
        lambda: doya.fixed_points(float("inf")),
        lambda: doya.fixed_points(-2.5, w=1e6),
        lambda: doya.bifurcation_diagram(5.0, (-2.0, -3.0)),
        lambda: doya.bifurcation_diagram(5.0, (-3.0, -2.0), n=1),
        lambda: doya.sensitivity_map([0.0, float("nan")], [0.5]),
        lambda: doya.sensitivity_map(np.zeros((2, 2)), [0.5]),
        lambda: doya.hysteresis(steps_per_b=0),
        lambda: doya.sensitivity(0.5, -2.5, w=True),
    ],
)
def test_invalid_inputs_raise_config_error(call):
    with pytest.raises(ConfigError):
        call()


# ---------------------------------------------------------------------------------------------------- compiles
def test_no_recompilation_when_controls_move(compile_counter):
    bg, xg = np.linspace(-3, -2, 16), np.linspace(0, 1, 16)
    doya.simulate(0.5, -2.5)
    doya.sensitivity(0.5, -2.5)
    doya.sensitivity_map(bg, xg)
    doya.hysteresis(n=21, steps_per_b=10)
    with compile_counter() as seen:
        for x0, b, w, eps, steps, u, w_in, method in [
            (0.3, -2.4, 5, 1, 10, 0, 0, "discrete"),  # Python ints, as a slider hands them over
            (0.7, -2.6, 6.5, 0.05, 777, 0.2, 1.5, "continuous"),
            (1, -3, 4.0, 0.5, 0, 1, -1, "discrete"),
            (0.5, -2.5, 5.0, 0.1, doya.MAX_STEPS, 0.0, 0.0, "continuous"),
        ]:
            doya.simulate(x0, b, w, eps, steps, u, w_in, method=method)
            doya.simulate(x0, b, w, eps, steps, np.zeros(doya.MAX_STEPS), w_in, method=method)
            doya.sensitivity(x0, b, w, eps, steps, u, w_in, method=method)
            doya.sensitivity_map(bg + b + 2.5, xg, w, eps, steps, u, w_in, method=method)
            doya.hysteresis(
                w, (b - 0.5, b + 0.5), 21, eps=eps, steps_per_b=max(steps // 10, 1), u=u, w_in=w_in, method=method
            )
            doya.bifurcation_diagram(w, (b - 0.5, b + 0.5), 50, eps=eps, u=u, w_in=w_in)
    assert seen == []
