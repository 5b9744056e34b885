"""Page "Deep network": per-layer gradients of a deep feedforward net, at initialisation and during training.

``DeepNetworkModel`` declares every control; ``DeepNetworkPage`` owns the figures (created once) and updates
their data sources in place when the model changes. All numbers come from ``vgp_core``.
"""

from __future__ import annotations

import math
import time

import jax
import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d, Span
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from vgp_core import ConfigError, bounds, diagnostics, initializers, mlp, theory

from ..components.explanation import explanation_panel
from ..components.figure_text import gradient_ratio_sentence
from ..components.heatmap import OVERFLOW_COLOR, UNDERFLOW_COLOR, LogHeatmap
from ..components.log_profile import LogProfile
from ..components.numeric import NonFinite, safe_log10
from ..components.page import Page, document_hold
from ..components.page_layout import page_layout
from ..components.presets import preset_bar
from ..components.results_cache import RESULTS
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
#: the update:data plot draws this many layers (evenly spaced, first and last included), as Karpathy (2022) does
UPDATE_LAYERS_SHOWN = 8
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

    depth = param.Integer(
        MLP_BOUNDS["depth"].default, bounds=MLP_BOUNDS["depth"].offered, doc="Number of hidden layers L."
    )
    width = param.Selector(default=MLP_BOUNDS["width"].default, objects=WIDTHS, doc="Units per hidden layer.")
    activation = param.Selector(
        default=MLP_BOUNDS["activation"].default,
        objects=list(MLP_BOUNDS["activation"].choices),
        doc="Activation function phi.",
    )
    init = param.Selector(
        default=MLP_BOUNDS["init"].default, objects=list(MLP_BOUNDS["init"].choices), doc="Weight initialization."
    )
    gain = param.Number(
        MLP_BOUNDS["gain"].default,
        bounds=GAIN_RANGE,
        step=0.05,
        doc="Weight scale: multiplies every initial weight "
        "(for orthogonal weights, the spectral radius of each layer).",
    )
    bias_std = param.Number(
        MLP_BOUNDS["bias_std"].default,
        bounds=MLP_BOUNDS["bias_std"].offered,
        step=0.05,
        doc="Standard deviation of the initial biases.",
    )
    residual = param.Boolean(MLP_BOUNDS["residual"].default, doc="Residual connections h_l = h_{l-1} + phi(s_l).")
    batchnorm = param.Boolean(MLP_BOUNDS["batchnorm"].default, doc="Batch normalization of every pre-activation.")
    seed = param.Integer(
        MLP_BOUNDS["seed"].default, bounds=MLP_BOUNDS["seed"].offered, doc="Random seed of weights and data."
    )
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

    @param.depends("steps", watch=True)
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
        ("deep.profile", config, with_jacobian),
        lambda: mlp.gradient_profile(config, with_jacobian=with_jacobian, with_diagnostics=with_jacobian),
    )


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
        shares = diagnostics.densities(counts)
        inner = shares[:, 1:-2]
        with np.errstate(divide="ignore"):
            image = np.where(inner > 0, np.maximum(np.log10(inner), SHARE_FLOOR), np.nan)
        layers = shares.shape[0]
        step = (bins.hi - bins.lo) / bins.n_bins
        width = 2 * step  # a side column is two bins wide, one bin away from the range
        xs = (bins.lo - 2 * step, bins.hi + 2 * step, bins.hi + 5 * step)
        y = np.arange(1, layers + 1, dtype=np.float64)
        side = [(0, xs[0]), (-2, xs[1]), (-1, xs[2])]
        self.sides.data = dict(
            x=np.concatenate([np.full(layers, x) for _, x in side]),
            y=np.tile(y, 3),
            width=np.full(3 * layers, width),
            share=np.concatenate([shares[:, i] for i, _ in side]),
            color=np.repeat(self.side_colors, layers).tolist(),
            bin=np.repeat(self.side_labels, layers).tolist(),
        )
        self.source.data = dict(
            image=[image], x=[float(bins.lo)], y=[0.5], dw=[float(bins.hi - bins.lo)], dh=[float(layers)]
        )
        return int((counts[:, -1] > 0).sum())


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
        self._counts = {"training": NonFinite(0, 0), "sweep": NonFinite(0, 0), "profile": 0, "histograms": 0}
        self._deferred_handles: dict[str, object] = {}
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
        self.critical_marker = self.sweep_map.add_span(1.0, line_color="red", line_dash="dashed", line_width=2)
        self.profile = LogProfile(
            "Per-layer gradient norms",
            {
                "backprop": dict(legend_label="‖∂L/∂h_l‖ at init", color="#1f77b4", line_width=2),
                "weight": dict(legend_label="‖∂L/∂W_l‖ at init", color="#2ca02c", line_width=2),
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
                "std": dict(legend_label="std of h_l", color="#2ca02c", line_width=2),
                "saturation": dict(legend_label="saturated fraction", color="#d62728", line_width=2),
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
            "step", "accuracy", source=self.loss_source, legend_label="batch accuracy", color="#ff7f0e", line_width=2
        )
        loss_fig.x_range = Range1d(0, self.model.steps)
        loss_fig.legend.location = "top_right"
        self.loss_figure = loss_fig
        self._build_diagnostics_figures()
        self.progress = pn.indicators.Progress(value=0, max=self.model.steps, width=300, bar_color="primary")
        self.progress_text = pn.pane.Markdown("", margin=(0, 5))
        self.theory_text = pn.pane.Markdown("", margin=(0, 5))
        self.device_line = pn.pane.Str("", margin=(0, 5), css_classes=["deep-device-line"])

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
                "grad_data": dict(legend_label="grad:data std(∂L/∂W_l)/std(W_l)", color="#9467bd", line_width=2),
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
        self._refresh(sweep=bool(names - {"gain"}))
        self._restart_training()

    def _on_training_settings(self, *events):
        steps = int(self.model.steps)
        self.train_map.figure.x_range.update(start=0, end=steps)
        self.loss_figure.x_range.update(start=0, end=steps)
        self.update_figure.x_range.update(start=0, end=steps)
        self.progress.max = steps
        self._restart_training()

    def _on_shown_step(self, *events):
        self._guard(self._draw_profile)

    def _refresh(self, sweep: bool):
        def work():
            start = time.perf_counter()
            config = self.model.config()
            with document_hold(self._doc):
                self._profile = _profile(config, with_jacobian=not self._defer)
                self._draw_profile()
                self._draw_theory(config)
                self.gain_marker.location = float(config.gain)
                self._draw_overflow_notice()
                self._draw_device_line(time.perf_counter() - start)
            self.notices.clear("setting")
            self._jacobian_run.cancel()  # a measurement of the previous settings is stale
            if sweep:
                self._in_background(self._sweep_run, lambda: _gain_sweep(config), self._draw_sweep)
            if self._defer:
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
            old = self._deferred_handles.pop(key, None)
            if old is not None:
                try:
                    self._doc.remove_timeout_callback(old)
                except ValueError:  # already ran
                    pass
            self._deferred_handles[key] = self._doc.add_timeout_callback(fn, delay_ms)

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

    def _shown_row(self):
        """Index into the training trace for the shown step, or None if training has not reached it."""
        s = int(self.model.shown_step)
        if s == 0 or self._trace is None or s >= self._trace.steps:
            return None
        return s

    def _draw_profile(self):
        p = self._profile
        if p is None:
            return
        depth = p.backprop_norm.shape[0]
        layers = np.arange(1, depth + 1)
        config = self.model.config()
        chi = self._chi(config)
        prediction = (
            theory.predicted_backprop_norms(float(p.backprop_norm[-1]), chi, depth)
            if chi is not None and np.isfinite(p.backprop_norm[-1]) and p.backprop_norm[-1] > 0
            else None
        )
        row = self._shown_row()
        trained = self._trace.backprop_norm[row] if row is not None else None
        if trained is not None and trained.shape[0] != depth:
            trained = None
        self._counts["profile"] = self.profile.update(
            layers,
            {"backprop": p.backprop_norm, "weight": p.weight_grad_norm, "theory": prediction, "trained": trained},
        )
        if row is not None and self._trace.act_mean.shape[1] == depth:
            t = self._trace
            # Jacobians are measured every JACOBIAN_EVERY steps: show the nearest measurement before the step.
            jac = t.jacobian_sv_mean[row - row % mlp.JACOBIAN_EVERY]
            stats = dict(mean=t.act_mean[row], std=t.act_std[row], saturation=t.saturation[row], jacobian=jac)
            self.stats.figure.title.text = f"Activations per layer at step {row}"
        else:
            jac = p.jacobian_sv_mean if np.isfinite(p.jacobian_sv_mean).any() else None  # pending measurement
            stats = dict(mean=p.act_mean, std=p.act_std, saturation=p.saturation, jacobian=jac)
            self.stats.figure.title.text = "Activations per layer at initialization"
        stats["dead"] = self._draw_diagnostics(p, row, depth)
        self.stats.update(layers, stats)

    def _draw_diagnostics(self, p: mlp.GradientProfile, row: int | None, depth: int) -> np.ndarray | None:
        """The histograms and grad:data ratio at the shown step (the nearest measurement before it) or at
        initialisation; returns the dead-unit share drawn with the activation statistics (None while pending)."""
        measured = self._trace.layer_diagnostics if row is not None and self._trace is not None else None
        if measured is not None and measured.dead_share.shape[1] == depth:
            k = row // mlp.JACOBIAN_EVERY
            d = diagnostics.LayerDiagnostics(*(a[k] for a in measured))
            where = f"at step {k * mlp.JACOBIAN_EVERY} (training batch)"
        elif p.layer_diagnostics is not None:
            d, where = p.layer_diagnostics, "at initialization"
        else:  # a move's fast profile: the diagnostics follow once the controls rest; keep the last ones shown
            for fig in (self.act_hist.figure, self.grad_hist.figure, self.ratios.figure):
                if not fig.title.text.endswith("(updating…)"):
                    fig.title.text += " (updating…)"
            return None
        activation = self.model.config().activation
        self._counts["histograms"] = self.act_hist.update(
            d.act_hist, diagnostics.value_bins(activation)
        ) + self.grad_hist.update(d.grad_hist, diagnostics.GRAD_LOG10_BINS)
        self.act_hist.figure.title.text = f"Histograms of h_l, all layers, {where}"
        self.grad_hist.figure.title.text = f"Histograms of log10 |∂L/∂h_l|, all layers, {where}"
        self.ratios.figure.title.text = f"Weight gradients {where}"
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_data = d.weight_grad_std / d.weight_std
        self.ratios.update(np.arange(1, depth + 1), {"grad_std": d.weight_grad_std, "grad_data": grad_data})
        return d.dead_share

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
        if self._counts["profile"]:
            parts.append(f"{self._counts['profile']} per-layer points are not finite (crosses)")
        if self._counts["histograms"]:
            parts.append(f"{self._counts['histograms']} layer histograms hold inf/NaN (magenta column)")
        self.overflow.set("counts", "⚠ " + "; ".join(parts) if parts else "")

    # ------------------------------------------------------------------------------------------------ training
    def _restart_training(self):
        self._trace = None
        self.progress.value = 0
        if not self.model.auto_train:
            self._runner.cancel()
            self.progress_text.object = "Training paused (auto-train off)."
            return
        try:
            config = self.model.config()
        except ConfigError as exc:
            self.notices.set("setting", f"Invalid setting: {exc}")
            return
        m = self.model
        steps, opt, lr = int(m.steps), m.optimizer, float(m.learning_rate)
        clip = float(m.clip_norm) if m.clip_norm > 0 else None
        self._runner.cancel()  # the old run stops now; the new one waits until the controls rest
        self._training_key = key = ("deep.train", config, steps, opt, lr, clip)
        finished = RESULTS.get(key)
        if finished is not None:  # this very run has been trained on this server: show it at once
            self._on_trace(finished)
            return

        def start():
            if not self.model.auto_train:  # switched off while this start waited
                return
            self.progress_text.object = f"Training {steps} steps…"
            self._runner.start(
                lambda: mlp.train_iter(
                    config, steps, optimizer=opt, learning_rate=lr, clip_norm=clip, chunk=mlp.JACOBIAN_EVERY
                )
            )

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
            w.IntSlider.from_param(m.param.shown_step, label="step shown in per-layer views"),
            self.progress,
            self.progress_text,
            self.device_line,
            width=320,
        )

    def panel(self) -> pn.viewable.Viewable:
        return page_layout(
            self.slug,
            self.controls(),
            [preset_bar(self.model, PRESETS), self.notice, self.overflow_notice, self.theory_text],
            self.figures(),
            [explanation_panel(EXPLANATION)],
        )

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
