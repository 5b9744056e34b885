"""Page "Edge of chaos": mean-field signal propagation, the order-to-chaos line, and the input–output Jacobian's
singular values at initialisation with their free-probability prediction.

One module of ~590 lines, on purpose: the page's model, its theory and measured views and the redraw table
that says which views each control moves belong together and are read top to bottom.

Theory views (length and correlation maps, fixed points, the text) are computed on every move in milliseconds; the
measured views (a random network from ``vgp_core.mlp``), the phase diagram, the depth scales and the Jacobian's
spectrum go on the scheduler's views lane, the spectrum once the controls rest. All numbers come from
``vgp_core.signal_propagation`` and ``vgp_core.jacobian_spectrum``.
"""

from __future__ import annotations

import math

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, LinearColorMapper, Span
from bokeh.palettes import RdBu11
from bokeh.plotting import figure

from vgp_core import bounds
from vgp_core import jacobian_spectrum as js
from vgp_core import signal_propagation as sp

from ..components.config_controls import control
from ..components.explanation import explanation_panel
from ..components.page import Page, document_hold
from ..components.page_layout import page_layout
from ..components.presets import preset_bar
from ..components.results_cache import RESULTS
from ..components.training import VIEWS, BackgroundRun
from .edge_of_chaos_phase import PhaseDiagramView

#: the bounds of PropagationConfig (vgp_core.bounds): defaults, choices and the ranges the controls offer
PROPAGATION_BOUNDS = bounds.of(sp.PropagationConfig)
#: widths offered (the measured network's cost grows as N^2; 128 answers a move in a few ms)
WIDTHS = [32, 64, 128, 256]
SIGMA_W2_RANGE = PROPAGATION_BOUNDS["sigma_w2"].offered
SIGMA_B2_RANGE = PROPAGATION_BOUNDS["sigma_b2"].offered
#: the grids of the phase diagram and of the depth-scale curves (fixed shapes: one compiled program each)
PHASE_SW2 = np.linspace(*SIGMA_W2_RANGE, 48)
PHASE_SB2 = np.linspace(*SIGMA_B2_RANGE, 24)
SCALE_SW2 = np.linspace(*SIGMA_W2_RANGE, 64)
#: the Jacobian's full spectrum (SVDs) is measured once the controls rest this long
SPECTRUM_DELAY_MS = 300
#: cobweb steps drawn on the two maps
COBWEB_STEPS = 30
HISTOGRAM_BINS = 40

CONTROLS = ["activation", "weights", "sigma_w2", "sigma_b2", "depth", "width"]
#: the parameters mirrored in the URL (every control)
URL_PARAMS = CONTROLS

PRESETS = {
    "linear + Gaussian (Fuss–Catalan spread)": dict(
        activation="linear", weights="gaussian", sigma_w2=1.0, sigma_b2=0.0, depth=64
    ),
    "linear + orthogonal (isometry)": dict(
        activation="linear", weights="orthogonal", sigma_w2=1.0, sigma_b2=0.0, depth=64
    ),
    # sigma_b^2 = 0, sigma_w^2 just above 1: chi_1 within 1e-3 of 1 and q* ~ 0.03, the small q* isometry needs
    "tanh + orthogonal at criticality (dynamical isometry)": dict(
        activation="tanh", weights="orthogonal", sigma_w2=1.04, sigma_b2=0.0, depth=200
    ),
    "ReLU + orthogonal (no isometry)": dict(
        activation="relu", weights="orthogonal", sigma_w2=2.0, sigma_b2=0.0, depth=200
    ),
}

EXPLANATION = (
    (
        "md",
        """### Signal propagation (Poole et al. 2016; Schoenholz et al. 2017, "Deep information propagation")
In a wide random network h^l = W^l φ(h^{l−1}) + b^l, W_ij ~ N(0, σ_w²/N), b_i ~ N(0, σ_b²), the length of a
pre-activation follows the **length map** (Poole et al., Eq. 3)""",
    ),
    ("tex", r"q^{l} = \sigma_w^2 \int\!\mathcal{D}z\, \phi\big(\sqrt{q^{l-1}}\,z\big)^2 + \sigma_b^2 \;\to\; q^*,"),
    (
        "md",
        """and the correlation of two inputs the **correlation map** (Eq. 5), whose slope at c = 1 is""",
    ),
    ("tex", r"\chi_1 = \sigma_w^2 \int\!\mathcal{D}z\, \phi'\big(\sqrt{q^*}\,z\big)^2 ."),
    (
        "md",
        """χ₁ < 1: every pair of inputs becomes parallel (ordered phase, gradients vanish); χ₁ > 1: they
decorrelate to c* < 1 (chaotic phase, gradients explode). Correlations approach c* over the depth scale
ξ_c = −1/ln χ_c (Schoenholz et al., Eq. 9), which diverges on the **order-to-chaos line χ₁ = 1**; Schoenholz et al.
(Sec. 5, Fig. 5) find that networks train only when their depth is below about 6 ξ_c.

### Jacobian spectra (Saxe et al. 2014; Pennington, Schoenholz & Ganguli 2017 and 2018)
The input–output Jacobian J = D^L W^L ⋯ D^1 W^1 has mean squared singular value χ₁^L (Pennington et al. 2017,
Eq. 5), but its *spread* depends on the weights: free probability multiplies S-transforms,""",
    ),
    ("tex", r"S_{JJ^\top} = S_{D^2}^{\,L}\, S_{WW^\top}^{\,L},"),
    (
        "md",
        """with S_{WW^T} = σ_w⁻² for orthogonal weights and σ_w⁻²/(1+z) for Gaussian ones (Sec. 3 of both papers).
Linear + Gaussian spreads with depth (Fuss–Catalan law: second moment L + 1); linear + orthogonal keeps every
singular value equal; tanh + orthogonal at χ₁ = 1 with small q* keeps the spectrum near 1 over hundreds of layers
(**dynamical isometry**); ReLU cannot: half its φ′ are 0 and the rest of the spectrum spreads with depth.
The dashed curve is that prediction, solved numerically for the Stieltjes transform; singular values below the
grey line are float32 rounding noise of the product, not measurements.""",
    ),
)


class EdgeOfChaosModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description."""

    activation = control(PROPAGATION_BOUNDS["activation"], doc="Activation function phi.")
    weights = control(PROPAGATION_BOUNDS["weights"], doc="Weight distribution.")
    sigma_w2 = control(PROPAGATION_BOUNDS["sigma_w2"], step=0.01, doc="Weight variance sigma_w^2 (times 1/N).")
    sigma_b2 = control(PROPAGATION_BOUNDS["sigma_b2"], step=0.005, doc="Bias variance sigma_b^2.")
    depth = control(PROPAGATION_BOUNDS["depth"], doc="Layers L of the measured network.")
    width = param.Selector(default=128, objects=WIDTHS, doc="Units N per layer of the measured network.")

    def config(self) -> sp.PropagationConfig:
        return sp.PropagationConfig(
            activation=self.activation,
            sigma_w2=float(self.sigma_w2),
            sigma_b2=float(self.sigma_b2),
            depth=int(self.depth),
            width=int(self.width),
            weights=self.weights,
        )


def _finite(a) -> tuple[np.ndarray, int]:
    """``a`` with non-finite entries as NaN (Bokeh leaves a gap) and how many there were."""
    a = np.asarray(a, np.float64)
    bad = ~np.isfinite(a)
    return np.where(bad, np.nan, a), int(bad.sum())


def _phase(activation: str) -> sp.PhaseDiagram:
    return RESULTS.get_or_compute(("eoc.phase", activation), lambda: sp.phase_diagram(activation, PHASE_SW2, PHASE_SB2))


def _scales(activation: str, sb2: float) -> dict:
    return RESULTS.get_or_compute(
        ("eoc.scales", activation, sb2), lambda: sp.fixed_points_curve(activation, SCALE_SW2, sb2)
    )


def _measured(config: sp.PropagationConfig):
    return RESULTS.get_or_compute(
        ("eoc.measured", config), lambda: (sp.measure(config), js.measure(config, full=False))
    )


def histogram_range(spectrum: js.JacobianSpectrum) -> tuple[np.ndarray, float, float] | None:
    """(the singular values above the float32 floor, histogram low, high) in log10, or None if none is."""
    log_sv = spectrum.log10_sv
    resolved = log_sv[np.isfinite(log_sv) & (log_sv >= spectrum.log10_floor[-1])]
    if not resolved.size:
        return None
    lo, hi = float(resolved.min()), float(resolved.max())
    if hi - lo < 1e-3:  # isometry: every singular value equal; a range whose middle bin is centred on them
        mid, half_bin = 0.5 * (lo + hi), 0.05 / HISTOGRAM_BINS
        lo, hi = mid - 0.05 - half_bin, mid + 0.05 - half_bin
    return resolved, lo, hi


def spectrum_and_prediction(config: sp.PropagationConfig):
    """The measured spectrum and the predicted density on a grid spanning the histogram and the float32 floor."""
    spectrum = js.measure(config, full=True)
    span = histogram_range(spectrum)
    lo, hi = (span[1], span[2]) if span else (-1.0, 1.0)
    grid = np.linspace(min(lo, float(spectrum.log10_floor[-1])) - 0.5, hi + 0.5, 200)
    return spectrum, js.predicted_density(config, grid)


def _spectrum(config: sp.PropagationConfig):
    return RESULTS.get_or_compute(("eoc.spectrum", config), lambda: spectrum_and_prediction(config))


def _figure(title: str, x: str, y: str, **kw):
    return figure(
        title=title,
        x_axis_label=x,
        y_axis_label=y,
        height=320,
        width=460,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
        **kw,
    )


class EdgeOfChaosPage(Page):
    """The views of ``EdgeOfChaosModel``: created once per session, then updated in place."""

    Model = EdgeOfChaosModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {"_on_controls": CONTROLS}
    title = "Edge of chaos"

    def setup(self):
        self._build_figures()
        self.trainability = PhaseDiagramView(self)  # the trainability phase diagram (edge_of_chaos_phase.py)
        self._counts: dict[str, int] = {}
        self._phase_run = self.background_run(self._draw_phase, priority=VIEWS)
        self._measured_run = self.background_run(self._draw_measured, priority=VIEWS)
        self._spectrum_run = self.background_run(self._draw_spectrum, priority=VIEWS)
        self._refresh(set(CONTROLS))

    # ------------------------------------------------------------------------------------------------ figures
    def _build_figures(self):
        self.theory_text = pn.pane.Markdown("", margin=(0, 5))
        self.spectrum_text = pn.pane.Markdown("", margin=(0, 5))

        self.q_map = ColumnDataSource(dict(x=[], y=[]))
        self.q_cobweb = ColumnDataSource(dict(x=[], y=[]))
        self.q_fixed = ColumnDataSource(dict(x=[], y=[]))
        f = _figure("Length map q → q′ and its fixed point q*", "q^(l−1)", "q^l")
        f.line("x", "y", source=self.q_map, line_width=2, legend_label="length map")
        f.line("x", "x", source=self.q_map, color="grey", line_dash="dashed", legend_label="q′ = q")
        f.line("x", "y", source=self.q_cobweb, color="#ff7f0e", legend_label="iterates from q = 1")
        f.scatter("x", "y", source=self.q_fixed, size=10, color="#d62728", legend_label="q*")
        f.legend.location = "top_left"
        self.length_figure = f

        self.c_map = ColumnDataSource(dict(x=[], y=[]))
        self.c_cobweb = ColumnDataSource(dict(x=[], y=[]))
        self.c_fixed = ColumnDataSource(dict(x=[], y=[]))
        f = _figure("Correlation map c → c′ at q*", "c^(l−1)", "c^l")
        f.line("x", "y", source=self.c_map, line_width=2, legend_label="correlation map")
        f.line("x", "x", source=self.c_map, color="grey", line_dash="dashed", legend_label="c′ = c")
        f.line("x", "y", source=self.c_cobweb, color="#ff7f0e", legend_label="iterates from c = 0")
        f.scatter("x", "y", source=self.c_fixed, size=10, color="#d62728", legend_label="c*")
        f.legend.location = "top_left"
        self.correlation_figure = f

        self.phase_image = ColumnDataSource(dict(image=[np.zeros((1, 1), np.float32)]))
        self.phase_line = ColumnDataSource(dict(x=[], y=[]))
        self.phase_point = ColumnDataSource(dict(x=[], y=[]))
        f = _figure("Phase diagram: log10 χ₁ over (σ_w², σ_b²)", "σ_w²", "σ_b²")
        mapper = LinearColorMapper(palette=list(reversed(RdBu11)), low=-1.0, high=1.0, nan_color="magenta")
        dw, db = PHASE_SW2[1] - PHASE_SW2[0], PHASE_SB2[1] - PHASE_SB2[0]
        f.image(
            image="image",
            source=self.phase_image,
            x=PHASE_SW2[0] - dw / 2,
            y=PHASE_SB2[0] - db / 2,
            dw=PHASE_SW2[-1] - PHASE_SW2[0] + dw,
            dh=PHASE_SB2[-1] - PHASE_SB2[0] + db,
            color_mapper=mapper,
        )
        f.line("x", "y", source=self.phase_line, color="black", line_width=3, legend_label="χ₁ = 1 (order | chaos)")
        f.scatter("x", "y", source=self.phase_point, size=12, color="white", line_color="black", legend_label="now")
        f.legend.location = "top_left"
        self.phase_figure = f

        self.scales = ColumnDataSource(dict(x=[], xi_q=[], xi_c=[], six=[]))
        f = _figure("Depth scales over σ_w² (at the chosen σ_b²)", "σ_w²", "layers", y_axis_type="log")
        f.line("x", "xi_c", source=self.scales, line_width=2, legend_label="ξ_c (correlations)")
        f.line(
            "x",
            "xi_q",
            source=self.scales,
            color="#2ca02c",
            line_width=2,
            line_dash="dashed",
            legend_label="ξ_q (lengths)",
        )
        f.line("x", "six", source=self.scales, color="#9467bd", line_dash="dotted", legend_label="6 ξ_c: trainable")
        self.sw2_marker = Span(location=1.5, dimension="height", line_color="black", line_width=2)
        # the σ_w² slider moves the marker in the browser (jslink in ``controls``): that write stays there (the
        # server sets the location itself on every redraw), so a move sends no extra message back
        self.sw2_marker.syncable = False
        self.critical_marker = Span(location=1.0, dimension="height", line_color="red", line_dash="dashed")
        f.add_layout(self.sw2_marker)
        f.add_layout(self.critical_marker)
        f.legend.location = "top_right"
        self.scales_figure = f

        self.overlay_theory = ColumnDataSource(dict(layer=[], q=[], c=[]))
        self.overlay_measured = ColumnDataSource(dict(layer=[], q=[], c=[]))
        f = _figure("Measured (points) vs mean field (lines), layer by layer", "layer l", "value")
        f.line("layer", "q", source=self.overlay_theory, line_width=2, legend_label="q^l theory")
        f.scatter("layer", "q", source=self.overlay_measured, size=4, legend_label="q^l measured")
        f.line(
            "layer",
            "c",
            source=self.overlay_theory,
            color="#ff7f0e",
            line_width=2,
            line_dash="dashed",
            legend_label="c^l theory",
        )
        f.scatter(
            "layer",
            "c",
            source=self.overlay_measured,
            size=4,
            color="#ff7f0e",
            marker="triangle",
            legend_label="c^l measured",
        )
        f.legend.location = "top_right"
        self.overlay_figure = f

        self.hist = ColumnDataSource(dict(left=[], right=[], top=[]))
        self.predicted = ColumnDataSource(dict(x=[], y=[]))
        f = _figure("Singular values of J = ∂x^L/∂x^0 (histogram) and free probability", "log10 s", "density")
        f.quad(left="left", right="right", top="top", bottom=0, source=self.hist, alpha=0.5, legend_label="measured")
        f.line(
            "x", "y", source=self.predicted, color="#d62728", line_dash="dashed", line_width=2, legend_label="predicted"
        )
        self.floor_marker = Span(location=-10, dimension="height", line_color="grey", line_width=2)
        f.add_layout(self.floor_marker)
        f.legend.location = "top_left"
        self.histogram_figure = f

        self.m1 = ColumnDataSource(dict(layer=[], measured=[], theory=[]))
        f = _figure("Mean squared singular value of ∂x^l/∂x^0", "layer l", "log10 value")
        f.line("layer", "theory", source=self.m1, color="#d62728", line_dash="dashed", legend_label="log10 χ₁^l")
        f.line("layer", "measured", source=self.m1, line_width=2, legend_label="measured")
        f.legend.location = "top_left"
        self.m1_figure = f

        self.extremes = ColumnDataSource(dict(depth=[], max_sv=[], condition=[]))
        f = _figure("Largest singular value and condition number vs depth", "depth", "log10 value")
        f.line("depth", "max_sv", source=self.extremes, line_width=2, legend_label="log10 s_max")
        f.scatter("depth", "max_sv", source=self.extremes, size=6)
        f.line(
            "depth",
            "condition",
            source=self.extremes,
            color="#9467bd",
            line_width=2,
            line_dash="dashed",
            legend_label="log10 κ",
        )
        f.scatter("depth", "condition", source=self.extremes, size=6, color="#9467bd")
        f.legend.location = "top_left"
        self.extremes_figure = f

    # ------------------------------------------------------------------------------------------------ updates
    def _on_controls(self, *events):
        self._refresh({e.name for e in events})

    def _refresh(self, changed: set[str]):
        def work():
            config = self.model.config()
            with document_hold(self._doc):
                self._draw_theory(config)
            self.notices.clear("setting")
            self._spectrum_run.cancel()  # a spectrum of the previous settings is stale
            if changed & {"activation", "sigma_b2"}:
                act, sb2 = config.activation, config.sigma_b2
                self._in_background(self._phase_run, lambda: (_phase(act), _scales(act, sb2)), self._draw_phase)
            self._in_background(self._measured_run, lambda: _measured(config), self._draw_measured)
            self._deferred(
                lambda: self._in_background(self._spectrum_run, lambda: _spectrum(config), self._draw_spectrum)
            )

        self._guard(work)

    def _in_background(self, run: BackgroundRun, compute, draw) -> None:
        """``draw(compute())`` on the views lane when served; without deferring at once; else in ``self.pending``."""
        if self._doc is not None and self._defer:
            run.start(lambda: iter([compute()]))
        elif self._defer:
            self.pending.append(lambda: self._guard(lambda: draw(compute())))
        else:
            self._guard(lambda: draw(compute()))

    def _deferred(self, fn) -> None:
        """``fn`` once the controls rest for SPECTRUM_DELAY_MS (served), at once otherwise."""
        if self._doc is None or not self._defer:
            fn()
            return
        self.call_later("spectrum", fn, SPECTRUM_DELAY_MS)

    def _draw_theory(self, config: sp.PropagationConfig):
        act, sw2, sb2 = config.activation, config.sigma_w2, config.sigma_b2
        fp = sp.fixed_points(act, sw2, sb2)
        q_star = fp.q_star
        q_top = 2.0 * q_star + 1.0 if math.isfinite(q_star) else 4.0
        qs = np.linspace(0.0, q_top, 81)
        self.q_map.data = dict(x=qs, y=sp.length_map(act, qs, sw2, sb2))
        iterates = sp.length_iterates(act, 1.0, sw2, sb2, COBWEB_STEPS)
        self.q_cobweb.data = _cobweb(*_finite(iterates)[:1])
        self.q_fixed.data = dict(x=[q_star], y=[q_star]) if math.isfinite(q_star) else dict(x=[], y=[])
        self.sw2_marker.location = sw2
        self.phase_point.data = dict(x=[sw2], y=[sb2])
        if math.isfinite(q_star):
            cs = sp.C_GRID
            self.c_map.data = dict(x=cs, y=sp.correlation_map(act, cs, sw2, sb2))
            self.c_cobweb.data = _cobweb(sp.correlation_iterates(act, 0.0, sw2, sb2, COBWEB_STEPS))
            self.c_fixed.data = dict(x=[fp.c_star], y=[fp.c_star])
        else:
            for src in (self.c_map, self.c_cobweb, self.c_fixed):
                src.data = dict(x=[], y=[])
        crit = sp.critical_sigma_w2(act, sb2)
        self.critical_marker.visible = math.isfinite(crit)
        if math.isfinite(crit):
            self.critical_marker.location = crit
        phase = (
            "ordered (vanishing)"
            if fp.chi_1 < 1 - 1e-3
            else "chaotic (exploding)"
            if fp.chi_1 > 1 + 1e-3
            else "the edge of chaos"
        )
        self.theory_text.object = (
            f"**Mean field:** q* = {_fmt(q_star)}, c* = {_fmt(fp.c_star)}, χ₁ = {_fmt(fp.chi_1)} → **{phase}**; "
            f"ξ_q = {_fmt(fp.xi_q)}, ξ_c = {_fmt(fp.xi_c)} layers (trainable to about 6 ξ_c = {_fmt(6 * fp.xi_c)}); "
            f"critical σ_w² at this σ_b²: {_fmt(crit)}; χ₁^L over L = {config.depth}: {_fmt(fp.chi_1**config.depth)}."
        )

    def _draw_phase(self, result):
        phase, scales = result
        with np.errstate(divide="ignore", invalid="ignore"):
            image, bad = _finite(np.log10(phase.chi_1))
        self._counts["phase"] = bad
        line, _ = _finite(phase.critical_sigma_w2)
        xi_q, _ = _finite(scales["xi_q"])
        xi_c, _ = _finite(scales["xi_c"])
        with document_hold(self._doc):
            self.phase_image.data = dict(image=[np.clip(image, -1.0, 1.0).astype(np.float32)])
            self.phase_line.data = dict(x=line, y=phase.sigma_b2)
            self.scales.data = dict(x=SCALE_SW2, xi_q=xi_q, xi_c=xi_c, six=6.0 * xi_c)
            self._draw_overflow_notice()

    def _draw_measured(self, result):
        measured, jac = result
        config = self.model.config()
        if jac.log10_mean_sq.shape[0] != config.depth:
            return  # a result for another depth (a newer one follows)
        layers = np.arange(config.depth + 1)
        fp = sp.fixed_points(config.activation, config.sigma_w2, config.sigma_b2)
        q_theory = sp.length_iterates(config.activation, 1.0, config.sigma_w2, config.sigma_b2, config.depth)
        if math.isfinite(fp.q_star):
            c_theory = sp.correlation_iterates(config.activation, 0.5, config.sigma_w2, config.sigma_b2, config.depth)
        else:
            c_theory = np.full(config.depth + 1, np.nan)
        q_m, bad_q = _finite(measured.q)
        c_m, bad_c = _finite(measured.c)
        m1, bad_m = _finite(jac.log10_mean_sq)
        self._counts["measured"] = bad_q + bad_c + bad_m
        with np.errstate(divide="ignore", over="ignore"):
            theory_m1 = np.arange(1, config.depth + 1) * math.log10(fp.chi_1) if fp.chi_1 > 0 else None
        with document_hold(self._doc):
            self.overlay_theory.data = dict(layer=layers, q=_finite(q_theory)[0], c=c_theory)
            self.overlay_measured.data = dict(layer=layers, q=q_m, c=c_m)
            self.m1.data = dict(
                layer=layers[1:], measured=m1, theory=theory_m1 if theory_m1 is not None else np.full(m1.shape, np.nan)
            )
            self._draw_overflow_notice()

    def _draw_spectrum(self, result):
        spectrum, predicted = result
        n = spectrum.log10_sv.shape[0]
        floor = float(spectrum.log10_floor[-1])
        span = histogram_range(spectrum)
        resolved = span[0] if span else np.zeros(0)
        with document_hold(self._doc):
            if span:
                counts, edges = np.histogram(resolved, bins=HISTOGRAM_BINS, range=span[1:])
                top = counts / (n * (edges[1] - edges[0]))  # density of log10 s over all n values
                self.hist.data = dict(left=edges[:-1], right=edges[1:], top=top)
            else:
                self.hist.data = dict(left=[], right=[], top=[])
            self.floor_marker.location = floor
            if predicted.applies:
                self.predicted.data = dict(x=predicted.log10_sv, y=predicted.density)
            else:
                self.predicted.data = dict(x=[], y=[])
            max_sv, bad_max = _finite(spectrum.log10_max_sv)
            cond, bad_cond = _finite(spectrum.log10_condition)
            self._counts["spectrum"] = bad_max
            self.extremes.data = dict(depth=spectrum.checkpoint_depths, max_sv=max_sv, condition=cond)
            unresolved = n - resolved.size
            parts = [
                f"**Spectrum at depth {spectrum.checkpoint_depths[-1]}:** {resolved.size} of {n} singular values "
                f"above the float32 floor (grey line, 10^{floor:.2f})"
            ]
            if unresolved:
                parts.append(f"{unresolved} below it (0 or rounding noise; condition number shown as a gap)")
            if bad_cond and not unresolved:
                parts.append(f"{bad_cond} condition numbers not finite")
            parts.append(
                "predicted density: dashed"
                if predicted.applies
                else f"no free-probability prediction: {predicted.reason}"
            )
            self.spectrum_text.object = "; ".join(parts) + "."
            self._draw_overflow_notice()

    def _draw_overflow_notice(self):
        total = sum(self._counts.values())
        self.overflow.set("counts", f"⚠ {total} plotted values are not finite (inf/NaN; left as gaps)" if total else "")

    # ------------------------------------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        m = self.model
        w = pn.widgets
        sw2_slider = w.FloatSlider.from_param(m.param.sigma_w2, label="σ_w² (weight variance × N)")
        sw2_slider.jslink(self.sw2_marker, value="location")  # the marker follows the drag before the server
        return pn.Column(
            "### Network",
            w.Select.from_param(m.param.activation, label="activation"),
            w.Select.from_param(m.param.weights, label="weights"),
            sw2_slider,
            w.FloatSlider.from_param(m.param.sigma_b2, label="σ_b² (bias variance)"),
            w.IntSlider.from_param(m.param.depth, label="depth L"),
            w.DiscreteSlider.from_param(m.param.width, label="width N"),
            width=320,
        )

    def panel(self) -> pn.viewable.Viewable:
        return page_layout(
            self.slug,
            self.controls(),
            [preset_bar(self.model, PRESETS), self.notice, self.overflow_notice, self.theory_text, self.spectrum_text],
            self.figures(),
            [explanation_panel(EXPLANATION), self.trainability.panel()],
        )

    def figures(self) -> dict:
        return {
            "length-map": self.length_figure,
            "correlation-map": self.correlation_figure,
            "phase-diagram": self.phase_figure,
            "depth-scales": self.scales_figure,
            "measured-vs-theory": self.overlay_figure,
            "singular-values": self.histogram_figure,
            "mean-squared-singular-value": self.m1_figure,
            "extreme-singular-values": self.extremes_figure,
            **self.trainability.figures(),
        }


def _cobweb(iterates: np.ndarray) -> dict:
    """The staircase (x_0, x_0) → (x_0, x_1) → (x_1, x_1) → ... of an iterated map."""
    x = np.repeat(iterates, 2)[1:-1]
    y = np.repeat(iterates, 2)[2:]
    return dict(x=np.concatenate([[iterates[0]], x]), y=np.concatenate([[iterates[0]], y]))


def _fmt(v: float) -> str:
    return "∞" if v == math.inf else "n/a" if not math.isfinite(v) else f"{v:.4g}"


def warm_up(width: int, capacity: int, with_theory: bool) -> None:
    """Compile this page's programs for one width and capacity bucket of ``vgp_core.mlp`` (and, with
    ``with_theory``, the theory views at the default setting, with their fixed array shapes) — a warm-up step."""
    config = EdgeOfChaosModel().config()
    if with_theory:
        act, sw2, sb2 = config.activation, config.sigma_w2, config.sigma_b2
        sp.fixed_points.cache_clear()
        sp.fixed_points(act, sw2, sb2)
        sp.length_map(act, np.linspace(0.0, 1.0, 81), sw2, sb2)
        sp.length_iterates(act, 1.0, sw2, sb2, COBWEB_STEPS)
        sp.correlation_map(act, sp.C_GRID, sw2, sb2)
        sp.correlation_iterates(act, 0.0, sw2, sb2, COBWEB_STEPS)
        _phase(act)
        _scales(act, sb2)
    for weights in sp.WEIGHTS:  # the draws of vgp_core.mlp compile once per weight law
        config = sp.PropagationConfig(
            config.activation, config.sigma_w2, config.sigma_b2, depth=capacity, width=width, weights=weights
        )
        sp.measure(config)
        js.measure(config, full=True)
    js.predicted_density(config, np.linspace(-1.0, 1.0, 8))
