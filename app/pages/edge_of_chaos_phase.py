"""The trainability phase diagram of the "Edge of chaos" page (Schoenholz et al. 2017, "Deep information
propagation", Sec. 5 and Fig. 5): the committed run of ``vgp_core.experiments.trainability`` drawn as training
accuracy over (σ_w², depth) with the mean-field boundary L = 6 ξ_c and the order-to-chaos line χ₁ = 1; a tap on a
cell retrains that network live (same draws, same minibatches) and streams its loss curve beside the committed one.

``PhaseDiagramView(page)`` is a part of a page, not a page: the page adds ``view.panel()`` to its layout and
``view.figures()`` to its figures. The committed run is read on first use (``load_committed``, cached per process);
retraining runs on the page's background lane (``page.background_run``: training priority, cancelled at session end,
waited for by ``page.settle``).
"""

from __future__ import annotations

import math

import numpy as np
import panel as pn
from bokeh.events import Tap
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d, Span
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from vgp_core.experiments import trainability as tr

from ..components.heatmap import OVERFLOW_COLOR
from ..components.notices import literal

#: notice key of this view (the page's notices are shared by all its views)
NOTICE_KEY = "trainability"
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"

EXPLANATION = (
    "**Trainability (Schoenholz et al. 2017, Sec. 5, Fig. 5).** Each cell is a tanh network of that depth whose "
    "weights have variance σ_w²/N and biases σ_b² = 0.05, trained with plain SGD for a fixed number of steps on the "
    "8×8 handwritten digits; its colour is the training accuracy reached (chance: 10 %). The white dashed curve is "
    "L = 6 ξ_c, six correlation depth scales (their Eq. 9): signals that reach the output still tell inputs apart "
    "only within a few ξ_c layers, and ξ_c diverges at the order-to-chaos line χ₁ = 1 (red). The paper finds the "
    "trainable region inside this curve. Our budget is small (it fits a 2-core CPU), so deep networks near the "
    "critical line, which the theory allows, have not yet learned: the region grows towards the curve with more "
    "steps. Magenta cells diverged (a non-finite loss). Tap a cell to retrain it here and watch its loss."
)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted ``centres``: midpoints, the ends extended by half the neighbouring gap."""
    c = np.asarray(centres, np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def cell_at(result: tr.TrainabilityResult, x: float, y: float) -> tuple[int, int] | None:
    """(σ_w² index, depth index) of the cell drawn at (x, y), or None outside the grid."""
    xe, ye = _edges(result.sigma_w2), _edges(result.depths)
    i, j = np.searchsorted(xe, x) - 1, np.searchsorted(ye, y) - 1
    if not (0 <= i < len(result.sigma_w2) and 0 <= j < len(result.depths)):
        return None
    return int(i), int(j)


def heatmap_data(result: tr.TrainabilityResult) -> dict:
    """Column data of the heatmap's quads, one per (σ_w², depth) cell; diverged cells have accuracy NaN (drawn in
    the overflow colour)."""
    xe, ye = _edges(result.sigma_w2), _edges(result.depths)
    ii, jj = np.meshgrid(np.arange(len(result.sigma_w2)), np.arange(len(result.depths)), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    train = np.where(result.diverged, np.nan, result.train_accuracy).ravel()
    test = np.where(result.diverged, np.nan, result.test_accuracy).ravel()
    six_xi = np.repeat(result.trainable_depth(), len(result.depths))
    return dict(
        left=xe[ii],
        right=xe[ii + 1],
        bottom=ye[jj],
        top=ye[jj + 1],
        sigma_w2=result.sigma_w2[ii],
        depth=result.depths[jj].astype(np.float64),
        train=train,
        test=test,
        six_xi=np.where(np.isfinite(six_xi), six_xi, np.nan),
        diverged=np.array(["yes" if d else "no" for d in result.diverged.ravel()], dtype=object),
    )


def run_summary(result: tr.TrainabilityResult) -> str:
    """Plain text: what the committed run is (command, budget, seed, device, time) and its agreement with 6 ξ_c."""
    c = result.config
    agree = tr.boundary_agreement(result)
    n_trained = agree.inside_trainable + agree.outside_trainable
    return (
        f"Committed run: {result.command}\n"
        f"Budget: {c.steps} SGD steps per network (minibatch {c.batch_size}, learning rate {c.learning_rate:g}), "
        f"width {c.width}, seed {c.seed}; {len(result.sigma_w2)} × {len(result.depths)} networks in "
        f"{result.wall_time_s:.0f} s on {result.device} ({result.nets_per_second:.2f} networks/s, jax "
        f"{result.jax_version}{', one vmap per depth' if result.vectorized else ''}).\n"
        f"Critical σ_w² (χ₁ = 1): {result.critical_sigma_w2:.3f}. Of the {n_trained} cells above "
        f"{100 * (result.chance + agree.margin):.0f} % training accuracy, {agree.inside_trainable} lie "
        f"inside L = 6 ξ_c and none deeper than {agree.max_depth_ratio:.2f} × 6 ξ_c; {agree.inside_trainable} of the "
        f"{agree.inside_total} cells inside trained at this budget."
    )


class PhaseDiagramView:
    """The committed trainability phase diagram and the live retraining of a tapped cell.

    Args:
      page: the ``Page`` that shows this view (its notices, background lane and session).
      path: the results file (default: the committed ``assets/trainability/results.json``).
    """

    def __init__(self, page, path: str = tr.ASSET_PATH):
        self._page = page
        self.result: tr.TrainabilityResult | None = None
        try:
            self.result = tr.load_committed(path)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            page.notices.set(NOTICE_KEY, f"The committed trainability run could not be read: {exc}")
        self.selected: tuple[int, int] | None = None
        self.last_progress: tr.TrainProgress | None = None
        self._build_figures()
        self.summary = pn.pane.Markdown(
            literal(run_summary(self.result)) if self.result else "", margin=(0, 10), disable_math=True
        )
        self.status = pn.pane.Markdown("", margin=(0, 10), disable_math=True)
        self._runner = page.background_run(self._on_progress, self._on_error)
        if self.result is not None:
            self._draw_result()

    # ------------------------------------------------------------------------------------------------ figures
    def _build_figures(self):
        self.mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=1.0, nan_color=OVERFLOW_COLOR)
        self.cells = ColumnDataSource(data=heatmap_data(self.result) if self.result else {})
        fig = figure(
            title="Training accuracy after the budget (tap a cell to retrain it)",
            x_axis_label="σ_w² (weight variance × fan-in)",
            y_axis_label="depth L (hidden layers)",
            height=380,
            width=560,
            tools=TOOLS,
            toolbar_location="above",
            css_classes=["vgp-trainability-map"],
        )
        quads = fig.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            source=self.cells,
            fill_color={"field": "train", "transform": self.mapper},
            line_color=None,
        )
        fig.add_tools(
            HoverTool(
                renderers=[quads],
                tooltips=[
                    ("σ_w²", "@sigma_w2{0.00}"),
                    ("depth", "@depth{0}"),
                    ("training accuracy", "@train{0.000}"),
                    ("test accuracy", "@test{0.000}"),
                    ("6 ξ_c", "@six_xi{0.0}"),
                    ("diverged", "@diverged"),
                ],
            )
        )
        fig.add_layout(ColorBar(color_mapper=self.mapper, title="training accuracy", width=10), "right")
        self.boundary = ColumnDataSource(data=dict(sigma_w2=np.zeros(0), depth=np.zeros(0)))
        fig.line(
            "sigma_w2", "depth", source=self.boundary, color="white", line_dash="dashed", line_width=2.5,
            legend_label="L = 6 ξ_c",
        )  # fmt: skip
        self.critical = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0)))  # a line: Spans have no legend
        fig.line(
            "x", "y", source=self.critical, color="#d62728", line_dash="dashed", line_width=2,
            legend_label="χ₁ = 1 (order | chaos)",
        )  # fmt: skip
        self.marker = ColumnDataSource(data=dict(left=[], right=[], bottom=[], top=[]))
        fig.quad(
            left="left", right="right", bottom="bottom", top="top", source=self.marker, fill_alpha=0,
            line_color="#d62728", line_width=3,
        )  # fmt: skip
        fig.legend.location = "top_right"
        fig.legend.background_fill_alpha = 0.6
        fig.on_event(Tap, self._on_tap)
        self.map_figure = fig

        self.live = ColumnDataSource(data=dict(step=np.zeros(0), loss=np.zeros(0)))
        self.committed_curve = ColumnDataSource(data=dict(step=np.zeros(0), loss=np.zeros(0)))
        lfig = figure(
            title="Loss of the tapped cell (live retraining)",
            x_axis_label="SGD step",
            y_axis_label="minibatch loss (NLL)",
            height=380,
            width=560,
            tools=TOOLS,
            toolbar_location="above",
            css_classes=["vgp-trainability-loss"],
        )
        lfig.line("step", "loss", source=self.live, color="#1f77b4", line_width=1.5, legend_label="retrained now")
        lfig.line(
            "step", "loss", source=self.committed_curve, color="#ff7f0e", line_width=2.5, line_dash="dashed",
            legend_label="committed run (chunk means)",
        )  # fmt: skip
        lfig.scatter("step", "loss", source=self.committed_curve, color="#ff7f0e", size=6)
        self.chance_line = Span(location=math.log(10.0), dimension="width", line_color="gray", line_dash="dotted")
        lfig.add_layout(self.chance_line)  # ln 10: the loss of a uniform guess over 10 classes
        lfig.legend.location = "top_right"
        lfig.legend.background_fill_alpha = 0.6
        self.loss_figure = lfig

    def _draw_result(self):
        r = self.result
        top = float(_edges(r.depths)[-1])
        self.critical.data = dict(x=np.full(2, float(r.critical_sigma_w2)), y=np.array([0.0, 1.05 * top]))
        # 6 ξ_c is stored as null (NaN) only where it is infinite: at χ₁ = 1 (q* is finite for tanh)
        depth = np.where(np.isnan(r.boundary_depth), np.inf, r.boundary_depth)
        # clipped just above the grid, so the curve leaves the plot where 6 ξ_c exceeds every depth trained
        self.boundary.data = dict(sigma_w2=r.boundary_sigma_w2, depth=np.minimum(depth, 1.05 * top))
        xe = _edges(r.sigma_w2)
        self.map_figure.x_range = Range1d(float(xe[0]), float(xe[-1]))
        self.map_figure.y_range = Range1d(0.0, 1.05 * top)
        n_div = int(np.sum(r.diverged))
        if n_div:
            self._page.overflow.set(NOTICE_KEY, f"{n_div} networks of the phase diagram diverged (drawn magenta).")

    # ------------------------------------------------------------------------------------------------ events
    def _on_tap(self, event):
        if self.result is None or event.x is None or event.y is None:
            return
        cell = cell_at(self.result, float(event.x), float(event.y))
        if cell is not None:
            self.select(*cell)

    def select(self, i: int, j: int) -> None:
        """Retrain cell (σ_w² index ``i``, depth index ``j``) in the background and draw its committed loss curve."""
        r = self.result
        self.selected = (i, j)
        xe, ye = _edges(r.sigma_w2), _edges(r.depths)
        self.marker.data = dict(left=[xe[i]], right=[xe[i + 1]], bottom=[ye[j]], top=[ye[j + 1]])
        committed = r.loss_curve[i, j]
        self.committed_curve.data = dict(
            step=r.chunk_ends.astype(np.float64), loss=np.where(np.isfinite(committed), committed, np.nan)
        )
        self.live.data = dict(step=np.zeros(0), loss=np.zeros(0))
        sw2, depth = float(r.sigma_w2[i]), int(r.depths[j])
        self.status.object = literal(f"Retraining σ_w² = {sw2:g}, depth {depth} …")
        self._page.notices.clear(NOTICE_KEY)
        config = r.config
        self._runner.start(lambda: tr.train_one_chunks(sw2, depth, config))

    def _on_progress(self, p: tr.TrainProgress) -> None:
        self.last_progress = p
        loss = np.where(np.isfinite(p.loss), p.loss, np.nan)
        self.live.data = dict(step=np.arange(1, len(loss) + 1, dtype=np.float64), loss=loss)
        state = "done" if p.done else "training"
        text = (
            f"σ_w² = {p.sigma_w2:g}, depth {p.depth}: {state}, step {p.steps_done} of {self.result.config.steps}; "
            f"training accuracy {100 * p.train_accuracy:.1f} %, test accuracy {100 * p.test_accuracy:.1f} %"
        )
        if p.diverged:
            text += " — diverged: the loss became non-finite (gaps in the curve)"
        self.status.object = literal(text)

    def _on_error(self, exc: Exception) -> None:
        self._page.notices.set(NOTICE_KEY, f"Retraining failed: {exc}")

    # ------------------------------------------------------------------------------------------------ display
    def panel(self) -> pn.viewable.Viewable:
        """The view's text (explanation, run record, live status); its figures come from ``figures()``."""
        return pn.Column(
            pn.pane.Markdown(EXPLANATION, margin=(0, 10), disable_math=True), self.summary, self.status, width=560
        )

    def figures(self) -> dict:
        return {"trainability": self.map_figure, "trainability-loss": self.loss_figure}
