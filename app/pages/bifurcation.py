"""Page "Bifurcation": Doya's one-neuron recurrent network — equilibria, folds, hysteresis (one-bit memory) and why
∂x(T)/∂x(0) vanishes or explodes while ∂x(T)/∂b stays well behaved (Doya 1993; Wikipedia article "Vanishing
gradient problem", section "Dynamical systems model").

One module of ~700 lines, on purpose: the page's model, its figures, their browser-side code and the redraw
table that says which views each control moves belong together and are read top to bottom.

``BifurcationModel`` declares every control; ``BifurcationPage`` owns the figures (created once) and updates their
data sources in place. Every number shown comes from ``vgp_core.doya``; this module only chooses plot windows and
formats values.
"""

from __future__ import annotations

import math

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, CustomJS, Range1d, Span
from bokeh.plotting import figure

from vgp_core import ConfigError, doya

from ..components.browser_url import KEEP_IN_URL_JS
from ..components.browser_views import browser_only
from ..components.explanation import explanation_panel
from ..components.heatmap import LogHeatmap
from ..components.numeric import NonFinite, log10_for_image
from ..components.page import Page, document_hold
from ..components.page_layout import page_layout
from ..components.presets import preset_bar
from ..components.training import VIEWS

#: Fixed grid sizes (one compiled program each; warmed up by app/warmup.py).
MAP_N = 200  # sensitivity map: MAP_N x MAP_N values of (x0, b)
HYSTERESIS_N = 160  # values of b per sweep direction
DIAGRAM_N = 200  # samples of the equilibrium curve
#: Plot windows snap outward to multiples of this, so that small moves of b or x(0) keep the same window.
WINDOW_SNAP = 0.25

CONTROLS = ["w", "b", "eps", "x0", "steps", "u", "w_in", "method"]
#: the sensitivity map's quantities, in the order of the "map shows" buttons, and their colour-bar labels
MAP_QUANTITIES = {"x0": "log10 |∂x(T)/∂x(0)|", "b": "log10 |∂x(T)/∂b|"}

#: The "map shows" toggle in the browser: both maps were sent (``views``: one row per quantity: image, colour range,
#: label); the browser shows the chosen one — no message to the server. Run again after each redraw of the
#: server (``views`` changed) with the browser's choice, if it made one. ``_draw_map`` draws the same in Python.
MAP_VIEW_JS = r"""
const shows = views.__vgp_shows
if (shows == null) return
const col = (name) => views.data instanceof Map ? views.data.get(name) : views.data[name]
const i = Array.from(col("quantity")).indexOf(shows)
if (i < 0) return
const data = image.data instanceof Map ? Object.fromEntries(image.data.entries()) : {...image.data}
image.data = {...data, image: [col("image")[i]]}
mapper.low = col("low")[i]
mapper.high = col("high")[i]
const label = col("label")[i]
color_bar.title = label
hover.tooltips = hover.tooltips.map((tip, j, all) => j == all.length - 1 ? [label, tip[1]] : tip)
"""
#: The toggle's own callback (also run for the server's changes of it): remember the choice, show it, and write it
#: into the address bar.
MAP_SHOWS_JS = (
    KEEP_IN_URL_JS
    + """
views.__vgp_shows = quantities[cb_obj.active]
apply.execute(cb_obj)
keep_in_url("map_shows", views.__vgp_shows)
"""
)
URL_PARAMS = CONTROLS + ["map_shows"]

PRESETS = {
    "one-bit memory (w = 5, b = −2.5)": dict(
        w=5.0, b=-2.5, eps=0.1, x0=0.6, steps=500, u=0.0, w_in=1.0, method="discrete"
    ),
    "start on the separatrix: ∂x(T)/∂x(0) explodes": dict(
        w=5.0, b=-2.5, eps=0.1, x0=0.5, steps=1000, u=0.0, w_in=1.0, method="discrete"
    ),
    "long memory: ∂x(T)/∂x(0) vanishes (underflow)": dict(
        w=5.0, b=-2.5, eps=0.5, x0=0.9, steps=2000, u=0.0, w_in=1.0, method="discrete"
    ),
    "ε = 1 on the separatrix (overflow)": dict(
        w=5.0, b=-2.5, eps=1.0, x0=0.5, steps=2000, u=0.0, w_in=1.0, method="discrete"
    ),
    "w = 3: one equilibrium, no memory": dict(
        w=3.0, b=-1.5, eps=0.1, x0=0.6, steps=200, u=0.0, w_in=1.0, method="discrete"
    ),
    "input w′u = 0.2 writes a 1": dict(w=5.0, b=-2.5, eps=0.1, x0=0.2, steps=200, u=0.2, w_in=1.0, method="discrete"),
}

EXPLANATION = (
    (
        "md",
        """### What you see
One neuron feeding back on itself (Doya 1993; Wikipedia, "Vanishing gradient problem",
"Dynamical systems model"),""",
    ),
    ("tex", r"x_{t+1} = (1-\varepsilon)\,x_t + \varepsilon\,\sigma(w x_t + b) + \varepsilon\, w' u,"),
    (
        "md",
        """rests where x* = σ(w x* + b) + w′u. For w > 4 there is a range of b with **three** equilibria: two
stable (solid) and one unstable (dashed). At its ends, the **folds** (saddle-node bifurcations, where
w x(1−x) = 1), a stable and the unstable equilibrium meet and vanish.

**One-bit memory.** Inside the fold range the state remembers on which side of the unstable equilibrium (the
*separatrix*) it started: the hysteresis loop shows b sweeping down and back up, the state jumping only at the
folds. Storing a bit means: x(T) depends on x(0) only through that side.

**Vanishing and exploding.** Back-propagating through T steps multiplies one factor per step,""",
    ),
    (
        "tex",
        r"\frac{\partial x_T}{\partial x_0} = \prod_{t=0}^{T-1} f'(x_t),\qquad "
        r"f'(x) = 1-\varepsilon+\varepsilon\, w\, \sigma'(w x+b),",
    ),
    (
        "md",
        """below 1 near a stable equilibrium (the gradient **vanishes** geometrically with T) and above 1 near
the unstable one (it **explodes**: the bright ridge along the separatrix in the map). So the gradient with respect
to the stored bit is either zero or huge. The gradient with respect to b instead converges to the slope of the
branch,""",
    ),
    ("tex", r"\frac{\partial x_T}{\partial b} \;\to\; \Big(\frac{1}{x^*(1-x^*)} - w\Big)^{-1},"),
    (
        "md",
        """finite for any T: the only well-behaved gradient, which blows up only at the folds.
**Magenta** map cells: overflowed float32 (inf/NaN); **black**: exactly 0. Click the map to pick (b, x(0)).""",
    ),
)


class BifurcationModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description."""

    w = param.Number(5.0, bounds=(-4.0, 10.0), step=0.1, doc="Self-connection weight w (bistable for w > 4).")
    b = param.Number(-2.5, bounds=(-10.0, 4.0), step=0.01, doc="Bias b.")
    eps = param.Number(
        doya.DEFAULT_EPS, bounds=(0.01, 1.0), step=0.01, doc="Step size ε of the map (time constant 1/ε)."
    )
    x0 = param.Number(0.6, bounds=(-0.5, 1.5), step=0.01, doc="Initial state x(0).")
    steps = param.Integer(500, bounds=(1, doya.MAX_STEPS), doc="Number of steps T.")
    u = param.Number(0.0, bounds=(-1.0, 1.0), step=0.01, doc="Constant external input u.")
    w_in = param.Number(1.0, bounds=(-2.0, 2.0), step=0.05, doc="Input weight w′ (the input adds w′u).")
    method = param.Selector(
        default="discrete",
        objects={"discrete map": "discrete", "continuous-time limit (RK4)": "continuous"},
        doc="The map, or its small-ε limit dx/dt = −x + σ(wx + b) + w′u sampled at times tε.",
    )
    map_shows = param.Selector(
        default="x0", objects={"∂x(T)/∂x(0)": "x0", "∂x(T)/∂b": "b"}, doc="Quantity of the sensitivity map."
    )

    def engine_args(self) -> dict:
        """The control values, cast to the types the engine expects (Panel may hand over ints)."""
        return dict(
            w=float(self.w),
            eps=float(self.eps),
            steps=int(self.steps),
            u=float(self.u),
            w_in=float(self.w_in),
            method=str(self.method),
        )


def _snap_window(lo: float, hi: float, points=(), limits=(-math.inf, math.inf), margin=0.1) -> tuple[float, float]:
    """[lo, hi] widened to contain ``points`` (with ``margin``), snapped outward to WINDOW_SNAP, inside ``limits``."""
    for p in points:
        lo, hi = min(lo, p - margin), max(hi, p + margin)
    lo = math.floor(lo / WINDOW_SNAP) * WINDOW_SNAP
    hi = math.ceil(hi / WINDOW_SNAP) * WINDOW_SNAP
    return max(lo, limits[0]), min(hi, limits[1])


#: Below this a float32 product has run out of normal numbers: the value is 0 or stuck near 1.2e-38 (subnormal
#: increments are flushed to zero), not the true size — which the log-space sum still gives.
UNDERFLOW_BELOW = 10 * float(np.finfo(np.float32).tiny)


def float32_state(v: float) -> str | None:
    """ "overflow" (inf/NaN), "underflow" (0 or within 10x of float32's smallest normal number) or None."""
    if not math.isfinite(v):
        return "overflow"
    if abs(v) < UNDERFLOW_BELOW:
        return "underflow"
    return None


def format_value(v: float, digits: int = 4) -> str:
    """An engine float as text, naming float32 overflow and underflow instead of printing inf or 0."""
    state = float32_state(v)
    if state == "overflow":
        return "NaN — overflowed float32" if math.isnan(v) else f"{'−' if v < 0 else ''}∞ — overflowed float32"
    if state == "underflow":
        return f"{v:.3g} — underflowed float32" if v else "0 — underflowed float32"
    return f"{v:.{digits}g}"


class BifurcationPage(Page):
    """The views of ``BifurcationModel``: created once per session, then updated in place."""

    Model = BifurcationModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {"_on_change": CONTROLS, "_on_map_shows": ["map_shows"]}
    title = "Bifurcation"

    def setup(self):
        """Deferring (see ``Page``): the diagram, trajectory and values go out at once; the slower sensitivity map
        and hysteresis sweep follow from the scheduler's views lane."""
        self._build_figures()
        self._runner = self.background_run(self._on_slow_result, self._on_slow_error, priority=VIEWS)
        self._diagram_key = None
        self._window = None
        self._slow_key = None
        self._map: doya.SensitivityMap | None = None
        self._counts: dict = {"map": {q: NonFinite(0, 0) for q in MAP_QUANTITIES}, "values": []}
        self._map_views_of = None  # the map whose both quantities the browser holds
        self._refresh()

    # ------------------------------------------------------------------------------------------------ figures
    def _build_figures(self):
        tools = "pan,wheel_zoom,box_zoom,reset,save"
        self.b_range = Range1d(-3.0, -2.0)
        self.x_range = Range1d(-0.05, 1.05)
        self.stable_source = ColumnDataSource(data=dict(xs=[], ys=[]))
        self.unstable_source = ColumnDataSource(data=dict(xs=[], ys=[]))
        self.fold_source = ColumnDataSource(data=dict(b=np.zeros(0), x=np.zeros(0)))
        self.point_source = ColumnDataSource(data=dict(b=np.zeros(1), x_T=np.zeros(1), x0=np.zeros(1)))

        fig = figure(
            title="Bifurcation diagram: equilibria x* against b",
            x_axis_label="b",
            y_axis_label="x",
            height=330,
            width=520,
            tools=tools,
            toolbar_location="above",
            x_range=self.b_range,
            y_range=self.x_range,
        )
        fig.multi_line(
            "xs", "ys", source=self.stable_source, line_width=3, color="#1f77b4", legend_label="stable equilibria"
        )
        fig.multi_line(
            "xs",
            "ys",
            source=self.unstable_source,
            line_width=2,
            color="#d62728",
            line_dash="dashed",
            legend_label="unstable (separatrix)",
        )
        fig.scatter(
            "b",
            "x",
            source=self.fold_source,
            marker="diamond",
            size=13,
            color="black",
            legend_label="folds (saddle-node)",
        )
        fig.segment(
            x0="b",
            y0="x0",
            x1="b",
            y1="x_T",
            source=self.point_source,
            color="#ff7f0e",
            line_width=1,
            line_dash="dotted",
        )
        fig.scatter(
            "b",
            "x0",
            source=self.point_source,
            marker="circle",
            size=9,
            fill_color="white",
            line_color="#ff7f0e",
            line_width=2,
            legend_label="x(0)",
        )
        fig.scatter(
            "b",
            "x_T",
            source=self.point_source,
            marker="circle",
            size=11,
            color="#ff7f0e",
            legend_label="current (b, x(T))",
        )
        self.b_marker = Span(location=-2.5, dimension="height", line_color="#888", line_dash="dotted")
        fig.add_layout(self.b_marker)
        fig.legend.location = "top_left"
        fig.legend.background_fill_alpha = 0.6
        fig.legend.click_policy = "hide"
        self.diagram_figure = fig

        self.down_source = ColumnDataSource(data=dict(b=np.zeros(0), x=np.zeros(0)))
        self.up_source = ColumnDataSource(data=dict(b=np.zeros(0), x=np.zeros(0)))
        hyst = figure(
            title="Hysteresis: b swept down, then up (T steps at each b)",
            x_axis_label="b",
            y_axis_label="x at the end of each b",
            height=330,
            width=520,
            tools=tools,
            toolbar_location="above",
            x_range=self.b_range,
            y_range=self.x_range,
        )
        hyst.line("b", "x", source=self.down_source, color="#1f77b4", line_width=2, legend_label="b decreasing")
        hyst.scatter("b", "x", source=self.down_source, marker="triangle", angle=math.pi, size=4, color="#1f77b4")
        hyst.line(
            "b",
            "x",
            source=self.up_source,
            color="#ff7f0e",
            line_width=2,
            line_dash="dashed",
            legend_label="b increasing",
        )
        hyst.scatter("b", "x", source=self.up_source, marker="triangle", size=4, color="#ff7f0e")
        self.hyst_b_marker = Span(location=-2.5, dimension="height", line_color="#888", line_dash="dotted")
        hyst.add_layout(self.hyst_b_marker)
        hyst.legend.location = "top_left"
        hyst.legend.background_fill_alpha = 0.6
        self.hysteresis_figure = hyst

        self.trajectory_source = ColumnDataSource(data=dict(t=np.zeros(0), x=np.zeros(0)))
        self.eq_stable_source = ColumnDataSource(data=dict(y=np.zeros(0)))
        self.eq_unstable_source = ColumnDataSource(data=dict(y=np.zeros(0)))
        self.t_range = Range1d(0, doya.DEFAULT_STEPS)
        traj = figure(
            title="Trajectory x_t",
            x_axis_label="step t",
            y_axis_label="x",
            height=330,
            width=520,
            tools=tools,
            toolbar_location="above",
            x_range=self.t_range,
            y_range=self.x_range,
        )
        traj.hspan(
            y="y",
            source=self.eq_stable_source,
            line_color="#1f77b4",
            line_width=1,
            line_alpha=0.7,
            legend_label="stable equilibria at this b",
        )
        traj.hspan(
            y="y",
            source=self.eq_unstable_source,
            line_color="#d62728",
            line_width=1,
            line_dash="dashed",
            legend_label="unstable equilibrium",
        )
        traj.line("t", "x", source=self.trajectory_source, color="#ff7f0e", line_width=2, legend_label="x_t")
        traj.legend.location = "bottom_right"
        traj.legend.background_fill_alpha = 0.6
        self.trajectory_figure = traj

        self.sens_map = LogHeatmap(
            "Sensitivity map over (b, x(0)), separatrix dashed",
            "b",
            y_label="x(0)",
            value_label=self._map_label(),
            y_tooltip=("x(0)", "$y{0.000}"),
            css_classes=["vgp-sensitivity-map"],
        )
        mfig = self.sens_map.figure
        mfig.x_range, mfig.y_range = self.b_range, self.x_range
        mfig.multi_line("xs", "ys", source=self.unstable_source, line_width=2, color="white", line_dash="dashed")
        mfig.scatter(
            "b",
            "x0",
            source=self.point_source,
            marker="circle",
            size=10,
            fill_color="#ff7f0e",
            line_color="white",
            line_width=2,
        )
        mfig.on_event(Tap, self._on_map_tap)
        #: both maps, for the browser's "map shows" toggle (see MAP_VIEW_JS)
        self.map_views = ColumnDataSource(
            data=dict(quantity=[], image=[], low=[], high=[], label=[]), name="sensitivity-map-views"
        )
        heat = self.sens_map
        self._map_view_js = CustomJS(
            args=dict(
                views=self.map_views,
                image=heat.source,
                mapper=heat.mapper,
                color_bar=heat.color_bar,
                hover=heat.hover,
            ),
            code=MAP_VIEW_JS,
        )
        self.map_views.js_on_change("data", self._map_view_js)
        for model in (heat.source, heat.mapper, heat.color_bar, heat.hover):
            model.syncable = False  # what the browser chooses stays there
        self.values_text = pn.pane.Markdown("", disable_math=True, margin=(0, 5), width=1060)

    def _map_label(self) -> str:
        return MAP_QUANTITIES[self.model.map_shows]

    # ------------------------------------------------------------------------------------------------ updates
    def _on_change(self, *events):
        self._refresh()

    def _on_map_shows(self, *events):
        self._guard(self._draw_map)

    def _on_map_tap(self, event):
        """A click on the sensitivity map picks (b, x(0)) there (clamped to the controls' bounds)."""
        if event.x is None or event.y is None:
            return
        lo_b, hi_b = self.model.param.b.bounds
        lo_x, hi_x = self.model.param.x0.bounds
        self.model.param.update(
            b=round(min(max(float(event.x), lo_b), hi_b), 3), x0=round(min(max(float(event.y), lo_x), hi_x), 3)
        )

    def _windows(self, args: dict) -> tuple[float, float, float, float]:
        """(b_lo, b_hi, x_lo, x_hi): the folds with a margin (or a window around b without folds), widened to
        contain the current b and x(0); snapped so that small moves keep the window (and the cached map)."""
        m = self.model
        b, x0 = float(m.b), float(m.x0)
        fold_b, _ = doya.fold_points(args["w"], u=args["u"], w_in=args["w_in"])
        if fold_b.size:
            lo, hi = float(fold_b.min()), float(fold_b.max())
            pad = max(0.35, 0.6 * (hi - lo))
        else:
            lo = hi = float(round(b))
            pad = 1.5
        b_lo, b_hi = _snap_window(lo - pad, hi + pad, points=(b,), limits=doya.B_RANGE)
        shift = args["u"] * args["w_in"]  # the input shifts every equilibrium by w'u: x* lies in (w'u, 1 + w'u)
        x_lo, x_hi = _snap_window(
            min(0.0, shift) - 0.05, max(1.0, 1.0 + shift) + 0.05, points=(x0,), limits=doya.X_RANGE, margin=0.05
        )
        return b_lo, b_hi, x_lo, x_hi

    def _stability_eps(self, args: dict) -> float:
        # The continuous-time limit's stability (w x(1-x) < 1) is the map's with the smallest ε.
        return args["eps"] if args["method"] == "discrete" else doya.EPS_RANGE[0]

    def _refresh(self):
        def work():
            m = self.model
            args = m.engine_args()
            b, x0 = float(m.b), float(m.x0)
            window = self._windows(args)
            traj = doya.simulate(x0, b, **args)
            sens = doya.sensitivity(x0, b, **args)
            eq = doya.fixed_points(b, args["w"], eps=args["eps"], u=args["u"], w_in=args["w_in"])
            diagram_key = (args["w"], self._stability_eps(args), args["u"], args["w_in"], window[:2])
            diagram = None
            if diagram_key != self._diagram_key:
                diagram = doya.bifurcation_diagram(
                    args["w"], window[:2], DIAGRAM_N, eps=diagram_key[1], u=args["u"], w_in=args["w_in"]
                )
            with document_hold(self._doc):
                if diagram is not None:
                    self._draw_diagram(diagram)
                    self._diagram_key = diagram_key
                if window != self._window:  # only then: a user's zoom survives moves inside the window
                    self.b_range.update(start=window[0], end=window[1])
                    self.x_range.update(start=window[2], end=window[3])
                    self._window = window
                if int(traj.t[-1]) != self.t_range.end:
                    self.t_range.update(start=0, end=int(traj.t[-1]))
                self.b_marker.location = self.hyst_b_marker.location = b
                self.point_source.data = dict(b=np.array([b]), x_T=np.array([float(traj.x[-1])]), x0=np.array([x0]))
                self.trajectory_source.data = dict(t=traj.t.astype(np.float64), x=traj.x.astype(np.float64))
                stable = eq.stable if args["method"] == "discrete" else eq.stable_flow
                self.eq_stable_source.data = dict(y=eq.x[stable])
                self.eq_unstable_source.data = dict(y=eq.x[~stable])
                self._draw_values(sens, eq, stable, args)
                self._draw_overflow_notice()
            self.notices.clear("setting")
            self._schedule_slow()

        self._guard(work)

    def _draw_diagram(self, d: doya.BifurcationDiagram):
        stable = [s for s in d.segments if s.stable]
        unstable = [s for s in d.segments if not s.stable]
        self.stable_source.data = dict(xs=[s.b for s in stable], ys=[s.x for s in stable])
        self.unstable_source.data = dict(xs=[s.b for s in unstable], ys=[s.x for s in unstable])
        self.fold_source.data = dict(b=np.asarray(d.fold_b, np.float64), x=np.asarray(d.fold_x, np.float64))

    def _draw_values(self, s: doya.Sensitivity, eq: doya.FixedPoints, stable: np.ndarray, args: dict):
        overflow = []
        for name, v in (("∂x(T)/∂x(0)", s.dxT_dx0), ("∂x(T)/∂b", s.dxT_db)):
            state = float32_state(v)
            if state == "overflow":
                overflow.append(f"{name} overflowed float32 (autodiff gives {v})")
            elif state == "underflow":
                overflow.append(f"{name} underflowed float32 (the log-space value in the table is its true size)")
        self._counts["values"] = overflow
        discrete = args["method"] == "discrete"  # the map's multiplier is its factor per step (not the flow's)
        eqs = ", ".join(
            f"{x:.4g} ({'stable' if st else 'unstable'}" + (f", ×{mu:.4g} per step)" if discrete else ")")
            for x, st, mu in zip(eq.x, stable, eq.multiplier)
        )
        settled = s.residual <= 1e-6
        on_unstable = [mu for x, st, mu in zip(eq.x, stable, eq.multiplier) if not st and abs(x - s.x_T) < 1e-3]
        if not settled:
            rest = "not settled yet — the analytic (equilibrium) value does not apply; try a larger T."
        elif on_unstable:
            rest = (
                "x(T) rests on the unstable equilibrium (the separatrix): the analytic value is the slope of the "
                "dashed branch, but every perturbation grows"
                + (f" ×{on_unstable[0]:.4g} per step" if discrete else "")
                + ", so the autodiff derivatives explode."
            )
        else:
            rest = "x(T) has settled, so the analytic value applies."
        log_text = (
            f"{s.log10_abs_dxT_dx0:.4g}" if math.isfinite(s.log10_abs_dxT_dx0) else format_value(s.log10_abs_dxT_dx0)
        )
        self.values_text.object = (
            f"**T = {args['steps']} steps from x(0) = {float(self.model.x0):.4g} at b = {float(self.model.b):.4g}:** "
            f"x(T) = {s.x_T:.6g}; equilibria at this b: {eqs}.\n\n"
            "| derivative | autodiff (float32, forward mode through the T steps) | reference |\n"
            "|---|---|---|\n"
            f"| ∂x(T)/∂x(0) | {format_value(s.dxT_dx0)} | log10 of its size, summed in log space: {log_text} |\n"
            f"| ∂x(T)/∂b | {format_value(s.dxT_db)} | analytic at equilibrium (1/(y(1−y)) − w)⁻¹, y = x(T) − w′u: "
            f"{format_value(s.dxT_db_analytic)} |\n\n"
            f"Distance from rest |x(T) − x(T−1)| = {s.residual:.2g}: " + rest
        )

    def _schedule_slow(self):
        """The sensitivity map over (b, x0) and the hysteresis sweep, recomputed only when their inputs change (not
        when b or x(0) move inside the window). Served: on the scheduler's views lane (``BackgroundRun`` with
        priority VIEWS: never behind training or the warm-up; a newer request supersedes a queued one; the server
        keeps answering meanwhile — at T = 2000 in the continuous-time limit the map takes seconds), delivered on
        the document's next tick. Not served: now, or queued in ``self.pending`` when deferring."""
        args = self.model.engine_args()
        window = self._windows(args)
        key = (tuple(sorted(args.items())), window)
        if key == self._slow_key:
            return
        self._slow_key = key

        def now():
            if not self._guard(lambda: self._apply_slow(self._compute_slow(args, window))):
                self._slow_key = None  # retry with the next change

        if not self._defer:
            now()
        elif self._doc is None:
            self.pending.append(now)
        else:

            def results():
                yield self._compute_slow(args, window)

            self._runner.start(results)

    @staticmethod
    def _compute_slow(args: dict, window) -> tuple[doya.SensitivityMap, doya.Hysteresis]:
        b_grid = np.linspace(window[0], window[1], MAP_N)
        x_grid = np.linspace(window[2], window[3], MAP_N)
        smap = doya.sensitivity_map(b_grid, x_grid, **args)
        hyst = doya.hysteresis(
            args["w"],
            window[:2],
            HYSTERESIS_N,
            eps=args["eps"],
            steps_per_b=args["steps"],
            u=args["u"],
            w_in=args["w_in"],
            method=args["method"],
        )
        return smap, hyst

    def _apply_slow(self, result):
        smap, hyst = result
        with document_hold(self._doc):
            self._map = smap
            self._draw_map()
            self.down_source.data = dict(b=hyst.b_down, x=hyst.x_down.astype(np.float64))
            self.up_source.data = dict(b=hyst.b_up, x=hyst.x_up.astype(np.float64))

    def _on_slow_result(self, result):
        self._guard(self._apply_slow, result)

    def _on_slow_error(self, exc: Exception):
        self._slow_key = None  # retry with the next change
        if isinstance(exc, ConfigError):
            self.notices.set("setting", f"Invalid setting: {exc}")
        else:
            self.notices.set("failure", f"Could not update the map: {exc}")

    def _draw_map(self):
        """The chosen map (``map_shows``) and, for the browser's toggle, both (sent last: the browser then
        re-applies its own choice)."""
        smap = self._map
        if smap is None:
            return
        maps = {"x0": smap.log10_dxT_dx0, "b": smap.log10_dxT_db}
        images = {q: log10_for_image(values) for q, values in maps.items()}
        half_b = 0.5 * (smap.b[1] - smap.b[0])
        half_x = 0.5 * (smap.x0[1] - smap.x0[0])
        with document_hold(self._doc):
            self.sens_map.set_value_label(self._map_label())
            self.sens_map.update(
                maps[self.model.map_shows],
                smap.b[0] - half_b,
                smap.b[-1] + half_b,
                y_range=(smap.x0[0] - half_x, smap.x0[-1] + half_x),
            )
            self._counts["map"] = {q: counts for q, (_, counts, _) in images.items()}
            self._draw_overflow_notice()
            if self._map_views_of is not smap:
                self._map_views_of = smap
                self.map_views.data = dict(
                    quantity=list(MAP_QUANTITIES),
                    image=[images[q][0] for q in MAP_QUANTITIES],
                    low=[images[q][2][0] for q in MAP_QUANTITIES],
                    high=[images[q][2][1] for q in MAP_QUANTITIES],
                    label=list(MAP_QUANTITIES.values()),
                )

    def _draw_overflow_notice(self):
        """Named for both maps, whichever is shown (the toggle between them is drawn in the browser)."""
        parts = list(self._counts["values"])
        for q, c in self._counts["map"].items():
            name = MAP_QUANTITIES[q].removeprefix("log10 ")
            if c.overflow:
                parts.append(f"{c.overflow} cells of the {name} map overflowed float32 (inf/NaN, magenta)")
            if c.underflow:
                parts.append(f"{c.underflow} cells of the {name} map are exactly 0 (black)")
        self.overflow.set("counts", "⚠ " + "; ".join(parts) if parts else "")

    # ------------------------------------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        m = self.model
        w = pn.widgets
        self.b_slider = w.FloatSlider.from_param(m.param.b, name="b (bias)")
        # Move the b markers in the browser while dragging, before the server answers.
        self.b_slider.jslink(self.b_marker, value="location")
        self.b_slider.jslink(self.hyst_b_marker, value="location")
        return pn.Column(
            "### Network",
            w.FloatSlider.from_param(m.param.w, name="w (self-connection)"),
            self.b_slider,
            w.FloatSlider.from_param(m.param.eps, name="ε (step size)"),
            w.FloatSlider.from_param(m.param.x0, name="x(0) (initial state)"),
            w.IntSlider.from_param(m.param.steps, name="T (steps)"),
            "### Input",
            w.FloatSlider.from_param(m.param.u, name="u (constant input)"),
            w.FloatSlider.from_param(m.param.w_in, name="w′ (input weight)"),
            "### Views",
            w.Select.from_param(m.param.method, name="dynamics"),
            self._map_shows_toggle(),
            width=320,
        )

    def _map_shows_toggle(self):
        """The "map shows" buttons: browser-side (both maps are in the browser, see MAP_VIEW_JS)."""
        toggle = browser_only(pn.widgets.RadioButtonGroup).from_param(
            self.model.param.map_shows, name="sensitivity map shows"
        )
        toggle.jscallback(
            args=dict(views=self.map_views, apply=self._map_view_js, quantities=list(MAP_QUANTITIES)),
            active=MAP_SHOWS_JS,
        )
        return toggle

    def panel(self) -> pn.viewable.Viewable:
        return page_layout(
            self.slug,
            self.controls(),
            [preset_bar(self.model, PRESETS), self.notice, self.overflow_notice, self.values_text],
            self.figures(),
            [explanation_panel(EXPLANATION)],
        )

    def figures(self) -> dict:
        return {
            "bifurcation-diagram": self.diagram_figure,
            "sensitivity-map": self.sens_map.figure,
            "trajectory": self.trajectory_figure,
            "hysteresis": self.hysteresis_figure,
        }
