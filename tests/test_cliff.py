"""The loss cliff (Wikipedia article "Vanishing gradient problem", section "Geometric model"), Pascanu et al. 2013's
(w, b) wall (Fig. 6) and gradient-norm clipping (their Algorithm 1, via optax)."""

import functools
import math

import numpy as np
import pytest

from vgp_core import cliff, doya
from vgp_core.errors import ConfigError


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def pascanu_reference(w, b, steps=50):
    """Independent float64 implementation of x_t = w σ(x_{t-1}) + b, x_0 = 0.5, E = (σ(x_T) - 0.7)²."""
    x = 0.5
    for _ in range(steps):
        x = w * sigmoid(x) + b
    return (sigmoid(x) - 0.7) ** 2


# ---------------------------------------------------------------------------------------------------- the cliff
def test_loss_jumps_at_b_minus_2_5():
    # Large T: with ε = 0.1 the escape from x(0) = 0.5 at distance δ ~ |b + 2.5| from the unstable point takes
    # ln(0.3/δ)/ln(1.025) <= 370 steps for δ >= 1e-5, and the remaining >= 1600 steps shrink the distance to the
    # attractor by 0.962^1600 < 1e-26: x(T) is the attractor to float32 precision.
    T = 2000
    deltas = [0.1, 0.03, 0.01, 1e-3, 1e-4]
    above = cliff.loss([-2.5 + d for d in deltas], steps=T)
    below = cliff.loss([-2.5 - d for d in deltas], steps=T)
    for d, l_above, l_below in zip(deltas, above.loss, below.loss):
        # expected values from the exact equilibria (float64): the upper attractor above, the lower one below
        x_up = doya.fixed_points(-2.5 + d, 5.0).x[-1]
        x_lo = doya.fixed_points(-2.5 - d, 5.0).x[0]
        # float32 x(T) is within ~1e-7 of the attractor, so L = (0.855 - x)² is within 2·0.71·1e-7 ≈ 2e-7.
        assert l_above == pytest.approx((0.855 - x_up) ** 2, abs=1e-6)
        assert l_below == pytest.approx((0.855 - x_lo) ** 2, abs=1e-6)
    # L -> 0 as b -> -2.5 from above (monotonically on these points; the limit (0.855 - 0.855206)² = 4e-8 is the
    # Wikipedia's 3-decimal rounding of the attractor) ...
    assert np.all(np.diff(above.loss) < 0)
    assert above.loss[-1] < 1e-6
    # ... and just below it is about 0.50 (Wikipedia: "loss jumps to 0.50"; the limit is (0.855 - 0.144794)² =
    # 0.5044, Wikipedia rounds to two decimals, hence 0.005).
    assert below.loss[-1] == pytest.approx(0.50, abs=0.005)


def test_peak_gradient_grows_geometrically_with_T():
    # On a grid holding b = -2.5 exactly, x_t stays on the unstable point 1/2 (σ(0) = 1/2 exactly in float32), where
    # every step multiplies ∂x/∂b by λ = 1 + ε(w/4 - 1) and adds ε σ'(0) = ε/4:
    #   ∂x(T)/∂b = (ε/4)(λ^T - 1)/(λ - 1) = (λ^T - 1)/(w - 4),   dL/db = -2 (0.855 - 1/2) ∂x(T)/∂b.
    eps, w = 0.1, 5.0
    lam = 1 + eps * (w / 4 - 1)
    b = np.linspace(-3.0, -2.0, 101)
    peaks = []
    for T in (200, 300, 400, 500):
        c = cliff.loss(b, steps=T, eps=eps)
        k = int(np.argmax(np.abs(c.grad)))
        assert b[k] == -2.5  # the peak sits on the cliff
        expected = 2 * (0.855 - 0.5) * (lam**T - 1) / (w - 4)
        # float32: T multiplications by λ each rounded (relative 2^-24): relative error <= T·2^-24 = 3e-5.
        assert abs(c.grad[k]) == pytest.approx(expected, rel=1e-4)
        peaks.append(abs(c.grad[k]))
    # geometric growth: equal ratios λ^100 ≈ 11.8 per 100 steps (the -1 changes them by < 1e-2 relative)
    ratios = np.array(peaks[1:]) / np.array(peaks[:-1])
    np.testing.assert_allclose(ratios, lam**100, rtol=1e-2)


def test_gradient_matches_central_differences():
    # away from the cliff dL/db is smooth; float64 reference map, central differences with h = 1e-6
    def ref_loss(b, steps=150, eps=0.1):
        x = 0.5
        for _ in range(steps):
            x = (1 - eps) * x + eps * sigmoid(5 * x + b)
        return (0.855 - x) ** 2

    bs = [-2.9, -2.6, -2.4, -2.1]
    c = cliff.loss(bs, steps=150)
    for b, g, l in zip(bs, c.grad, c.loss):
        assert l == pytest.approx(ref_loss(b), abs=1e-5)
        fd = (ref_loss(b + 1e-6) - ref_loss(b - 1e-6)) / 2e-6
        # float32 over 150 steps: relative error <~ 150·4·2^-24 = 4e-5 (see test_doya); 2e-4 relative, plus 1e-7
        # absolute for gradients near zero (loss values ~1e-2 carry float32 error ~1e-9).
        assert g == pytest.approx(fd, rel=2e-4, abs=1e-7)


def test_pascanu_surface_and_gradient():
    ws, bs = np.array([-2.0, 3.0, 6.0, 9.0]), np.array([-6.0, -3.0, 0.0])
    s = cliff.pascanu_loss(ws, bs, steps=50)
    assert s.loss.shape == (3, 4)
    h = 1e-6
    for i, b in enumerate(bs):
        for j, w in enumerate(ws):
            assert s.loss[i, j] == pytest.approx(pascanu_reference(w, b), abs=1e-6)  # float32 loss ~ 0.25·2^-24·50
            gw = (pascanu_reference(w + h, b) - pascanu_reference(w - h, b)) / (2 * h)
            gb = (pascanu_reference(w, b + h) - pascanu_reference(w, b - h)) / (2 * h)
            # float32 forward mode over 50 steps (rtol 2e-4, as above); 1e-7 absolute for saturated regions: float32
            # evaluates σ' = σ(1-σ) with an absolute error ~2^-24 = 6e-8 when σ -> 1 (at (9, 0) σ' ~ 1e-4, so the
            # relative error there is ~5e-4, measured 2.5e-4), times |∂E/∂σ| = 2|σ - 0.7| < 1.
            assert s.grad_w[i, j] == pytest.approx(gw, rel=2e-4, abs=1e-7)
            assert s.grad_b[i, j] == pytest.approx(gb, rel=2e-4, abs=1e-7)


@functools.cache
def pascanu_wall(w=8.0):
    """Bracket (lo, hi) of adjacent float32 values of b across the wall of E(w, ·), found by bisection on the jump."""
    lo, hi = -4.48, -4.47  # neighbours of the largest jump of a 0.01-spaced scan (test_pascanu_has_a_wall)
    loss_lo = cliff.pascanu_loss([w], [lo]).loss[0, 0]
    for _ in range(40):
        m = float(np.float32(0.5 * (lo + hi)))
        if m in (lo, hi):
            break
        if abs(cliff.pascanu_loss([w], [m]).loss[0, 0] - loss_lo) < 0.1:
            lo = m
        else:
            hi = m
    return lo, hi


def test_pascanu_has_a_wall():
    # Fig. 6 of Pascanu et al.: a narrow region where the loss changes abruptly and the gradient explodes. A scan
    # in b at w = 8 with spacing 0.01 finds a jump of the loss between two neighbours ...
    b = np.linspace(-6.0, -2.0, 401)
    s = cliff.pascanu_loss([8.0], b, steps=50)
    jumps = np.abs(np.diff(s.loss[:, 0]))
    k = int(np.argmax(jumps))
    assert jumps[k] > 0.3
    assert b[k] == pytest.approx(-4.48) and b[k + 1] == pytest.approx(-4.47)
    # ... while the gradient on the grid stays small: the wall is far narrower than the grid (the unstable point
    # multiplies perturbations by |w σ'| > 1 at each of the 50 steps) ...
    assert np.max(np.abs(s.grad_b)) < 1.0
    # ... and at adjacent float32 values of b across the wall the gradient has exploded.
    lo, hi = pascanu_wall()
    assert np.float32(hi) == np.nextafter(np.float32(lo), np.float32(0.0))
    g = [cliff.pascanu_loss([8.0], [v]).grad_b[0, 0] for v in (lo, hi)]
    assert max(abs(v) for v in g) > 1e6


# ---------------------------------------------------------------------------------------------------- descent
def _ulp(x):
    return float(np.spacing(np.float32(abs(x) + 1.0)))


# Starts below the cliff with T = 200: the gradient pushes b up towards -2.5, where it grows to ~100 (see
# test_peak_gradient_grows_geometrically_with_T), so a plain step jumps over the wall to b ≈ -2.4.
@pytest.mark.parametrize("start,lr,clip", [(-2.56, 0.01, 1.0), (-2.53, 0.05, 1.0), (-2.52, 0.02, 0.5)])
def test_clipped_step_is_bounded_on_the_cliff(start, lr, clip):
    d = cliff.descend(start, lr, 40, clip_norm=clip, loss_steps=200)
    assert d.param_names == ("b",)
    assert d.clipped is not None and d.clipped.params.shape == (41, 1)
    # Algorithm 1: a clipped step is lr·threshold·g/||g||, so |Δb| <= lr·threshold; the slack is float32 round-off
    # of b (~2.5) and of the step: 2 ulps of |b| + 1.
    bound = lr * clip + 2 * _ulp(3.0)
    assert np.all(d.clipped.update_norm <= bound)
    assert np.all(d.clipped.update_norm[~d.clipped.clipped] <= bound)
    # The test bites: near the wall the plain gradient is large, so plain steps exceed the bound somewhere, and
    # some clipped steps were rescaled.
    assert np.nanmax(d.plain.update_norm) > bound or not np.all(np.isfinite(d.plain.params))
    assert d.clipped.clipped.any()
    # Plain path: clip threshold inf, never rescaled.
    assert d.plain.clip_norm == math.inf and not d.plain.clipped.any()


def test_clipped_step_is_bounded_in_2d():
    # start on the far side of Pascanu's wall at w = 8, where the gradient is > 1e6 (test_pascanu_has_a_wall)
    _, hi = pascanu_wall()
    d = cliff.descend((8.0, hi), 0.5, 30, clip_norm=0.5, problem="pascanu")
    assert d.param_names == ("w", "b") and d.plain.params.shape == (31, 2)
    bound = 0.5 * 0.5 + 2 * _ulp(9.0)  # Euclidean norm of the (w, b) step; slack: float32 round-off of w ~ 8
    assert np.all(d.clipped.update_norm <= bound)
    assert d.clipped.clipped[0]
    assert d.plain.update_norm[0] > 1e5  # the plain step is thrown far away by the exploded gradient


def test_descent_path_is_gradient_descent():
    # each plain step is p - lr·g with g the gradient that loss() reports at that point
    d = cliff.descend(-2.2, 0.1, 5, loss_steps=150)
    assert d.clipped is None
    c = cliff.loss(d.plain.params[:, 0], steps=150)
    np.testing.assert_allclose(d.plain.loss, c.loss, rtol=1e-6, atol=1e-9)  # same float32 program
    np.testing.assert_allclose(d.plain.grad[:, 0], c.grad, rtol=1e-6, atol=1e-9)
    expected = d.plain.params[:-1, 0] - 0.1 * d.plain.grad[:-1, 0]
    np.testing.assert_allclose(d.plain.params[1:, 0], expected, rtol=0, atol=2 * _ulp(2.5))


def test_exploding_values_are_returned():
    # ε = 1 at b = -2.5: x stays at 1/2 and ∂x/∂b grows like λ^T with λ = 1 + ε(w/4 - 1) = 1.25; 1.25^2000 ~ 1e193
    # overflows float32. The engine must return inf/NaN, not raise.
    c = cliff.loss([-2.5], steps=2000, eps=1.0)
    assert not np.isfinite(c.grad[0])
    d = cliff.descend(-2.5, 0.1, 3, loss_steps=2000, eps=1.0)
    assert not np.all(np.isfinite(d.plain.params))
    s = cliff.pascanu_loss([50.0], [-25.0], steps=2000)
    assert s.loss.shape == (1, 1)


# ---------------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "call",
    [
        lambda: cliff.loss(float("nan")),
        lambda: cliff.loss(-2.5, steps=-1),
        lambda: cliff.loss(-2.5, steps=doya.MAX_STEPS + 1),
        lambda: cliff.loss(-2.5, eps=2.0),
        lambda: cliff.pascanu_loss("w", -1.0),
        lambda: cliff.pascanu_loss(5.0, -1.0, target=1.5),
        lambda: cliff.descend(-2.5, 0.0, 10),
        lambda: cliff.descend(-2.5, 0.1, 10, clip_norm=-1.0),
        lambda: cliff.descend(-2.5, 0.1, 10, clip_norm=float("nan")),
        lambda: cliff.descend(-2.5, 0.1, cliff.MAX_DESCENT_STEPS + 1),
        lambda: cliff.descend((1.0, 2.0), 0.1, 10),
        lambda: cliff.descend(-2.5, 0.1, 10, problem="pascanu"),
        lambda: cliff.descend(-2.5, 0.1, 10, problem="adam"),
        lambda: cliff.descend("x", 0.1, 10),
    ],
)
def test_invalid_inputs_raise_config_error(call):
    with pytest.raises(ConfigError):
        call()


# ---------------------------------------------------------------------------------------------------- compiles
def test_no_recompilation_when_controls_move(compile_counter):
    bg = np.linspace(-3.0, -2.0, 64)
    wg, bg2 = np.linspace(-2.0, 12.0, 16), np.linspace(-8.0, 2.0, 16)
    cliff.loss(bg)
    cliff.pascanu_loss(wg, bg2)
    cliff.descend(-2.4, 0.1, 20, clip_norm=1.0)
    cliff.descend((8.0, -3.0), 0.1, 20, clip_norm=1.0, problem="pascanu")
    with compile_counter() as seen:
        for b, steps, eps, lr, clip, n, w in [
            (-2, 10, 1, 1, None, 5, 5),  # Python ints, as sliders hand them over; no clipping
            (-2.45, 777, 0.05, 0.003, 0.5, 100, 6.0),
            (-2.6, 0, 0.5, 0.2, 10, 0, 4.5),
            (-2.5, doya.MAX_STEPS, 0.1, 0.1, 1e-3, cliff.MAX_DESCENT_STEPS, 5.0),
        ]:
            cliff.loss(bg + (b + 2.5), steps=steps, eps=eps, w=w)
            cliff.pascanu_loss(wg + w - 5, bg2 + b + 2.5, steps=min(steps, 60))
            cliff.descend(b, lr, min(n, 50), clip_norm=clip, loss_steps=min(steps, 300), eps=eps)
            cliff.descend((w + 3, b), lr, n, clip_norm=clip, problem="pascanu", loss_steps=min(steps, 60))
    assert seen == []
