"""Page "Deep network": per-layer gradients of a deep feedforward net, at initialisation and during training.

One module of ~1,040 lines, on purpose: the page's model, its figures (the layer-histogram map among them), its step
frames and the redraw table that says which views each control moves belong together and are read top to bottom.

``DeepNetworkModel`` declares every control; ``DeepNetworkPage`` owns the figures (created once) and updates
their data sources in place when the model changes. All numbers come from ``vgp_core``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator

import jax
import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d, Span
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from vgp_core import ConfigError, bounds, diagnostics, initializers, mlp, theory

from ..components.browser_views import browser_only
from ..components.config_controls import control
from ..components.explanation import explanation_panel
from ..components.figure_text import FigureText, gradient_ratio_sentence, paragraph, summary
from ..components.heatmap import OVERFLOW_COLOR, UNDERFLOW_COLOR, LogHeatmap
from ..components.log_profile import LogProfile
from ..components.numeric import NonFinite, safe_log10
from ..components.page import Page, document_hold, on_session_loop
from ..components.page_layout import folded_sections, page_layout
from ..components.presets import preset_bar
from ..components.results_cache import RESULTS
from ..components.shared_runs import run_once
from ..components.step_frames import ALSO, BASE, FrameSet, SharedFrames, StepFrames, step_key
from ..components.training import VIEWS, BackgroundRun

#: gains of the sweep heatmap (x axis); also the gain slider's range.
#: the bounds of MLPConfig (vgp_core.bounds): defaults, choices and the ranges the controls offer
MLP_BOUNDS = bounds.of(mlp.MLPConfig)
GAIN_RANGE = MLP_BOUNDS["gain"].offered
SWEEP_GAINS = np.linspace(*GAIN_RANGE, 64).astype(np.float32)
WIDTHS = [16, 32, 64, 128, 256, 512]
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]
#: wait this long after the last move before the (slower) Jacobian SVDs are measured.
JACOBIAN_DELAY_MS = 250
#: a training run starts only once the controls have rested this long (also after the page opens): while a student
#: drags a slider (or a class of 30 moves theirs, or opens and closes the page), no run is started only to be
#: cancelled a moment later — each costs a 10-step chunk of CPU before the cancel takes effect.
TRAINING_DELAY_MS = 1000
#: a finished run of the new settings (from the shared results) is drawn this long after the move: Panel writes the
#: changes that queue up within ~10 ms as one message, and the move's views must not wait for the run's ~0.3 MB
FINISHED_RUN_DELAY_MS = 100
#: the update:data plot draws this many layers (evenly spaced, first and last included), as Karpathy (2022) does
UPDATE_LAYERS_SHOWN = 8
#: a redraw builds at most this many step frames (``StepFrames``) at once when served; a finished run shown from the
#: shared results (up to 2,000 steps; ~4 ms a step at depth 50 on this loaded machine) gets the rest on the event
#: loop's next ticks, so that the move or the page's opening is answered first
FRAMES_PER_TICK = 25
#: the step frames of what sessions share (a profile from RESULTS, and a training run: finished in RESULTS, or in
#: progress and followed through SHARED_RUNS): a class opening the default page makes its trained run's frames
#: once (~0.3 s of CPU a session on two cores otherwise)
SHARED_FRAMES = SharedFrames()
#: the download buttons under the figures: before a press the browser sends its shown step (``StepFrames``)
DOWNLOAD_SELECTOR = ".vgp-download"
#: the figures whose data follow the step shown, with the frame targets of their data sources and of their title:
#: each step's frame holds their summaries too, so the text alternative follows a move in the browser (WCAG 1.1.1)
STEP_FIGURES = {
    "activation-stats": (("stats", "stats_marks"), "stats_title"),
    "activation-histograms": (("act_hist", "act_sides"), "act_title"),
    "gradient-histograms": (("grad_hist", "grad_sides"), "grad_title"),
    "grad-data": (("ratios", "ratios_marks"), "ratios_title"),
}


def _summary_target(figure: str) -> str:
    """The frame target of a figure's summary (and the CSS class by which the browser finds its pane)."""
    return "summary-" + figure


#: Karpathy's (2022) diagnostics, in a section whose figure cards are built when a student first opens it
#: (``page_layout.FoldedSection``): a session that never opens it costs the server ~20 % less CPU and ~35 % fewer
#: Bokeh models (``bench/bench_session.py``). The figures themselves are made in ``setup``, so their step frames
#: and redraws hold whether or not the section is open.
DIAGNOSTICS_SECTION = {
    "Diagnostics practitioners use (Karpathy 2022): histograms, grad:data, update:data": (
        "activation-histograms",
        "gradient-histograms",
        "grad-data",
        "update-data",
    )
}
#: healthy update:data ratio, log10 (Karpathy 2022, "Building makemore part 3"): updates ~1/1000 of the weights
UPDATE_DATA_REFERENCE = -3.0
#: histogram shares below this are drawn as the colour scale's bottom (log10 share)
SHARE_FLOOR = -5.0

ARCHITECTURE = ["depth", "width", "activation", "init", "gain", "bias_std", "residual", "batchnorm", "seed"]
TRAINING = ["optimizer", "learning_rate", "clip_norm", "steps", "auto_train"]

PRESETS = {
    "sigmoid, 20 layers, standard init (vanishing)": dict(
        activation="sigmoid", depth=20, init="standard", gain=1.0, bias_std=0.0, residual=False, batchnorm=False
    ),
    "tanh, gain 1.5 (exploding)": dict(
        activation="tanh", depth=50, init="lecun_normal", gain=1.5, bias_std=0.0, residual=False, batchnorm=False
    ),
    "ReLU + He (healthy)": dict(
        activation="relu", depth=50, init="he_normal", gain=1.0, bias_std=0.0, residual=False, batchnorm=False
    ),
    "deep tanh + orthogonal at the edge of chaos": dict(
        activation="tanh", depth=200, init="orthogonal", gain=1.0, bias_std=0.0, residual=False, batchnorm=False
    ),
    "sigmoid + residual": dict(
        activation="sigmoid", depth=20, init="standard", gain=1.0, bias_std=0.0, residual=True, batchnorm=False
    ),
    "sigmoid + batch norm": dict(
        activation="sigmoid", depth=20, init="standard", gain=1.0, bias_std=0.0, residual=False, batchnorm=True
    ),
}

EXPLANATION = (
    (
        "md",
        """### What you see
Back-propagation multiplies the gradient by one Jacobian per layer,""",
    ),
    (
        "tex",
        r"\frac{\partial L}{\partial h_{l-1}} = \frac{\partial L}{\partial h_l}\,"
        r"\mathrm{diag}\big(\phi'(s_l)\big)\, W_l^\top,",
    ),
    (
        "md",
        """so across L layers it is scaled by a product of L factors. When their typical size is below 1 the
gradient **vanishes** toward the input layer (the bottom rows of the heatmaps turn dark), above 1 it **explodes**
(bright, then magenta where float32 overflows). Mean-field theory predicts the factor for wide random nets: the
gradient variance is multiplied per layer by""",
    ),
    (
        "tex",
        r"\chi_1 = \sigma_w^2\,\mathbb{E}_{z\sim\mathcal N(0,1)}\big[\phi'(\sqrt{q^*}\,z)^2\big],"
        r"\qquad \sigma_w^2 = n_{\mathrm{in}}\,\mathrm{Var}(W),",
    ),
    (
        "md",
        """and χ₁ = 1 is the *edge of chaos* (red dashed line in the gain sweep; the
[Edge of chaos](?page=edge-of-chaos) page draws the maps behind it and the Jacobian's whole spectrum).
The sigmoid's φ′ ≤ 1/4 makes it vanish unless the weights are large; ReLU with He init sits exactly at χ₁ = 1;
residual connections add an identity path (I + ∇f) and batch norm rescales every layer, which is why both rescue
the deep sigmoid net.
**Magenta** cells or crosses: the value overflowed float32 (inf/NaN); **black**: it underflowed to exactly 0.""",
    ),
    (
        "md",
        """### Diagnostics practitioners use
The four plots of Karpathy, "Building makemore part 3: activations & gradients, BatchNorm" (2022), with every
layer in one view: the histograms of h_l and of the back-propagated gradients ∂L/∂h_l (one row per layer, colour =
log10 share of the batch × width entries; gradients on a log10 axis so that 10⁻¹⁷ and 10⁰ both show, with the exact
zeros in a black column and inf/NaN in a magenta one beside the range), the saturated and dead-unit shares (a unit
is dead when φ(s_l) = 0 for every example of the batch), the weight-gradient std with the grad:data ratio
std(∂L/∂W_l)/std(W_l), and, during training, the update:data ratio log10(std(ΔW_l)/std(W_l)) of the optimizer's
actual update (lr·g for SGD), which Karpathy reads as healthy near −3 (dashed line). The histograms follow the
shown step (measured every 10 steps, on the training batch). The line under the controls says where the engine
ran and how long the server took for the last move.""",
    ),
)


class DeepNetworkModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description."""

    depth = control(MLP_BOUNDS["depth"], doc="Number of hidden layers L.")
    width = param.Selector(default=MLP_BOUNDS["width"].default, objects=WIDTHS, doc="Units per hidden layer.")
    activation = control(MLP_BOUNDS["activation"], doc="Activation function phi.")
    init = control(MLP_BOUNDS["init"], doc="Weight initialization.")
    gain = control(
        MLP_BOUNDS["gain"],
        bounds=GAIN_RANGE,
        step=0.05,
        doc="Weight scale: multiplies every initial weight "
        "(for orthogonal weights, the spectral radius of each layer).",
    )
    bias_std = control(MLP_BOUNDS["bias_std"], step=0.05, doc="Standard deviation of the initial biases.")
    residual = control(MLP_BOUNDS["residual"], doc="Residual connections h_l = h_{l-1} + phi(s_l).")
    batchnorm = control(MLP_BOUNDS["batchnorm"], doc="Batch normalization of every pre-activation.")
    seed = control(MLP_BOUNDS["seed"], doc="Random seed of weights and data.")
    optimizer = param.Selector(default="sgd", objects=list(mlp.OPTIMIZERS), doc="Optimizer (optax).")
    learning_rate = param.Selector(default=0.01, objects=LEARNING_RATES, doc="Learning rate.")
    clip_norm = param.Number(0.0, bounds=(0.0, 10.0), step=0.1, doc="Gradient-norm clipping threshold; 0 = off.")
    steps = param.Integer(200, bounds=(10, 2000), step=10, doc="Training steps.")
    auto_train = param.Boolean(True, doc="Retrain automatically after every change.")
    shown_step = param.Integer(0, bounds=(0, 1999), doc="Training step shown in the per-layer views (0 = init).")

    def config(self) -> mlp.MLPConfig:
        return mlp.MLPConfig(
            depth=int(self.depth),
            width=int(self.width),
            activation=self.activation,
            init=self.init,
            gain=float(self.gain),
            bias_std=float(self.bias_std),
            residual=bool(self.residual),
            batchnorm=bool(self.batchnorm),
            seed=int(self.seed),
        )

    @param.depends("steps", watch=True, on_init=True)  # on_init: a model made with steps=N is bounded too
    def _bound_shown_step(self):
        self.param.shown_step.bounds = (0, int(self.steps) - 1)
        if self.shown_step > self.steps - 1:
            self.shown_step = int(self.steps) - 1


URL_PARAMS = ARCHITECTURE + TRAINING + ["shown_step"]


def _profile(config: mlp.MLPConfig, with_jacobian: bool) -> mlp.GradientProfile:
    """``mlp.gradient_profile``, computed once per server for every session that shows this configuration.

    The slower views of a move come together: the Jacobian SVDs and the layer diagnostics (histograms, dead units,
    grad:data; a scatter-add per layer that would more than double a move's profile on two CPU cores) are measured
    in the same call, on the views lane once the controls rest (``with_jacobian``), never during the move."""
    return RESULTS.get_or_compute(
        _profile_key(config, with_jacobian),
        lambda: mlp.gradient_profile(config, with_jacobian=with_jacobian, with_diagnostics=with_jacobian),
    )


def _measured_profile(config: mlp.MLPConfig) -> mlp.GradientProfile | None:
    """The profile of ``config`` with its Jacobian SVDs and diagnostics, if a session has measured it already (a
    class on the default page or a preset, a student back at earlier settings): a move then shows it at once,
    and the page's step frames are sent once, not again when a second measurement arrives."""
    return RESULTS.get(_profile_key(config, True))


def _profile_key(config: mlp.MLPConfig, with_jacobian: bool) -> tuple:
    return ("deep.profile", config, with_jacobian)


def engine_device() -> str:
    """The JAX backend and the first device's model the engine runs on, e.g. "cpu (cpu)" or "gpu (NVIDIA H100)"."""
    device = jax.devices()[0]
    return f"{jax.default_backend()} ({device.device_kind})"


class LayerHistogramMap:
    """All layers' histograms in one view: a layer × value image of log10 shares (empty bins left blank), with
    the out-of-range and inf/NaN bins drawn as columns of their own beside the range, shaded by their share.

    Args:
      title, x_label: of the figure.
      side_labels: names of the (below, above, non-finite) bins in the hover tooltip.
      css_class: lets browser tests find the figure.
      below_color: colour of the "below" column (black for gradients: exactly 0, as on the heatmaps).
    """

    def __init__(self, title: str, x_label: str, side_labels: tuple[str, str, str], css_class: str, below_color: str):
        self.side_labels = side_labels
        self.side_colors = (below_color, "#7f7f7f", OVERFLOW_COLOR)
        self.mapper = LinearColorMapper(palette=Viridis256, low=SHARE_FLOOR, high=0.0, nan_color=(0, 0, 0, 0))
        self.source = ColumnDataSource(data=dict(image=[np.full((1, 1), np.nan)], x=[0.0], y=[0.5], dw=[1.0], dh=[1.0]))
        self.sides = ColumnDataSource(data=dict(x=[], y=[], width=[], share=[], color=[], bin=[]))
        fig = figure(
            title=title,
            x_axis_label=x_label,
            y_axis_label="layer (1 = input side)",
            height=330,
            width=520,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            css_classes=[css_class],
        )
        image = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source, color_mapper=self.mapper)
        rects = fig.rect(
            x="x",
            y="y",
            width="width",
            height=1.0,
            source=self.sides,
            fill_color="color",
            fill_alpha="share",
            line_color=None,
        )
        fig.add_tools(
            HoverTool(
                renderers=[image], tooltips=[(x_label, "$x{0.00}"), ("layer", "$y{0}"), ("log10 share", "@image{0.00}")]
            ),
            HoverTool(renderers=[rects], tooltips=[("bin", "@bin"), ("layer", "@y"), ("share", "@share{0.000}")]),
        )
        fig.add_layout(
            ColorBar(color_mapper=self.mapper, title="log10 share of the layer's entries", width=10), "right"
        )
        fig.x_range.range_padding = fig.y_range.range_padding = 0
        self.figure = fig

    def update(self, counts: np.ndarray, bins: diagnostics.BinEdges) -> int:
        """Draw ``counts`` (layers, bins.size) laid out as ``diagnostics.BinEdges`` says; returns the number of
        layers with inf/NaN entries."""
        self.source.data, self.sides.data, n = self.drawn(counts, bins)
        return n

    def drawn(self, counts: np.ndarray, bins: diagnostics.BinEdges) -> tuple[dict, dict, int]:
        """What ``update`` draws, without drawing it: the image's data, the side columns' data and the number of
        layers with inf/NaN entries."""
        shares = diagnostics.densities(counts)
        inner = shares[:, 1:-2]
        with np.errstate(divide="ignore"):
            # float32: the image is coloured through 256 steps over SHARE_FLOOR..0, far coarser than float32's
            # resolution; it halves what the browser is sent for every measured step
            image = np.where(inner > 0, np.maximum(np.log10(inner), SHARE_FLOOR), np.nan).astype(np.float32)
        layers = shares.shape[0]
        step = (bins.hi - bins.lo) / bins.n_bins
        width = 2 * step  # a side column is two bins wide, one bin away from the range
        xs = (bins.lo - 2 * step, bins.hi + 2 * step, bins.hi + 5 * step)
        y = np.arange(1, layers + 1, dtype=np.float64)
        side = [(0, xs[0]), (-2, xs[1]), (-1, xs[2])]
        sides = dict(
            x=np.concatenate([np.full(layers, x) for _, x in side]),
            y=np.tile(y, 3),
            width=np.full(3 * layers, width),
            share=np.concatenate([shares[:, i] for i, _ in side]),
            color=np.repeat(self.side_colors, layers).tolist(),
            bin=np.repeat(self.side_labels, layers).tolist(),
        )
        data = dict(image=[image], x=[float(bins.lo)], y=[0.5], dw=[float(bins.hi - bins.lo)], dh=[float(layers)])
        return data, sides, int((counts[:, -1] > 0).sum())


def training_key(model: DeepNetworkModel) -> tuple:
    """The key of ``model``'s training run among the process's shared results (``RESULTS``): a finished run is
    shown at once by every session with these settings."""
    clip = float(model.clip_norm) if model.clip_norm > 0 else None
    return ("deep.train", model.config(), int(model.steps), model.optimizer, float(model.learning_rate), clip)


def training_run(key: tuple) -> Iterator[mlp.TrainTrace]:
    """The training run of ``key`` (``training_key``), one trace per chunk of ``mlp.JACOBIAN_EVERY`` steps (the
    last: the whole run)."""
    _, config, steps, optimizer, learning_rate, clip = key
    return mlp.train_iter(
        config, steps, optimizer=optimizer, learning_rate=learning_rate, clip_norm=clip, chunk=mlp.JACOBIAN_EVERY
    )


def train_default_run() -> Iterator[None]:
    """The default page's training run into the shared results, one chunk per item (a warm-up step that yields
    between chunks): a class opening the default page then sees the finished run at once, and no session trains
    it again (each would start it after the controls rest, and most close or move before it ends)."""
    model = DeepNetworkModel()
    key = training_key(model)
    if RESULTS.get(key) is not None:
        return
    for _chunk in run_once(key, lambda: training_run(key), RESULTS):  # a session that joins now follows it
        yield


def _gain_sweep(config: mlp.MLPConfig) -> mlp.GainSweep:
    """The gain sweep, computed once per server per configuration; the gain itself does not change it."""
    config = config.replace(gain=1.0)
    return RESULTS.get_or_compute(("deep.sweep", config), lambda: mlp.gain_sweep(config, SWEEP_GAINS))


class DeepNetworkPage(Page):
    """The views of ``DeepNetworkModel``: created once per session, then updated in place."""

    Model = DeepNetworkModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {"_on_architecture": ARCHITECTURE, "_on_training_settings": TRAINING, "_on_shown_step": ["shown_step"]}
    title = "Deep network"

    def setup(self):
        """Deferring (see ``Page``): the per-layer views go out first, the gain sweep follows from the scheduler's
        views lane, the Jacobian SVDs once the controls rest for JACOBIAN_DELAY_MS, training once they rest for
        TRAINING_DELAY_MS."""
        self._build_figures()
        self._profile: mlp.GradientProfile | None = None
        self._trace: mlp.TrainTrace | None = None
        self._counts = {"training": NonFinite(0, 0), "sweep": NonFinite(0, 0)}
        self._frames_of: tuple | None = None  # (profile, training run) the step frames were made for ...
        self._frames_rows = 0  # ... and how many training rows they cover
        self._run_serial = 0  # counts training restarts: a new run's frames replace the old run's
        self._training_key = None  # the settings of the training run shown (its key in RESULTS)
        self._runner = self.background_run(self._on_trace, self._on_training_error)
        # the slower views of a move, computed on the scheduler's views lane (a newer request replaces an older one)
        self._sweep_run = self.background_run(self._draw_sweep, priority=VIEWS)
        self._jacobian_run = self.background_run(self._draw_jacobian, priority=VIEWS)
        self._refresh(sweep=True)
        self._restart_training()

    # ------------------------------------------------------------------------------------------------ figures
    def _build_figures(self):
        self.train_map = LogHeatmap("log10 ‖∂L/∂h_l‖ during training", "training step")
        self.train_map.figure.x_range = Range1d(0, self.model.steps)
        self.sweep_map = LogHeatmap("log10 ‖∂L/∂h_l‖ at initialization vs gain", "gain")
        self.gain_marker = self.sweep_map.add_span(self.model.gain, line_color="white", line_width=3)
        # the gain slider moves the marker in the browser (``controls``): that write stays there (the server sets
        # the same location with the move's redraw)
        self.gain_marker.syncable = False
        self.critical_marker = self.sweep_map.add_span(1.0, line_color="red", line_dash="dashed", line_width=2)
        self.profile = LogProfile(
            "Per-layer gradient norms",
            {
                "backprop": dict(legend_label="‖∂L/∂h_l‖ at init", color="#1f77b4", line_width=2),
                "weight": dict(legend_label="‖∂L/∂W_l‖ at init", color="#2ca02c", line_width=2, line_dash="dotdash"),
                "theory": dict(
                    legend_label="mean-field χ₁^((L−l)/2)", color="#d62728", line_dash="dashed", line_width=2
                ),
                "trained": dict(
                    legend_label="‖∂L/∂h_l‖ at shown step", color="#ff7f0e", line_dash="dotted", line_width=2
                ),
            },
        )
        self.stats = LogProfile(
            "Activations per layer (shown step)",
            {
                "mean": dict(legend_label="mean of h_l", color="#1f77b4", line_width=2),
                "std": dict(legend_label="std of h_l", color="#2ca02c", line_width=2, line_dash="dashed"),
                "saturation": dict(
                    legend_label="saturated fraction", color="#d62728", line_width=2, line_dash="dotdash"
                ),
                "dead": dict(legend_label="dead-unit share", color="#000000", line_width=2, line_dash="dotted"),
                "jacobian": dict(
                    legend_label="mean singular value of ∂h_l/∂h_{l−1}",
                    color="#9467bd",
                    line_width=2,
                    line_dash="dashdot",
                ),
            },
            y_label="value",
            y_axis_type="linear",
        )
        self.loss_source = ColumnDataSource(data=dict(step=np.zeros(0), loss=np.zeros(0), accuracy=np.zeros(0)))
        loss_fig = figure(
            title="Training loss and accuracy",
            x_axis_label="step",
            y_axis_label="value",
            height=330,
            width=520,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
        )
        loss_fig.line("step", "loss", source=self.loss_source, legend_label="cross-entropy loss", line_width=2)
        loss_fig.line(
            "step",
            "accuracy",
            source=self.loss_source,
            legend_label="batch accuracy",
            color="#ff7f0e",
            line_width=2,
            line_dash="dashed",  # told apart from the loss by more than its colour
        )
        loss_fig.x_range = Range1d(0, self.model.steps)
        loss_fig.legend.location = "top_right"
        self.loss_figure = loss_fig
        self._build_diagnostics_figures()
        self.progress = pn.indicators.Progress(value=0, max=self.model.steps, width=300, bar_color="primary")
        self.progress_text = pn.pane.Markdown("", margin=(0, 5))
        self.theory_text = pn.pane.Markdown("", margin=(0, 5))
        self.device_line = pn.pane.Str("", margin=(0, 5), css_classes=["deep-device-line"])
        self._build_step_frames()

    def _build_step_frames(self):
        """The step slider and the views it picks in the browser (``StepFrames``): the slider sends nothing;
        the server learns the browser's step before a download."""
        #: the non-finite counts of the shown step's views, written by the browser as the step moves
        self.step_notice = browser_only(pn.pane.Alert)("", alert_type="danger", visible=False, margin=(0, 5))
        self.step_slider = browser_only(pn.widgets.IntSlider).from_param(
            self.model.param.shown_step, name="step shown in per-layer views"
        )
        titled = {"stats": self.stats, "ratios": self.ratios}
        targets = {
            "profile": (self.profile.source, "data"),
            "profile_marks": (self.profile.marks, "data"),
            **{f"{k}_marks": (v.marks, "data") for k, v in titled.items()},
            **{k: (v.source, "data") for k, v in titled.items()},
            **{f"{k}_title": (v.figure.title, "text") for k, v in titled.items()},
            **{
                target: obj
                for k, hist in (("act", self.act_hist), ("grad", self.grad_hist))
                for target, obj in (
                    (f"{k}_hist", (hist.source, "data")),
                    (f"{k}_sides", (hist.sides, "data")),
                    (f"{k}_title", (hist.figure.title, "text")),
                )
            },
            "step_notice": (self.step_notice, "object"),
            "step_notice_visible": (self.step_notice, "visible"),
        }
        # the summaries are found by class: the diagnostics' cards (and so their summaries) are drawn when opened
        figures = self.figures()
        summaries = {_summary_target(name): (FigureText.of(figures[name]).text, "object") for name in STEP_FIGURES}
        self.step_frames = StepFrames(
            "shown_step",
            self.step_slider,
            targets | summaries,
            DOWNLOAD_SELECTOR,
            found_by_class={target: target for target in summaries},
        )
        self.step_frames.on_step(on_session_loop(self._doc, self._on_browser_step))

    def _build_diagnostics_figures(self):
        """Karpathy's (2022) four diagnostic plots, every layer in one view."""
        self.act_hist = LayerHistogramMap(
            "Histograms of h_l, all layers",
            "h_l",
            ("below the range", "above the range", "inf/NaN"),
            "deep-act-hist",
            below_color="#7f7f7f",
        )
        self.grad_hist = LayerHistogramMap(
            "Histograms of log10 |∂L/∂h_l|, all layers",
            "log10 |∂L/∂h_l|",
            ("exactly 0 (underflow)", "above the range", "inf/NaN (overflow)"),
            "deep-grad-hist",
            below_color=UNDERFLOW_COLOR,
        )
        self.ratios = LogProfile(
            "Weight gradients at initialization",
            {
                "grad_std": dict(legend_label="std(∂L/∂W_l)", color="#2ca02c", line_width=2),
                "grad_data": dict(
                    legend_label="grad:data std(∂L/∂W_l)/std(W_l)", color="#9467bd", line_width=2, line_dash="dashed"
                ),
            },
            y_label="value",
        )
        self.update_source = ColumnDataSource(data=dict(xs=[], ys=[], color=[], layer=[]))
        fig = figure(
            title="update:data ratio log10(std(ΔW_l)/std(W_l)) during training",
            x_axis_label="step",
            y_axis_label="log10 update:data",
            height=330,
            width=520,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            css_classes=["deep-update-data"],
        )
        lines = fig.multi_line(xs="xs", ys="ys", line_color="color", source=self.update_source, line_width=1.5)
        fig.add_tools(HoverTool(renderers=[lines], tooltips=[("layer", "@layer"), ("step", "$x{0}")]))
        # Karpathy (2022): updates of about 1/1000 of the weights per step train well; far below, a layer learns
        # too slowly, far above, too fast.
        fig.add_layout(Span(location=UPDATE_DATA_REFERENCE, dimension="width", line_color="black", line_dash="dashed"))
        fig.x_range = Range1d(0, self.model.steps)
        self.update_figure = fig

    # ------------------------------------------------------------------------------------------------ updates
    def _on_architecture(self, *events):
        names = {e.name for e in events}
        if self._trace is not None:  # the old run is not the new network's: its frames and views go with the move
            self._trace = None
            self._clear_training_views()
        self._refresh(sweep=bool(names - {"gain"}))
        self._restart_training()

    def _on_training_settings(self, *events):
        if {e.name for e in events} == {"auto_train"} and not self.model.auto_train:
            # switched off: the run shown still belongs to the settings; only a run in progress stops
            self._runner.cancel()
            if self._trace is None or self._trace.steps < self.model.steps:
                self.progress_text.object = "Training paused (auto-train off)."
            return
        steps = int(self.model.steps)
        self.train_map.figure.x_range.update(start=0, end=steps)
        self.loss_figure.x_range.update(start=0, end=steps)
        self.update_figure.x_range.update(start=0, end=steps)
        self.progress.max = steps
        self._restart_training()

    def _on_shown_step(self, *events):
        self._guard(self._draw_profile)

    def _on_browser_step(self, step: int) -> None:
        """The browser's step, sent before a download: the server draws it too (and exports it)."""
        bounds = self.model.param.shown_step.bounds
        self.model.shown_step = min(max(step, bounds[0]), bounds[1])

    def _refresh(self, sweep: bool):
        def work():
            start = time.perf_counter()
            config = self.model.config()
            measured = _measured_profile(config) if self._defer else None
            with document_hold(self._doc):
                self._profile = measured if measured is not None else _profile(config, with_jacobian=not self._defer)
                self._draw_profile()
                self._draw_theory(config)
                self.gain_marker.location = float(config.gain)
                self._draw_overflow_notice()
                self._draw_device_line(time.perf_counter() - start)
            self.notices.clear("setting")
            self._jacobian_run.cancel()  # a measurement of the previous settings is stale
            if sweep:
                self._in_background(self._sweep_run, lambda: _gain_sweep(config), self._draw_sweep)
            if self._defer and measured is None:
                self._run_deferred(
                    "jacobian",
                    lambda: self._in_background(
                        self._jacobian_run, lambda: _profile(config, with_jacobian=True), self._draw_jacobian
                    ),
                    JACOBIAN_DELAY_MS,
                )

        self._guard(work)

    def _in_background(self, run: BackgroundRun, compute, draw) -> None:
        """``draw(compute())``: ``compute`` on the scheduler's views lane when served (the move's own views have gone
        out already; ``run`` hands the result to ``draw`` on the event loop), at once without deferring, else
        queued in ``self.pending``."""
        if self._doc is not None and self._defer:
            run.start(lambda: iter([compute()]))
        else:
            self._run_deferred("", lambda: self._guard(lambda: draw(compute())), 0)

    def _run_deferred(self, key: str, fn, delay_ms: int):
        """Run ``fn`` now (not deferring), on the event loop after ``delay_ms`` (replacing an earlier pending call
        of the same kind), or queue it in ``self.pending`` when deferring without a server."""
        if not self._defer:
            fn()
        elif self._doc is None:
            self.pending.append(fn)
        else:
            self.call_later(key, fn, delay_ms)

    def _draw_sweep(self, result: mlp.GainSweep):
        def work():
            with document_hold(self._doc):
                self._counts["sweep"] = self.sweep_map.update(result.log10_backprop_norm.T, *GAIN_RANGE)
                self._draw_overflow_notice()

        self._guard(work)

    def _draw_jacobian(self, profile: mlp.GradientProfile):
        self._profile = profile
        self._guard(self._draw_profile)

    def _draw_device_line(self, seconds: float):
        """Plain text under the controls: where the engine runs and the server time of the last move."""
        self.device_line.object = f"Engine: JAX on {engine_device()}; last move {seconds * 1e3:.0f} ms of server time"

    # ------------------------------------------------------------------------------------------------ step views
    # The views of the shown step (the profile's trained line, the activation statistics, the histograms and the
    # weight-gradient ratios, and the count of their non-finite points) are drawn as frames (``StepFrames``): one
    # per trained step, sent as training delivers it; the step slider picks among them in the browser.

    def _draw_profile(self):
        """Bring the step frames up to date with the profile and the trace, and draw the shown step's."""
        if self._profile is None:
            return
        self._sync_frames()
        self.step_frames.draw(int(self.model.shown_step))

    def _sync_frames(self):
        """Send every frame anew when the profile or the training run changed, else only the trained steps not
        sent yet."""
        trace = self._trace
        trained = trace.steps if trace is not None else 0
        made_for = self._frames_of
        fresh = (
            made_for is None
            or made_for[0] is not self._profile  # compared by identity: a profile's arrays make == ambiguous
            or made_for[1] != self._run_serial
            or trained < self._frames_rows
        )
        first = 1 if fresh else max(1, self._frames_rows)
        last = min(trained, first + FRAMES_PER_TICK) if self._defer else trained
        rows = list(range(first, last))
        shown = int(self.model.shown_step)
        if last <= shown < trained:  # the server's own step now, the steps after ``last`` on the next ticks
            rows.append(shown)
        shared = self._frame_set()
        frames = self._step_frames(rows, with_base=fresh, made=shared.made)
        if fresh:
            self.step_frames.reset(frames, shared)
        else:
            self.step_frames.extend(frames, shared)
        self._frames_of, self._frames_rows = (self._profile, self._run_serial), last
        if last < trained:
            self._run_deferred("frames", self._more_frames, 0)

    def _more_frames(self):
        """The next FRAMES_PER_TICK trained steps' frames, as one message (the browser then re-applies its step)."""

        def work():
            with document_hold(self._doc):
                self._draw_profile()

        self._guard(work)

    def _frame_set(self) -> FrameSet:
        """The frames shared by every session showing this profile (from RESULTS) and this training run (one run
        per settings: finished in RESULTS, or in progress and followed by every session asking for it; its rows
        are the same in every partial trace)."""
        return SHARED_FRAMES.of(self._profile, key=self._training_key if self._trace is not None else None)

    def _step_frames(self, rows: Iterable[int], with_base: bool, made: dict) -> dict[str, dict]:
        """The frames of training rows ``rows`` (row k: the network before step k's update) and of the
        diagnostics they show, and the base (initialisation) when ``with_base``; each made once into ``made`` (a
        ``FrameSet``'s: key -> what ``_base_frame`` or ``_row_frames`` returned)."""
        p, t = self._profile, self._trace
        depth = p.backprop_norm.shape[0]
        if BASE not in made:
            made[BASE] = self._base_frame(self._prediction(p))
        frames: dict[str, dict] = {}
        if with_base:
            frames[BASE] = made[BASE][0]
        for row in rows:
            if t.act_mean.shape[1] != depth:  # a trace of another depth: the views show initialisation
                break
            key = step_key(row)
            if key not in made:
                made[key] = self._row_frames(row, made)
            frame, diag_key = made[key]
            diag = made[diag_key][0] if diag_key is not None else None
            # a diagnostics frame is sent once: unless these frames replace all those held (a new base), where it
            # must be sent again
            if diag_key is not None and (with_base or not self.step_frames.has(diag_key)):
                frames[diag_key] = diag
            frames[key] = frame
        return frames

    def _base_frame(self, prediction: np.ndarray | None) -> tuple[dict, int, np.ndarray | None]:
        """The frame of initialisation, how many of its layer histograms hold inf/NaN, and the mean-field
        ``prediction`` (``_prediction``) it draws, which every step's frame draws too."""
        p = self._profile
        layers = np.arange(1, p.backprop_norm.shape[0] + 1)
        init = p.layer_diagnostics
        diag, count = self._diagnostics_frame(init, "at initialization", self.model.config().activation, layers)
        jac = p.jacobian_sv_mean if np.isfinite(p.jacobian_sv_mean).any() else None  # pending measurement
        stats = dict(mean=p.act_mean, std=p.act_std, saturation=p.saturation, jacobian=jac)
        stats["dead"] = init.dead_share if init is not None else None
        frame = diag | self._views_frame(
            layers, p, prediction, None, stats, count, "Activations per layer at initialization"
        )
        return self._with_summaries(frame), count, prediction

    def _row_frames(self, row: int, made: dict) -> tuple[dict, str | None]:
        """Training row ``row``'s frame and the key of the diagnostics frame it shows (None: this trace measured
        none; the row shows those at initialisation). The diagnostics frame goes into ``made`` (once for the ten
        rows that show it) as (frame, layer histograms with inf/NaN)."""
        p, t = self._profile, self._trace
        layers = np.arange(1, p.backprop_norm.shape[0] + 1)
        # Jacobians and diagnostics are measured every JACOBIAN_EVERY steps: the nearest one before the step
        at = row - row % mlp.JACOBIAN_EVERY
        stats = dict(
            mean=t.act_mean[row], std=t.act_std[row], saturation=t.saturation[row], jacobian=t.jacobian_sv_mean[at]
        )
        _, count, prediction = made[BASE]
        frame, diag_key = {}, None
        measured = t.layer_diagnostics
        if measured is not None and measured.dead_share.shape[1] == len(layers):
            d = diagnostics.LayerDiagnostics(*(a[at // mlp.JACOBIAN_EVERY] for a in measured))
            diag_key = f"d{at}"
            if diag_key not in made:
                diag, n = self._diagnostics_frame(
                    d, f"at step {at} (training batch)", self.model.config().activation, layers
                )
                made[diag_key] = (self._with_summaries(diag), n)
            count = made[diag_key][1]
            frame[ALSO] = [diag_key]
            stats["dead"] = d.dead_share
        else:  # no diagnostics in this trace: those at initialisation
            stats["dead"] = p.layer_diagnostics.dead_share if p.layer_diagnostics is not None else None
        frame |= self._views_frame(
            layers, p, prediction, t.backprop_norm[row], stats, count, f"Activations per layer at step {row}"
        )
        return self._with_summaries(frame), diag_key

    def _with_summaries(self, frame: dict) -> dict:
        return frame | self._summaries(frame)

    def _summaries(self, frame: dict) -> dict:
        """The summary paragraph of every step figure whose data or title ``frame`` sets, as the figure will be
        drawn from it: the same text the server's ``FigureText`` makes once it draws that step."""
        figures = self.figures()
        out = {}
        for name, (sources, title) in STEP_FIGURES.items():
            if title not in frame and not any(s in frame for s in sources):
                continue
            fig = figures[name]
            data_of = {self.step_frames.targets[s][0]: frame[s] for s in sources if s in frame}
            out[_summary_target(name)] = paragraph(summary(fig, data_of, frame.get(title)))
        return out

    def _views_frame(self, layers, p, prediction, trained, stats: dict, diag_count: int, title: str) -> dict:
        """The profile (with the trained line at the shown step, or none), the activation statistics and the
        step notice."""
        profile, profile_marks = self.profile.drawn(
            layers,
            {"backprop": p.backprop_norm, "weight": p.weight_grad_norm, "theory": prediction, "trained": trained},
        )
        stats_data, stats_marks = self.stats.drawn(layers, stats)
        parts = []
        if profile_marks["x"]:
            parts.append(f"{len(profile_marks['x'])} per-layer points are not finite (crosses)")
        if diag_count:
            parts.append(f"{diag_count} layer histograms hold inf/NaN (magenta column)")
        return {
            "profile": profile,
            "profile_marks": profile_marks,
            "stats": stats_data,
            "stats_marks": stats_marks,
            "stats_title": title,
            "step_notice": "⚠ " + "; ".join(parts) if parts else "",
            "step_notice_visible": bool(parts),
        }

    def _diagnostics_frame(self, d, where: str, activation: str, layers) -> tuple[dict, int]:
        """The histograms and grad:data ratio of diagnostics ``d`` (None: pending; the figures keep what they
        show, their titles say so) and the number of layer histograms holding inf/NaN."""
        if d is None:  # a move's fast profile: the diagnostics follow once the controls rest
            return {
                "act_title": "Histograms of h_l, all layers (updating…)",
                "grad_title": "Histograms of log10 |∂L/∂h_l|, all layers (updating…)",
                "ratios_title": "Weight gradients (updating…)",
            }, 0
        act, act_sides, n_act = self.act_hist.drawn(d.act_hist, diagnostics.value_bins(activation))
        grad, grad_sides, n_grad = self.grad_hist.drawn(d.grad_hist, diagnostics.GRAD_LOG10_BINS)
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_data = d.weight_grad_std / d.weight_std
        ratios, ratios_marks = self.ratios.drawn(layers, {"grad_std": d.weight_grad_std, "grad_data": grad_data})
        frame = {
            "act_hist": act,
            "act_sides": act_sides,
            "act_title": f"Histograms of h_l, all layers, {where}",
            "grad_hist": grad,
            "grad_sides": grad_sides,
            "grad_title": f"Histograms of log10 |∂L/∂h_l|, all layers, {where}",
            "ratios": ratios,
            "ratios_marks": ratios_marks,
            "ratios_title": f"Weight gradients {where}",
        }
        return frame, n_act + n_grad

    def _prediction(self, p: mlp.GradientProfile) -> np.ndarray | None:
        """The mean-field profile ‖δ_L‖·χ₁^((L−l)/2) (``theory.predicted_backprop_norms``; Schoenholz et al. 2017,
        "Deep information propagation", gradient back-propagation) anchored at the measured last layer, or None
        where the theory does not apply or the last layer is not finite."""
        chi = self._chi(self.model.config())
        last = float(p.backprop_norm[-1])
        if chi is None or not (np.isfinite(last) and last > 0):
            return None
        return theory.predicted_backprop_norms(last, chi, p.backprop_norm.shape[0])

    def _chi(self, config: mlp.MLPConfig):
        """chi_1 for the current setting, or None where mean-field theory does not describe the net."""
        if config.residual or config.batchnorm or not initializers.get(config.init).mean_field:
            return None
        sw2 = initializers.sigma_w2(config.init, config.width, config.width, config.gain)
        return theory.chi_1(config.activation, sw2, config.bias_std**2)

    def _draw_theory(self, config: mlp.MLPConfig):
        g_crit = theory.critical_gain(config.activation, config.init, config.width, config.width, config.bias_std**2)
        self.critical_marker.visible = bool(np.isfinite(g_crit) and not (config.residual or config.batchnorm))
        if np.isfinite(g_crit):
            self.critical_marker.location = float(g_crit)
        chi = self._chi(config)
        if chi is None:
            reason = (
                "residual connections"
                if config.residual
                else "batch normalization"
                if config.batchnorm
                else "non-zero-mean weights (Yilmaz & Poli)"
            )
            self.theory_text.object = (
                f"**Mean-field theory** (zero-mean i.i.d. weights, plain layers) does not "
                f"apply with {reason}; compare the measured curves instead."
            )
            return
        sw2 = initializers.sigma_w2(config.init, config.width, config.width, config.gain)
        xi = theory.depth_scale(config.activation, sw2, config.bias_std**2)
        phase = "vanishing (ordered)" if chi < 0.999 else "exploding (chaotic)" if chi > 1.001 else "edge of chaos"
        crit = f"{g_crit:.3g}" if np.isfinite(g_crit) else "none in range"
        total = chi ** (config.depth / 2) if chi > 0 else 0.0
        self.theory_text.object = (
            f"**Mean field:** σ_w² = {sw2:.3g}, χ₁ = {chi:.4g} → **{phase}**; depth scale ξ = "
            f"{'∞' if not math.isfinite(xi) else f'{xi:.3g}'} layers; over {config.depth} layers the gradient "
            f"norm changes by χ₁^(L/2) ≈ {total:.3g}. Critical gain for this activation and init: {crit}."
        )

    def _draw_overflow_notice(self):
        parts = []
        tr, sw = self._counts["training"], self._counts["sweep"]
        if tr.overflow or sw.overflow:
            parts.append(f"{tr.overflow + sw.overflow} heatmap cells overflowed float32 (inf/NaN, magenta)")
        if tr.underflow or sw.underflow:
            parts.append(f"{tr.underflow + sw.underflow} cells underflowed to 0 (black)")
        self.overflow.set("counts", "⚠ " + "; ".join(parts) if parts else "")

    # ------------------------------------------------------------------------------------------------ training
    def _restart_training(self):
        had_trace, self._trace = self._trace is not None, None
        self._run_serial += 1
        if had_trace:  # the views leave the old run's steps at once (the base frame only: milliseconds)
            self._guard(self._draw_profile)
            self._clear_training_views()
        self.progress.value = 0
        if not self.model.auto_train:
            self._runner.cancel()
            self.progress_text.object = "Training paused (auto-train off)."
            return
        try:
            key = training_key(self.model)
        except ConfigError as exc:
            self.notices.set("setting", f"Invalid setting: {exc}")
            return
        steps = int(self.model.steps)
        self._runner.cancel()  # the old run stops now; the new one waits until the controls rest
        self._training_key = key
        finished = RESULTS.get(key)
        if finished is not None:
            # this very run has been trained on this server: shown once the move's own views have gone out (its
            # loss, heatmaps and first step frames are ~0.3 MB: in the move's message they doubled its time)
            self._run_deferred("training", lambda: self._on_trace(finished), FINISHED_RUN_DELAY_MS)
            return

        def start():
            if not self.model.auto_train:  # switched off while this start waited
                return
            self.progress_text.object = f"Training {steps} steps…"
            # a run of these settings that another session (or the warm-up) is training is followed, not repeated
            self._runner.start(lambda: run_once(key, lambda: training_run(key), RESULTS))

        self.progress_text.object = f"Training {steps} steps once the controls rest…"
        self._run_deferred("training", start, TRAINING_DELAY_MS)

    def _on_trace(self, trace: mlp.TrainTrace):
        # a finished run: every session with these settings shows it at once
        if trace.steps >= self.model.steps and self._training_key is not None:
            RESULTS.put(self._training_key, trace)

        def work():
            with document_hold(self._doc):
                self._trace = trace
                self._counts["training"] = self.train_map.update(safe_log10(trace.backprop_norm.T), 0, trace.steps)
                steps = np.arange(trace.steps)
                self.loss_source.data = dict(
                    step=steps, loss=trace.loss.astype(np.float64), accuracy=trace.accuracy.astype(np.float64)
                )
                self._draw_update_data(trace)
                self.progress.value = trace.steps
                clipped = int(trace.clipped.sum())
                self.progress_text.object = (
                    f"Trained {trace.steps}/{self.model.steps} steps; loss "
                    f"{trace.loss[-1]:.4g}" + (f"; {clipped} steps clipped" if clipped else "")
                )
                self._draw_profile()
                self._draw_overflow_notice()

        self._guard(work)

    def _clear_training_views(self):
        """Empty the views of the run shown (loss, gradient norms and update:data during training): they belong to
        the settings before the move, and the move's answer is that they are gone (the new run streams in once
        the controls rest, or when training is switched back on)."""
        with document_hold(self._doc):
            self.train_map.clear()
            self.loss_source.data = {k: np.zeros(0) for k in self.loss_source.data}
            self.update_source.data = {k: [] for k in self.update_source.data}
            self._counts["training"] = NonFinite(0, 0)
        self._guard(self._draw_overflow_notice)

    def _draw_update_data(self, trace: mlp.TrainTrace):
        """log10 update:data of UPDATE_LAYERS_SHOWN layers over the steps trained so far (-inf: no update)."""
        depth = trace.update_data_log10.shape[1]
        shown = np.unique(np.linspace(0, depth - 1, min(UPDATE_LAYERS_SHOWN, depth)).round().astype(int))
        steps = np.arange(trace.steps, dtype=np.float64)
        ys = [np.where(np.isfinite(v), v, np.nan).astype(np.float64) for v in trace.update_data_log10[:, shown].T]
        palette = Viridis256[:: max(1, 256 // len(shown))]
        self.update_source.data = dict(
            xs=[steps] * len(shown), ys=ys, color=list(palette[: len(shown)]), layer=[int(l) + 1 for l in shown]
        )

    def _on_training_error(self, exc: Exception):
        self.notices.set("training", f"Training stopped: {exc}")

    # ------------------------------------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        m = self.model
        w = pn.widgets
        self.gain_slider = w.FloatSlider.from_param(m.param.gain, label="gain (weight scale)")
        # Move the gain marker in the browser while dragging, before the server answers.
        self.gain_slider.jslink(self.gain_marker, value="location")
        return pn.Column(
            "### Network",
            w.IntSlider.from_param(m.param.depth, label="depth (hidden layers)"),
            w.DiscreteSlider.from_param(m.param.width, label="width"),
            w.Select.from_param(m.param.activation, label="activation"),
            w.Select.from_param(m.param.init, label="initialization"),
            self.gain_slider,
            w.FloatSlider.from_param(m.param.bias_std, label="bias std"),
            w.Checkbox.from_param(m.param.residual, label="residual connections"),
            w.Checkbox.from_param(m.param.batchnorm, label="batch normalization"),
            w.IntInput.from_param(m.param.seed, label="seed"),
            "### Training",
            w.Select.from_param(m.param.optimizer, label="optimizer"),
            w.DiscreteSlider.from_param(m.param.learning_rate, label="learning rate"),
            w.FloatSlider.from_param(m.param.clip_norm, label="clip norm (0 = off)"),
            w.IntSlider.from_param(m.param.steps, label="training steps"),
            w.Checkbox.from_param(m.param.auto_train, label="train automatically"),
            self.step_slider,
            *self.step_frames.hidden(),
            self.progress,
            self.progress_text,
            self.device_line,
            width=320,
        )

    def panel(self) -> pn.viewable.Viewable:
        layout = page_layout(
            self.slug,
            self.controls(),
            [preset_bar(self.model, PRESETS), self.notice, self.overflow_notice, self.step_notice, self.theory_text],
            self.figures(),
            [explanation_panel(EXPLANATION)],
            folded=DIAGNOSTICS_SECTION,
        )
        # the diagnostics' summaries, built when the section opens, show the server's step: the browser then
        # draws its own step into them
        for section in folded_sections(layout):
            section.on_built.append(self.step_frames.redrawn)
        return layout

    def describe_figure(self, name: str) -> str | None:
        """The gradient profile's one-sentence text alternative (``app.components.figure_text``); None: generic."""
        if name == "gradient-profile" and self._profile is not None:
            return gradient_ratio_sentence(self._profile.backprop_norm)
        return None

    def figures(self) -> dict:
        return {
            "training-heatmap": self.train_map.figure,
            "gain-sweep": self.sweep_map.figure,
            "gradient-profile": self.profile.figure,
            "activation-stats": self.stats.figure,
            "loss": self.loss_figure,
            "activation-histograms": self.act_hist.figure,
            "gradient-histograms": self.grad_hist.figure,
            "grad-data": self.ratios.figure,
            "update-data": self.update_figure,
        }
