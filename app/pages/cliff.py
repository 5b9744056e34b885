"""Page "Loss cliff": the geometric view of exploding gradients — a loss with a wall, plain gradient descent that is
catapulted over it, and norm clipping that keeps the step controlled (Wikipedia article "Vanishing gradient problem",
section "Geometric model"; Pascanu, Mikolov & Bengio 2013, Fig. 6 and Algorithm 1).

One module of ~750 lines, on purpose: the page's model, its figures, their browser-side replay code and the
redraw table that says which views each control moves belong together and are read top to bottom.

``LossCliffModel`` declares every control; ``LossCliffPage`` owns the figures (created once) and updates their data
sources in place. Every number shown comes from ``vgp_core.cliff``; this module only chooses plot windows, picks
the replayed step and formats values.
"""

from __future__ import annotations

import html
import math

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, Range1d, Span
from bokeh.plotting import figure

from vgp_core import cliff, doya

from ..components.browser_url import KEEP_IN_URL_JS
from ..components.browser_views import browser_only
from ..components.explanation import explanation_panel
from ..components.heatmap import LogHeatmap
from ..components.log_profile import LogProfile
from ..components.numeric import NonFinite, safe_log10
from ..components.page import Page, document_hold
from ..components.page_layout import page_layout
from ..components.presets import preset_bar

#: Fixed grid sizes (one compiled program each; warmed up by app/warmup.py).
LOSS_UNIFORM = 120  # samples of L(b) uniform over the plotted window ...
LOSS_DENSE = 40  # ... plus this many on each side of the wall, spaced geometrically (the wall is narrow)
LOSS_N = LOSS_UNIFORM + 2 * LOSS_DENSE
#: Wikipedia, "Geometric model": the wall of L(b) for w = 5, x(0) = 0.5 lies at b = -2.5 (where x(0) is the
#: unstable equilibrium).
#: Used only to place the dense samples; the wall drawn is where the engine's |dL/db| is largest.
SEED_WALL_B = -2.5
DENSE_OFFSETS = np.geomspace(1e-6, 0.05, LOSS_DENSE)
LOSS_WINDOW = (-3.0, -2.0)  # the 1-D plot shows at least this range of b (Wikipedia, "Dynamical systems model")
SURFACE_W = (-2.0, 12.0)
SURFACE_B = (-8.0, 2.0)
SURFACE_SHAPE = (160, 160)  # (n_w, n_b)
SURFACE_W_GRID = np.linspace(*SURFACE_W, SURFACE_SHAPE[0])
SURFACE_B_GRID = np.linspace(*SURFACE_B, SURFACE_SHAPE[1])
LEARNING_RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
CLIP_NORMS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
MAX_DESCENT_STEPS = 300

ONE_D = ["b", "steps", "learning_rate", "clip_norm", "descent_steps"]
TWO_D = ["start_w", "start_b", "pascanu_steps", "learning_rate", "clip_norm", "descent_steps"]
URL_PARAMS = [
    "b",
    "steps",
    "start_w",
    "start_b",
    "pascanu_steps",
    "learning_rate",
    "clip_norm",
    "descent_steps",
    "shown_step",
    "surface",
]

_NEXT_TO_WALL = dict(
    b=-2.51, steps=200, start_w=4.5, start_b=-1.75, pascanu_steps=50, learning_rate=1.0, descent_steps=50
)
PRESETS = {
    "start next to the wall (clipping 0.1)": dict(_NEXT_TO_WALL, clip_norm=0.1),
    "no clipping vs clipping 1": dict(_NEXT_TO_WALL, clip_norm=1.0),
    "the plain path falls off later (2-D start (4.5, −3))": dict(
        _NEXT_TO_WALL, start_w=4.5, start_b=-3.0, clip_norm=1.0, descent_steps=60
    ),
    "far from the wall: clipping changes nothing": dict(
        _NEXT_TO_WALL, b=-2.3, start_w=8.0, start_b=-3.0, clip_norm=0.1
    ),
    "longer sequence T = 1000: taller, narrower wall": dict(_NEXT_TO_WALL, steps=1000, clip_norm=0.1),
}

EXPLANATION = (
    (
        "md",
        """### What you see
**1-D (Wikipedia, "Vanishing gradient problem", section "Geometric model").** Doya's neuron with w = 5 from
x(0) = 0.5 for T steps, and the loss""",
    ),
    ("tex", r"L(b) = \big(0.855 - x_T(b)\big)^2 ."),
    (
        "md",
        """Above b ≈ −2.5 the state settles on the upper attractor and L ≈ 0; below, x(0) = 0.5 lies under
the unstable equilibrium, x falls to the lower attractor and L ≈ 0.5. In between is a **wall** whose slope
|dL/db| grows geometrically with T (right plot, log scale). Far from the wall the gradient is small (vanishing);
at the wall it is huge (exploding).

**Gradient descent** steps θ ← θ − η g. Next to the wall g is huge, so a plain step **jumps over the wall** and
lands far away. **Norm clipping** (Pascanu et al. 2013) rescales the gradient first,""",
    ),
    (
        "tex",
        r"\|g\| \ge \theta \;\Rightarrow\; g \leftarrow \theta\,\frac{g}{\|g\|},\qquad "
        r"\|\Delta\| \le \eta\,\theta,",
    ),
    (
        "md",
        """so the step keeps its direction but stays controlled.

**2-D (Pascanu et al. 2013, Fig. 6).** x_t = w σ(x_{t−1}) + b, x_0 = 0.5, E = (σ(x_T) − 0.7)² over (w, b): the
cliff is the sharp diagonal edge. **Click the heatmap** to start both paths there (or the L(b) plot for the 1-D
start), then replay them step by step with the step slider or ▶. **Magenta**: overflowed float32.""",
    ),
)


#: The replay in the browser: the step slider (and ▶, linked to it there) picks step ``step`` of the paths the
#: server sent whole (``full``: the columns of ``LossCliffPage._replay_columns``); the paths are cut at it, the points
#: at it, the step markers and the replay text set — no message to the server. ``_draw_paths`` draws the same cut in
#: Python (tests, export, a notebook, and the server's own redraws, after which the browser re-applies its step).
REPLAY_JS = r"""
const col = (name) => full.data instanceof Map ? full.data.get(name) : full.data[name]
const n = full.get_length() ?? 0
if (n == 0) return
const k = Math.max(0, Math.min(Math.round(step), n - 1))
const cut = (name) => Array.from(col(name).slice(0, k + 1), Number)
const at = (a, b) => [Number(col(a)[k]), Number(col(b)[k])]
const path1 = {plain: path1_plain, clipped: path1_clipped}, path2 = {plain: path2_plain, clipped: path2_clipped}
for (const key of ["plain", "clipped"]) {
  path1[key].data = {b: cut(`b1_${key}`), loss: cut(`loss1_${key}`), grad: cut(`grad1_${key}`)}
  path2[key].data = {w: cut(`w2_${key}`), b: cut(`b2_${key}`)}
}
now1.data = {b: at("b1_plain", "b1_clipped"), loss: at("loss1_plain", "loss1_clipped"),
             grad: at("grad1_plain", "grad1_clipped"), color: [...now1_colors]}
now2.data = {w: at("w2_plain", "w2_clipped"), b: at("b2_plain", "b2_clipped"), color: [...now2_colors]}
span_steps.location = k
span_loss.location = k
text.text = col("line")[k]
"""
#: The step slider's callback (also run for the server's changes of the slider, and for ▶, which moves the slider
#: in the browser): remember the step, replay it, and write it into the address bar.
STEP_JS = (
    KEEP_IN_URL_JS
    + """
full.__vgp_step = cb_obj.value
const step = cb_obj.value
keep_in_url("shown_step", step)
"""
    + REPLAY_JS
)
#: After a redraw of the server (``version`` bumped): the browser's step again, if the browser moved it.
REDRAWN_JS = (
    """
const step = full.__vgp_step
if (step == null) return
"""
    + REPLAY_JS
)
NOW1_COLORS = ["#d62728", "#2ca02c"]
NOW2_COLORS = ["#ff4040", "#40ff40"]


class LossCliffModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description."""

    b = param.Number(
        -2.51,
        bounds=(-3.5, -1.5),
        step=0.005,
        doc="Start of the 1-D descent: the bias b of Doya's neuron (w = 5, x(0) = 0.5).",
    )
    steps = param.Integer(
        doya.DEFAULT_STEPS, bounds=(10, doya.MAX_STEPS), doc="T of the 1-D loss L(b) = (0.855 − x(T))²."
    )
    start_w = param.Number(4.5, bounds=SURFACE_W, step=0.05, doc="Start of the 2-D descent: w.")
    start_b = param.Number(-1.75, bounds=SURFACE_B, step=0.05, doc="Start of the 2-D descent: b.")
    pascanu_steps = param.Integer(cliff.PASCANU_STEPS, bounds=(5, 200), doc="T of Pascanu's loss E = (σ(x_T) − 0.7)².")
    learning_rate = param.Selector(default=1.0, objects=LEARNING_RATES, doc="Learning rate η (both problems).")
    clip_norm = param.Selector(
        default=0.1,
        objects=CLIP_NORMS,
        doc="Clipping threshold θ of the clipped path (the plain path is never clipped).",
    )
    descent_steps = param.Integer(50, bounds=(1, MAX_DESCENT_STEPS), doc="Number of gradient-descent steps.")
    shown_step = param.Integer(50, bounds=(0, MAX_DESCENT_STEPS), doc="Replay: paths are drawn up to this step.")
    surface = param.Selector(
        default="loss", objects={"loss E": "loss", "log10 ‖∇E‖": "grad"}, doc="Quantity of the 2-D heatmap."
    )

    def __init__(self, **params):
        super().__init__(**params)
        self.param.shown_step.bounds = (0, int(self.descent_steps))
        self.param.watch(self._bound_shown_step, ["descent_steps"])

    def _bound_shown_step(self, event):
        n = int(event.new)
        self.param.shown_step.bounds = (0, n)
        if self.shown_step > n or self.shown_step == event.old:  # clamp; a replay at the end follows the end
            self.shown_step = n


def _outward(lo: float, hi: float, snap: float = 0.5) -> tuple[float, float]:
    return math.floor(lo / snap) * snap, math.ceil(hi / snap) * snap


def _fmt(v: float, digits: int = 3) -> str:
    if math.isnan(v):
        return "NaN (overflow)"
    if math.isinf(v):
        return "∞ (overflow)"
    return f"{v:.{digits}g}"


class LossCliffPage(Page):
    """The views of ``LossCliffModel``: created once per session, then updated in place."""

    Model = LossCliffModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {
        "_on_change": sorted(set(ONE_D) | set(TWO_D)),
        "_on_replay": ["shown_step"],
        "_on_surface_view": ["surface"],
    }
    title = "Loss cliff"

    def setup(self):
        """Every update of this page takes milliseconds: nothing is deferred or run in the background."""
        self._build_figures()
        self._d1: cliff.Descent | None = None
        self._d2: cliff.Descent | None = None
        self._curve: cliff.LossCurve | None = None
        self._curve_key = None
        self._window = None
        self._surface: cliff.PascanuSurface | None = None
        self._surface_steps = None
        self._cliff_b = float("nan")
        self._counts = {"surface": NonFinite(0, 0)}
        self._replay_of = None  # the descents whose whole paths the browser holds (held: compared by identity) ...
        self._replay: dict = {}  # ... and those paths (``_replay_data``)
        self._refresh(set(ONE_D) | set(TWO_D))

    # ------------------------------------------------------------------------------------------------ figures
    def _build_figures(self):
        tools = "pan,wheel_zoom,box_zoom,reset,save"
        plain, clipped = "#d62728", "#2ca02c"
        self.b_range = Range1d(*LOSS_WINDOW)
        self.curve_source = ColumnDataSource(data=dict(b=np.zeros(0), loss=np.zeros(0)))
        self.path1 = {
            k: ColumnDataSource(data=dict(b=np.zeros(0), loss=np.zeros(0), grad=np.zeros(0)))
            for k in ("plain", "clipped")
        }
        self.now1 = ColumnDataSource(
            data=dict(b=np.zeros(0), loss=np.zeros(0), grad=np.zeros(0), color=np.array([], dtype=object))
        )
        fig = figure(
            title="1-D: L(b) with the descent paths (click to start there)",
            x_axis_label="b",
            y_axis_label="L(b) = (0.855 − x(T))²",
            height=330,
            width=520,
            tools=tools,
            toolbar_location="above",
            x_range=self.b_range,
            css_classes=["vgp-loss-curve"],
        )
        fig.line("b", "loss", source=self.curve_source, color="#1f77b4", line_width=2, legend_label="L(b)")
        for key, color, dash in (("plain", plain, "solid"), ("clipped", clipped, "dashed")):
            fig.line(
                "b",
                "loss",
                source=self.path1[key],
                color=color,
                line_width=1.5,
                line_dash=dash,
                legend_label=f"{key} descent",
            )
            fig.scatter("b", "loss", source=self.path1[key], color=color, size=6)
        fig.scatter("b", "loss", source=self.now1, color="color", size=13, marker="star")
        self.wall1 = Span(
            location=SEED_WALL_B, dimension="height", line_color="black", line_dash="dotted", line_width=2
        )
        fig.add_layout(self.wall1)
        fig.legend.location = "top_right"
        fig.legend.background_fill_alpha = 0.6
        fig.legend.click_policy = "hide"
        fig.on_event(Tap, self._on_curve_tap)
        self.curve_figure = fig

        self.grad_profile = LogProfile(
            "|dL/db| on a log scale",
            {"grad": dict(legend_label="|dL/db|", color="#1f77b4", line_width=2)},
            x_label="b",
            y_label="|dL/db|",
            x_tooltip="b",
            legend_location="top_right",
        )
        gfig = self.grad_profile.figure
        gfig.x_range = self.b_range
        for key, color, marker in (("plain", plain, "circle"), ("clipped", clipped, "triangle")):
            gfig.scatter(
                "b", "grad", source=self.path1[key], color=color, marker=marker, size=6, legend_label=f"{key} path"
            )
        self.wall2 = Span(
            location=SEED_WALL_B, dimension="height", line_color="black", line_dash="dotted", line_width=2
        )
        gfig.add_layout(self.wall2)

        self.surface_map = LogHeatmap(
            "2-D (Pascanu et al.): E(w, b) with both paths — click to start",
            "w",
            y_label="b",
            value_label=self._surface_label(),
            y_tooltip=("b", "$y{0.00}"),
            css_classes=["vgp-cliff-surface"],
        )
        sfig = self.surface_map.figure
        sfig.x_range = Range1d(*SURFACE_W)
        sfig.y_range = Range1d(*SURFACE_B)
        self.path2 = {k: ColumnDataSource(data=dict(w=np.zeros(0), b=np.zeros(0))) for k in ("plain", "clipped")}
        self.start2 = ColumnDataSource(data=dict(w=np.zeros(0), b=np.zeros(0)))
        self.now2 = ColumnDataSource(data=dict(w=np.zeros(0), b=np.zeros(0), color=np.array([], dtype=object)))
        for key, color, dash in (("plain", "#ff4040", "solid"), ("clipped", "#40ff40", "dashed")):
            sfig.line(
                "w",
                "b",
                source=self.path2[key],
                color=color,
                line_width=2,
                line_dash=dash,
                legend_label=f"{key} descent",
            )
            sfig.scatter("w", "b", source=self.path2[key], color=color, size=5)
        sfig.scatter("w", "b", source=self.now2, color="color", line_color="white", size=14, marker="star")
        sfig.scatter(
            "w",
            "b",
            source=self.start2,
            marker="circle",
            size=12,
            fill_color="white",
            line_color="black",
            line_width=2,
            legend_label="start (click)",
        )
        sfig.legend.location = "bottom_left"
        sfig.legend.background_fill_alpha = 0.6
        sfig.on_event(Tap, self._on_surface_tap)

        self.step_profile = LogProfile(
            "Step length per descent step (clipped: at most η·θ)",
            {
                "plain_1d": dict(legend_label="plain, 1-D", color=plain, line_width=2),
                "clipped_1d": dict(legend_label="clipped, 1-D", color=clipped, line_width=2, line_dash="dashed"),
                "plain_2d": dict(legend_label="plain, 2-D", color=plain, line_width=2, line_dash="dotted"),
                "clipped_2d": dict(legend_label="clipped, 2-D", color=clipped, line_width=2, line_dash="dotdash"),
                "cap": dict(legend_label="η·θ", color="black", line_width=1, line_dash="dashed"),
            },
            x_label="descent step",
            y_label="‖Δθ‖",
            x_tooltip="step",
            legend_location="bottom_right",
        )
        self.loss_profile = LogProfile(
            "Loss along the paths",
            {
                "plain_1d": dict(legend_label="plain, 1-D: L", color=plain, line_width=2),
                "clipped_1d": dict(legend_label="clipped, 1-D: L", color=clipped, line_width=2, line_dash="dashed"),
                "plain_2d": dict(legend_label="plain, 2-D: E", color=plain, line_width=2, line_dash="dotted"),
                "clipped_2d": dict(legend_label="clipped, 2-D: E", color=clipped, line_width=2, line_dash="dotdash"),
            },
            x_label="descent step",
            y_label="loss",
            x_tooltip="step",
            legend_location="center_right",
        )
        self.step_markers = []
        for prof in (self.step_profile, self.loss_profile):
            prof.figure.legend.label_text_font_size = "8pt"
            prof.figure.legend.spacing = 0
            span = Span(location=0, dimension="height", line_color="#888", line_width=2)
            prof.figure.add_layout(span)
            self.step_markers.append(span)
        self.summary = pn.pane.Markdown("", disable_math=True, margin=(0, 5), width=1060)
        #: the replayed step's text (HTML made here of numbers and fixed words), set by the browser at each step
        self.replay_text = browser_only(pn.pane.HTML)("", width=1060, margin=(0, 10))
        self._encoder = pn.pane.HTML()  # how Panel sends an HTML pane's text, for the browser's table of texts
        #: both paths whole and the replay text of every step, from which the browser cuts the replayed step
        self.replay_full = ColumnDataSource(data={name: np.zeros(0) for name in self._replay_columns()})
        #: bumped after each redraw of the server, which the browser then follows with its own step
        self.replay_version = browser_only(pn.widgets.IntInput)(value=0, visible=False)
        # what the browser replays stays there
        for model in (*self.path1.values(), *self.path2.values(), self.now1, self.now2, *self.step_markers):
            model.syncable = False
        self.replay_version.jscallback(args=self._replay_args(), value=REDRAWN_JS)

    def _replay_args(self) -> dict:
        """The models REPLAY_JS reads and writes."""
        return dict(
            full=self.replay_full,
            path1_plain=self.path1["plain"],
            path1_clipped=self.path1["clipped"],
            path2_plain=self.path2["plain"],
            path2_clipped=self.path2["clipped"],
            now1=self.now1,
            now2=self.now2,
            now1_colors=NOW1_COLORS,
            now2_colors=NOW2_COLORS,
            span_steps=self.step_markers[0],
            span_loss=self.step_markers[1],
            text=self.replay_text,
        )

    @staticmethod
    def _replay_columns() -> list[str]:
        """The columns of ``replay_full``: each path's coordinates at every step, and the replay text."""
        one = [f"{c}1_{key}" for key in ("plain", "clipped") for c in ("b", "loss", "grad")]
        two = [f"{c}2_{key}" for key in ("plain", "clipped") for c in ("w", "b")]
        return one + two + ["line"]

    def _surface_label(self) -> str:
        return "E(w, b)" if self.model.surface == "loss" else "log10 ‖∇E‖"

    # ------------------------------------------------------------------------------------------------ events
    def _on_change(self, *events):
        self._refresh({e.name for e in events})

    def _on_replay(self, *events):
        self._guard(self._draw_paths)

    def _on_surface_view(self, *events):
        self._guard(self._draw_surface)

    def _on_curve_tap(self, event):
        """A click on the L(b) plot starts the 1-D descent at that b (clamped to the control's bounds)."""
        if event.x is None:
            return
        lo, hi = self.model.param.b.bounds
        self.model.b = round(min(max(float(event.x), lo), hi), 4)

    def _on_surface_tap(self, event):
        """A click on the heatmap starts the 2-D descent at that (w, b) (clamped to the controls' bounds)."""
        if event.x is None or event.y is None:
            return
        (wl, wh), (bl, bh) = self.model.param.start_w.bounds, self.model.param.start_b.bounds
        self.model.param.update(
            start_w=round(min(max(float(event.x), wl), wh), 3), start_b=round(min(max(float(event.y), bl), bh), 3)
        )

    # ------------------------------------------------------------------------------------------------ updates
    def _refresh(self, names: set):
        def work():
            m = self.model
            lr, clip, n = float(m.learning_rate), float(m.clip_norm), int(m.descent_steps)
            one, two = bool(names & set(ONE_D)), bool(names & set(TWO_D))
            d1 = curve = d2 = surface = None
            if one:
                d1 = cliff.descend(float(m.b), lr, n, clip_norm=clip, loss_steps=int(m.steps))
                window = self._b_window(d1)
                key = (int(m.steps), window)
                if key != self._curve_key:
                    curve = cliff.loss(self._loss_grid(window), steps=int(m.steps))
            if two:
                d2 = cliff.descend(
                    (float(m.start_w), float(m.start_b)),
                    lr,
                    n,
                    clip_norm=clip,
                    problem="pascanu",
                    loss_steps=int(m.pascanu_steps),
                )
                if int(m.pascanu_steps) != self._surface_steps:
                    surface = cliff.pascanu_loss(SURFACE_W_GRID, SURFACE_B_GRID, steps=int(m.pascanu_steps))
            with document_hold(self._doc):
                if d1 is not None:
                    self._d1 = d1
                if curve is not None:
                    self._curve, self._curve_key = curve, key
                    self._draw_curve(window)
                if d1 is not None and self._window != self._curve_key[1]:  # a user's zoom survives other moves
                    self._window = self._curve_key[1]
                    self.b_range.update(start=self._window[0], end=self._window[1])
                if d2 is not None:
                    self._d2 = d2
                if surface is not None:
                    self._surface, self._surface_steps = surface, int(m.pascanu_steps)
                    self._draw_surface()
                self._draw_steps()
                self._draw_paths()
            self.notices.clear("setting")

        self._guard(work)

    def _b_window(self, d: cliff.Descent) -> tuple[float, float]:
        """The plotted b range: LOSS_WINDOW widened (in steps of 0.5) to contain both paths, inside the engine's
        range of b."""
        bs = np.concatenate([d.plain.params[:, 0], d.clipped.params[:, 0]]).astype(np.float64)
        bs = bs[np.isfinite(bs)]
        lo, hi = LOSS_WINDOW
        if bs.size:
            lo, hi = min(lo, float(bs.min())), max(hi, float(bs.max()))
        if (lo, hi) != LOSS_WINDOW:
            pad = 0.05 * (hi - lo)
            lo, hi = _outward(lo - pad, hi + pad)
        return max(lo, doya.B_RANGE[0]), min(hi, doya.B_RANGE[1])

    @staticmethod
    def _loss_grid(window) -> np.ndarray:
        """LOSS_N values of b: uniform over the window plus geometrically spaced ones on both sides of the wall."""
        dense = SEED_WALL_B + np.concatenate([-DENSE_OFFSETS[::-1], DENSE_OFFSETS])
        return np.sort(np.concatenate([np.linspace(window[0], window[1], LOSS_UNIFORM), dense]))

    def _draw_curve(self, window):
        c = self._curve
        self.curve_source.data = dict(b=c.b, loss=c.loss.astype(np.float64))
        grad = np.abs(c.grad.astype(np.float64))
        self.grad_profile.update(c.b, {"grad": grad})
        finite = np.where(np.isfinite(grad), grad, -1.0)
        if finite.max() > 0:  # the wall: where the engine's |dL/db| is largest (overflow counts as largest)
            i = int(np.argmax(np.where(np.isfinite(grad), grad, np.inf)))
            self._cliff_b = float(c.b[i])
            self.wall1.location = self.wall2.location = self._cliff_b

    def _draw_surface(self):
        s = self._surface
        if s is None:
            return
        if self.model.surface == "loss":
            values = s.loss
        else:
            values = safe_log10(np.hypot(s.grad_w.astype(np.float64), s.grad_b.astype(np.float64)))
        dw = 0.5 * (s.w[1] - s.w[0])
        db = 0.5 * (s.b[1] - s.b[0])
        with document_hold(self._doc):
            self.surface_map.set_value_label(self._surface_label())
            self._counts["surface"] = self.surface_map.update(
                values, s.w[0] - dw, s.w[-1] + dw, y_range=(s.b[0] - db, s.b[-1] + db)
            )
            self._draw_overflow_notice()

    def _draw_steps(self):
        d1, d2 = self._d1, self._d2
        if d1 is None or d2 is None:
            return
        n = d1.plain.update_norm.shape[0]
        steps = np.arange(1, n + 1)
        cap = np.full(n, d1.clipped.learning_rate * d1.clipped.clip_norm)
        self.step_profile.update(
            steps,
            {
                "plain_1d": d1.plain.update_norm,
                "clipped_1d": d1.clipped.update_norm,
                "plain_2d": d2.plain.update_norm,
                "clipped_2d": d2.clipped.update_norm,
                "cap": cap,
            },
        )
        self.loss_profile.update(
            np.arange(n + 1),
            {
                "plain_1d": d1.plain.loss,
                "clipped_1d": d1.clipped.loss,
                "plain_2d": d2.plain.loss,
                "clipped_2d": d2.clipped.loss,
            },
        )

    def _draw_paths(self):
        """Both paths up to the replayed step k, the points at step k, the replay text, and the summary; then the
        paths whole for the browser's replay (sent last: the browser then re-applies its own step)."""
        d1, d2 = self._d1, self._d2
        if d1 is None or d2 is None:
            return
        k = min(int(self.model.shown_step), d1.plain.params.shape[0] - 1)
        fresh = self._replay_of is None or self._replay_of[0] is not d1 or self._replay_of[1] is not d2
        if fresh:  # once per descent: every step's text costs ~0.1 ms
            self._replay_of, self._replay = (d1, d2), self._replay_data()
        full = self._replay
        with document_hold(self._doc):
            for key in ("plain", "clipped"):
                self.path1[key].data = {c: full[f"{c}1_{key}"][: k + 1] for c in ("b", "loss", "grad")}
                self.path2[key].data = {c: full[f"{c}2_{key}"][: k + 1] for c in ("w", "b")}
            self.now1.data = {
                c: np.array([full[f"{c}1_plain"][k], full[f"{c}1_clipped"][k]]) for c in ("b", "loss", "grad")
            } | {"color": np.array(NOW1_COLORS, dtype=object)}
            self.now2.data = {c: np.array([full[f"{c}2_plain"][k], full[f"{c}2_clipped"][k]]) for c in ("w", "b")} | {
                "color": np.array(NOW2_COLORS, dtype=object)
            }
            self.start2.data = dict(
                w=np.array([float(d2.plain.params[0, 0])]), b=np.array([float(d2.plain.params[0, 1])])
            )
            for span in self.step_markers:
                span.location = k
            self.replay_text.object = self._replay_line(k)
            self._draw_summary()
            self._draw_overflow_notice()
            if fresh:
                self.replay_full.data = full
                self.replay_version.value += 1  # after the data: the browser re-applies its step to the new paths

    def _replay_data(self) -> dict:
        """``replay_full``'s columns (see ``_replay_columns``): every step of both paths, float64, and the replay
        text of every step."""
        d1, d2 = self._d1, self._d2
        full = {}
        for key in ("plain", "clipped"):
            p, q = getattr(d1, key), getattr(d2, key)
            full[f"b1_{key}"] = p.params[:, 0].astype(np.float64)
            full[f"loss1_{key}"] = p.loss.astype(np.float64)
            full[f"grad1_{key}"] = np.abs(p.grad[:, 0].astype(np.float64))
            full[f"w2_{key}"] = q.params[:, 0].astype(np.float64)
            full[f"b2_{key}"] = q.params[:, 1].astype(np.float64)
        full["line"] = np.array(
            [self._encoder._transform_object(self._replay_line(k))["object"] for k in range(d1.plain.params.shape[0])],
            dtype=object,
        )
        return full

    def _replay_line(self, k: int) -> str:
        """The replay text of step k (HTML made of numbers and fixed words only)."""
        d1, d2 = self._d1, self._d2
        n = d1.plain.update_norm.shape[0]
        cap = d1.clipped.learning_rate * d1.clipped.clip_norm
        p, c = d1.plain, d1.clipped
        q, r = d2.plain, d2.clipped
        lines = [  # (bold, plain): escaped, though they hold only numbers and fixed words
            (
                f"Replay: step {k} of {n}",
                f", learning rate η = {d1.plain.learning_rate:g}, clipping threshold θ = {d1.clipped.clip_norm:g} "
                f"(a clipped step moves at most η·θ = {cap:g}).",
            ),
            (
                "1-D",
                f" at step {k}: plain b = {_fmt(p.params[k, 0], 4)}, L = {_fmt(p.loss[k])}; "
                f"clipped b = {_fmt(c.params[k, 0], 4)}, L = {_fmt(c.loss[k])}.",
            ),
            (
                "2-D",
                f" at step {k}: plain (w, b) = ({_fmt(q.params[k, 0])}, {_fmt(q.params[k, 1])}), "
                f"E = {_fmt(q.loss[k])}; clipped ({_fmt(r.params[k, 0])}, {_fmt(r.params[k, 1])}), "
                f"E = {_fmt(r.loss[k])}.",
            ),
        ]
        return "<br>".join(f"<b>{html.escape(bold)}</b>{html.escape(plain)}" for bold, plain in lines)

    def _draw_summary(self):
        """What does not depend on the replayed step: the largest steps, the jump over the wall, clipping."""
        d1, d2 = self._d1, self._d2
        n = d1.plain.update_norm.shape[0]

        def biggest(path):
            steps = np.where(np.isfinite(path.update_norm), path.update_norm, np.inf)
            i = int(np.argmax(steps)) if steps.size else 0
            return i, float(path.update_norm[i]) if steps.size else 0.0

        lines = []
        if n:
            p, c = d1.plain, d1.clipped
            i, big = biggest(p)
            jump = ""
            if math.isfinite(self._cliff_b):
                before, after = p.params[i, 0] - self._cliff_b, p.params[i + 1, 0] - self._cliff_b
                if np.isfinite(before) and np.isfinite(after) and np.sign(before) != np.sign(after):
                    jump = f" — **it jumped over the wall** at b ≈ {self._cliff_b:.3f}"
            lines.append(
                f"**1-D:** largest plain step |Δb| = {_fmt(big)} (step {i + 1}, |dL/db| = {_fmt(p.grad_norm[i])})"
                f"{jump}; clipped steps ≤ {_fmt(float(np.nanmax(c.update_norm)))}, "
                f"{int(c.clipped.sum())} of {n} clipped."
            )
            p, c = d2.plain, d2.clipped
            i, big = biggest(p)
            w1, b1 = p.params[i + 1]
            left = not (SURFACE_W[0] <= w1 <= SURFACE_W[1] and SURFACE_B[0] <= b1 <= SURFACE_B[1])
            lines.append(
                f"**2-D:** largest plain step {_fmt(big)} (step {i + 1}, ‖∇E‖ = {_fmt(p.grad_norm[i])})"
                + (f" — **catapulted off the map** to ({_fmt(w1)}, {_fmt(b1)})" if left else "")
                + f"; clipped steps ≤ {_fmt(float(np.nanmax(c.update_norm)))}, "
                f"{int(c.clipped.sum())} of {n} clipped."
            )
        zeros = self._marked_kinds().count("underflow")
        if zeros:
            lines.append(
                f"Crosses at the bottom of the log plots: {zeros} values are exactly 0 — below float32 "
                "resolution, e.g. a step on a plateau too small to change the parameter (the gradient "
                "vanished)."
            )
        self.summary.object = "\n\n".join(lines)

    def _marked_kinds(self) -> list[str]:
        profiles = (self.grad_profile, self.step_profile, self.loss_profile)
        return [k for prof in profiles for k in prof.marks.data["kind"]]

    def _draw_overflow_notice(self):
        parts = []
        s = self._counts["surface"]
        if s.overflow:
            parts.append(f"{s.overflow} heatmap cells overflowed float32 (magenta)")
        if s.underflow:
            parts.append(f"{s.underflow} heatmap cells are exactly 0 (black)")
        kinds = self._marked_kinds()
        if kinds.count("overflow"):
            parts.append(f"{kinds.count('overflow')} plotted values overflowed float32 (crosses at the top)")
        self.overflow.set("counts", "⚠ " + "; ".join(parts) if parts else "")

    # ------------------------------------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        m = self.model
        w = pn.widgets
        return pn.Column(
            "### 1-D loss (Doya's neuron)",
            w.FloatSlider.from_param(m.param.b, name="b (1-D start)"),
            w.IntSlider.from_param(m.param.steps, name="T (1-D)"),
            "### 2-D loss (Pascanu)",
            w.FloatSlider.from_param(m.param.start_w, name="w (2-D start)"),
            w.FloatSlider.from_param(m.param.start_b, name="b (2-D start)"),
            w.IntSlider.from_param(m.param.pascanu_steps, name="T (2-D)"),
            w.RadioButtonGroup.from_param(m.param.surface, name="heatmap shows"),
            "### Gradient descent",
            w.DiscreteSlider.from_param(m.param.learning_rate, name="learning rate η"),
            w.DiscreteSlider.from_param(m.param.clip_norm, name="clip threshold θ"),
            w.IntSlider.from_param(m.param.descent_steps, name="descent steps"),
            "### Replay",
            *self._replay_controls(),
            width=320,
        )

    def _replay_controls(self) -> list:
        """The step slider and ▶: browser-side (they only choose a step of the paths the browser holds, see
        REPLAY_JS); ▶ moves the slider in the browser. The server still sets them (bounds, presets, links)."""
        m = self.model
        slider = browser_only(pn.widgets.IntSlider).from_param(m.param.shown_step, name="step shown")
        player = browser_only(pn.widgets.Player).from_param(
            m.param.shown_step, name="play", interval=300, loop_policy="once", width=280, show_loop_controls=False
        )
        slider.jscallback(args=self._replay_args(), value=STEP_JS)
        player.jslink(slider, value="value", bidirectional=True)
        return [slider, player, self.replay_version]

    def panel(self) -> pn.viewable.Viewable:
        return page_layout(
            self.slug,
            self.controls(),
            [
                preset_bar(self.model, PRESETS),
                self.notice,
                self.overflow_notice,
                self.replay_text,
                self.summary,
            ],
            self.figures(),
            [explanation_panel(EXPLANATION)],
        )

    def figures(self) -> dict:
        return {
            "loss-curve": self.curve_figure,
            "gradient": self.grad_profile.figure,
            "surface": self.surface_map.figure,
            "step-length": self.step_profile.figure,
            "loss-along-paths": self.loss_profile.figure,
        }
