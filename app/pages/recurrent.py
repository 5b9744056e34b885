"""Page "Recurrent network": gradients through time (Pascanu, Mikolov & Bengio 2013), LSTM and GRU, note 3, and a
long-memory task. ``RecurrentModel`` declares every control; ``RecurrentPage`` owns the figures (created once) and
updates their data sources in place. Every number comes from ``vgp_core.rnn``.
"""

from __future__ import annotations

import math

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, Range1d, Span
from bokeh.plotting import figure

from vgp_core import bounds, rnn
from vgp_core.errors import ConfigError

from ..components.config_controls import control
from ..components.explanation import explanation_panel
from ..components.heatmap import LogHeatmap
from ..components.log_profile import LogProfile
from ..components.page import Page, document_hold
from ..components.page_layout import page_layout
from ..components.presets import preset_bar
from ..components.results_cache import RESULTS
from ..components.shared_runs import run_once

#: the bounds of RNNConfig (vgp_core.bounds): defaults, choices and the ranges the sliders offer
RNN_BOUNDS = bounds.of(rnn.RNNConfig)
RADIUS_RANGE = RNN_BOUNDS["spectral_radius"].offered
SWEEP_RADII = np.linspace(*RADIUS_RANGE, 64).astype(np.float32)
HIDDEN_SIZES = [16, 32, 64]
CELL_COLORS = {"vanilla": "#1f77b4", "lstm": "#2ca02c", "gru": "#9467bd"}
#: the cells' lines differ by their dash too: colour is never the only difference
CELL_DASHES = {"vanilla": "solid", "lstm": "dashed", "gru": "dotdash"}

ANALYSIS = ["spectral_radius", "hidden_size", "T", "activation", "family", "cell", "eps", "c", "seed"]
TRAINING = ["task", "train_length", "train_steps", "clip_norm", "learning_rate"]

PRESETS = {
    "sigmoid RNN, radius 0.9 (vanishing)": dict(
        cell="vanilla", activation="sigmoid", family="gaussian", spectral_radius=0.9
    ),
    "tanh RNN, radius 1.5 (exploding)": dict(cell="vanilla", activation="tanh", family="gaussian", spectral_radius=1.5),
    "orthogonal linear RNN, radius 1 (isometry)": dict(
        cell="vanilla", activation="linear", family="orthogonal", spectral_radius=1.0
    ),
    "LSTM on the adding problem, T = 200": dict(
        cell="lstm", activation="tanh", family="gaussian", spectral_radius=1.0, task="adding", train_length=200, T=200
    ),
}

EXPLANATION = (
    (
        "md",
        """### What you see
A recurrent net x_t = W_rec σ(x_{t−1}) + W_in u_t + b (Pascanu et al. 2013) is a deep net with one layer per time
step and the same weights in every layer. The gradient that reaches k steps back is multiplied by k Jacobians:""",
    ),
    (
        "tex",
        r"\frac{\partial x_T}{\partial x_{T-k}} = \prod_{t=T-k+1}^{T} W_{rec}\,\mathrm{diag}\big(\sigma'(x_{t-1})"
        r"\big), \qquad \Big\|\frac{\partial x_T}{\partial x_{T-k}}\Big\| \le (\|W_{rec}\|\, g)^k,",
    ),
    (
        "md",
        """with g = sup σ′ (1 for tanh, 1/4 for sigmoid). If the largest singular value of W_rec is below 1/g the
gradient **must vanish** geometrically (the heatmap darkens to the right); above 1/g it **may explode** (the red line
marks 1/g on the radius axis). Note 3 of the Wikipedia article "Vanishing gradient problem" shows that the
spectral radius alone does not decide: its matrix has radius √(2ε) > 1, yet its products vanish or explode with c.
The **LSTM**'s cell state carries the error along a path whose Jacobian is the forget gate (the constant error
carousel), so its gradient survives hundreds of steps, which is what the memory task needs. **Gradient clipping**
tames explosions but cannot bring back a vanished gradient.
**Magenta**: overflowed float32; **black**: underflowed to 0.""",
    ),
)


class RecurrentModel(param.Parameterized):
    """Every control of the page, with bounds, defaults and a description."""

    spectral_radius = control(
        RNN_BOUNDS["spectral_radius"],
        bounds=RADIUS_RANGE,
        step=0.01,
        doc="Spectral radius γ of the recurrent weight matrix.",
    )
    hidden_size = param.Selector(default=RNN_BOUNDS["hidden_size"].default, objects=HIDDEN_SIZES, doc="Hidden units.")
    T = control(RNN_BOUNDS["T"], step=10, doc="Sequence length of the gradient analysis.")
    activation = control(RNN_BOUNDS["activation"], doc="σ of the vanilla cell.")
    family = control(
        RNN_BOUNDS["family"], doc="Recurrent weights: Gaussian or orthogonal scaled to γ, or note 3's [[0, 2], [ε, 0]]."
    )
    cell = control(RNN_BOUNDS["cell"], doc="Vanilla (Pascanu), LSTM or GRU.")
    eps = control(RNN_BOUNDS["eps"], step=0.01, doc="ε of note 3's matrix (spectral radius √(2ε)).")
    c = control(RNN_BOUNDS["c"], step=0.01, doc="c of note 3's D = c·I.")
    seed = control(RNN_BOUNDS["seed"], doc="Random seed of weights, inputs and task data.")
    task = param.Selector(default="adding", objects=list(rnn.TASKS), doc="Long-range task to train on.")
    train_length = param.Integer(50, bounds=(rnn.MIN_TASK_LENGTH, 500), step=10, doc="Task sequence length.")
    train_steps = param.Integer(200, bounds=(50, 2000), step=50, doc="Training updates (Adam).")
    clip_norm = param.Number(0.0, bounds=(0.0, 10.0), step=0.1, doc="Gradient-norm clipping threshold; 0 = off.")
    learning_rate = param.Selector(default=0.01, objects=[1e-3, 3e-3, 0.01, 0.03], doc="Adam learning rate.")

    def config(self, **changes) -> rnn.RNNConfig:
        values = dict(
            hidden_size=int(self.hidden_size),
            T=int(self.T),
            spectral_radius=float(self.spectral_radius),
            activation=self.activation,
            family=self.family,
            cell=self.cell,
            eps=float(self.eps),
            c=float(self.c),
            seed=int(self.seed),
        )
        values.update(changes)
        return rnn.RNNConfig(**values)


URL_PARAMS = ANALYSIS + TRAINING


class RecurrentPage(Page):
    """The views of ``RecurrentModel``: created once per session, then updated in place."""

    Model = RecurrentModel
    URL_PARAMS = URL_PARAMS
    REDRAWS = {"_on_analysis": ANALYSIS}
    title = "Recurrent network"

    def setup(self):
        """The analysis views are computed at once on every move; training runs when asked (``train()``)."""
        self._build_figures()
        self._runner = self.background_run(
            self._on_trace, lambda exc: self.notices.set("training", f"Training stopped: {exc}")
        )
        self._results = self._empty_results()
        self._run_label = ""
        self._refresh(set(ANALYSIS))

    # ------------------------------------------------------------------------------------------------ figures
    def _build_figures(self):
        self.sweep_map = LogHeatmap(
            "log10 ‖∂x_T/∂x_{T−k}‖ over lag and spectral radius",
            "lag k",
            y_label="spectral radius γ",
            value_label="log10 ‖∂x_T/∂x_{T−k}‖",
            y_tooltip=("radius", "$y{0.00}"),
        )
        self.radius_marker = Span(
            location=self.model.spectral_radius, dimension="width", line_color="white", line_width=3
        )
        self.threshold_marker = Span(
            location=1.0, dimension="width", line_color="red", line_dash="dashed", line_width=2
        )
        # the radius slider moves the marker in the browser (jslink in ``controls``): that write stays there (the
        # server sets the location itself on every redraw), so a move sends no extra message back
        self.radius_marker.syncable = False
        self.sweep_map.figure.add_layout(self.radius_marker)
        self.sweep_map.figure.add_layout(self.threshold_marker)
        self.curve = LogProfile(
            "This radius: measured norm and Pascanu's bound",
            {
                "norm": dict(legend_label="log10 ‖∂x_T/∂x_{T−k}‖", color="#1f77b4", line_width=2),
                "bound": dict(legend_label="log10 (‖W_rec‖ g)^k", color="#d62728", line_dash="dashed", line_width=2),
            },
            x_label="lag k",
            y_label="log10 norm",
            y_axis_type="linear",
            x_tooltip="lag",
            legend_location="bottom_left",
        )
        self.cells = LogProfile(
            "Vanilla vs LSTM vs GRU (same radius, size, T)",
            {
                cell: dict(
                    legend_label=f"{cell} (measured on {rnn_state})",
                    color=CELL_COLORS[cell],
                    line_width=2,
                    line_dash=CELL_DASHES[cell],
                )
                for cell, rnn_state in (("vanilla", "x"), ("lstm", "c"), ("gru", "h"))
            },
            x_label="lag k",
            y_label="log10 norm",
            y_axis_type="linear",
            x_tooltip="lag",
            legend_location="bottom_left",
        )
        self.note3 = LogProfile(
            "Note 3: spectral radius √(2ε) vs the true ‖(W_rec D)^k‖",
            {
                "norm": dict(legend_label="log10 ‖(W_rec D)^k‖", color="#1f77b4", line_width=2),
                "radius": dict(legend_label="log10 ρ(W_rec)^k", color="#d62728", line_dash="dashed", line_width=2),
            },
            x_label="power k",
            y_label="log10",
            y_axis_type="linear",
            x_tooltip="k",
            legend_location="top_left",
        )
        self.train_map = LogHeatmap(
            "Training: log10 ‖∂L/∂x_t‖ per time step",
            "training update",
            y_label="time step t (1 = first input)",
            value_label="log10 ‖∂L/∂x_t‖",
            y_tooltip=("t", "$y{0}"),
        )
        self.train_map.figure.x_range = Range1d(0, self.model.train_steps)
        self.loss_source = ColumnDataSource(data=dict(step=np.zeros(0), loss=np.zeros(0), accuracy=np.zeros(0)))
        loss_fig = figure(
            title="Training loss and accuracy",
            x_axis_label="update",
            height=300,
            width=520,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
        )
        loss_fig.line("step", "loss", source=self.loss_source, legend_label="loss", line_width=2)
        loss_fig.line(
            "step",
            "accuracy",
            source=self.loss_source,
            legend_label="accuracy",
            color="#ff7f0e",
            line_width=2,
            line_dash="dashed",
        )
        loss_fig.legend.location = "top_right"
        self.loss_figure = loss_fig
        self.results_source = ColumnDataSource(data=dict(self._empty_results()))
        res = figure(
            title="Success vs sequence length (held-out accuracy of every run)",
            x_axis_label="length",
            y_axis_label="accuracy",
            height=300,
            width=520,
            y_range=(-0.05, 1.05),
            tools="pan,wheel_zoom,reset,save,hover",
            tooltips=[("run", "@run"), ("length", "@length"), ("accuracy", "@accuracy{0.000}")],
            toolbar_location="above",
        )
        res.scatter("length", "accuracy", source=self.results_source, color="color", size=10)
        res.add_layout(Span(location=rnn.SOLVED_ACCURACY, dimension="width", line_dash="dotted", line_color="gray"))
        self.results_figure = res
        self.verdict = pn.pane.Markdown("", margin=(0, 5))
        self.progress = pn.indicators.Progress(value=0, max=self.model.train_steps, width=300, bar_color="primary")
        self.progress_text = pn.pane.Markdown("Press **Train** to train on the task.", margin=(0, 5))

    @staticmethod
    def _empty_results():
        return dict(length=[], accuracy=[], run=[], color=[])

    # ------------------------------------------------------------------------------------------------ updates
    def _on_analysis(self, *events):
        self._refresh({e.name for e in events})

    def _refresh(self, names: set):
        def work():
            config = self.model.config()
            with document_hold(self._doc):
                self.radius_marker.location = float(config.spectral_radius)
                self._draw_curve(config)
                self._draw_verdict(config)
                if names - {"spectral_radius"}:  # the sweep covers every radius: only other controls redraw it
                    self._draw_sweep(config)
                if names & {"spectral_radius", "hidden_size", "T", "activation", "family", "seed", "eps", "c"}:
                    self._draw_cells(config)
                if names & {"eps", "c", "T"}:
                    n3 = rnn.note3_product(config.eps, config.c, config.T)
                    self.note3.update(n3.k, {"norm": n3.log10_norm, "radius": np.log10(n3.radius_power)})
                    self.note3.figure.title.text = (
                        f"Note 3: spectral radius √(2ε) = {n3.spectral_radius:.3g}; "
                        f"(W_rec D)^(2N) = ({n3.rate:.3g})^N · I"
                    )
            self.notices.clear("setting")

        self._guard(work)

    def _draw_curve(self, config):
        j = rnn.jacobian_norms(config)
        self.curve.update(j.lag, {"norm": j.log10_norm, "bound": j.log10_bound if config.cell == "vanilla" else None})

    def _draw_cells(self, config):
        curves = {cell: rnn.jacobian_norms(config.replace(cell=cell)) for cell in rnn.CELLS}
        self.cells.update(curves["vanilla"].lag, {cell: c.log10_norm for cell, c in curves.items()})

    def _draw_sweep(self, config):
        sweep = rnn.spectral_sweep(config, SWEEP_RADII)
        half = float(SWEEP_RADII[1] - SWEEP_RADII[0]) / 2
        self.sweep_map.update(
            sweep.log10_norm,
            -0.5,
            config.T - 0.5,
            y_range=(float(SWEEP_RADII[0]) - half, float(SWEEP_RADII[-1]) + half),
        )
        # The line γ = 1/g: on the radius axis, where the largest singular value (proportional to γ) reaches 1/g.
        per_radius = sweep.largest_singular_value[-1] / float(SWEEP_RADII[-1])
        ok = math.isfinite(sweep.threshold) and per_radius > 0 and config.family != "note3"
        self.threshold_marker.visible = bool(ok)
        if ok:
            self.threshold_marker.location = float(sweep.threshold / per_radius)

    def _draw_verdict(self, config):
        v = rnn.pascanu_verdict(config)
        if not v.applies:
            self.verdict.object = f"**Pascanu's condition** — {v.verdict}."
            return
        self.verdict.object = (
            f"**Pascanu's condition:** largest singular value λ₁ = {v.largest_singular_value:.3g}, spectral radius "
            f"{v.spectral_radius:.3g}, g = {v.max_derivative:.3g}, threshold 1/g = {v.threshold:.3g} → "
            f"**{v.verdict}**."
        )

    # ------------------------------------------------------------------------------------------------ training
    def train(self, _event=None):
        """Train the current settings on the task in the background (streams; a new Train cancels the old run)."""
        m = self.model
        try:
            config = m.config()
        except ConfigError as exc:
            self.notices.set("setting", f"Invalid setting: {exc}")
            return
        task, length, steps, lr = m.task, int(m.train_length), int(m.train_steps), float(m.learning_rate)
        clip = float(m.clip_norm) if m.clip_norm > 0 else None
        self._run_label = (
            f"{config.cell}"
            + (f" {config.activation}" if config.cell == "vanilla" else "")
            + (f", clip {clip:g}" if clip else "")
        )
        self.train_map.figure.x_range.update(start=0, end=steps)
        self.progress.max = steps
        self.progress.value = 0
        self.progress_text.object = f"Training {self._run_label} on {task}, length {length}…"
        key = ("recurrent.train", config, task, length, steps, lr, clip)
        # once per server: a class pressing Train on one preset follows one run; a run trained before is shown at once
        self._runner.start(
            lambda: run_once(
                key,
                lambda: rnn.train_memory_task_iter(
                    config, task, length, steps, clip_norm=clip, learning_rate=lr, chunk=25
                ),
                RESULTS,
            )
        )

    def _on_trace(self, trace: rnn.MemoryTaskTrace):
        def work():
            with document_hold(self._doc):
                steps = np.arange(trace.loss.shape[0])
                with np.errstate(divide="ignore", invalid="ignore"):
                    image = np.log10(trace.time_grad_norm.T)
                self.train_map.update(image, 0, trace.loss.shape[0], y_range=(0.5, trace.length + 0.5))
                self.loss_source.data = dict(
                    step=steps, loss=trace.loss.astype(np.float64), accuracy=trace.accuracy.astype(np.float64)
                )
                self.progress.value = int(trace.loss.shape[0])
                if math.isfinite(trace.eval_accuracy):
                    solved = trace.eval_accuracy >= rnn.SOLVED_ACCURACY
                    self.progress_text.object = (
                        f"{self._run_label}, {trace.task}, length {trace.length}: held-out accuracy "
                        f"**{trace.eval_accuracy:.3f}** ({'solved' if solved else 'not solved'}; chance "
                        f"{trace.chance_accuracy:.2f}), loss {trace.eval_loss:.4g} vs baseline "
                        f"{trace.baseline_loss:.4g}; {int(trace.clipped.sum())} updates clipped."
                    )
                    r = self._results
                    r["length"].append(trace.length)
                    r["accuracy"].append(float(trace.eval_accuracy))
                    r["run"].append(f"{self._run_label}, {trace.task}")
                    r["color"].append(CELL_COLORS[trace.cell])
                    self.results_source.data = {k: list(v) for k, v in r.items()}
                else:
                    self.progress_text.object = (
                        f"Training {self._run_label}: {trace.loss.shape[0]} updates, loss {trace.loss[-1]:.4g}"
                    )

        self._guard(work)

    # ------------------------------------------------------------------------------------------------ layout
    def controls(self) -> pn.Column:
        m, w = self.model, pn.widgets
        radius = w.FloatSlider.from_param(m.param.spectral_radius, label="spectral radius γ")
        radius.jslink(self.radius_marker, value="location")  # the marker follows the drag before the server answers
        train = w.Button(label="Train", color="primary", margin=(8, 10))
        self._on_click(train, self.train)
        return pn.Column(
            "### Recurrent weights",
            radius,
            w.DiscreteSlider.from_param(m.param.hidden_size, label="hidden size"),
            w.IntSlider.from_param(m.param.T, label="T (sequence length)"),
            w.Select.from_param(m.param.activation, label="activation"),
            w.Select.from_param(m.param.family, label="weight family"),
            w.Select.from_param(m.param.cell, label="cell"),
            w.FloatSlider.from_param(m.param.eps, label="ε (note 3)"),
            w.FloatSlider.from_param(m.param.c, label="c (note 3)"),
            w.IntInput.from_param(m.param.seed, label="seed"),
            "### Memory task",
            w.Select.from_param(m.param.task, label="task"),
            w.IntSlider.from_param(m.param.train_length, label="task length"),
            w.IntSlider.from_param(m.param.train_steps, label="training updates"),
            w.FloatSlider.from_param(m.param.clip_norm, label="clip norm (0 = off)"),
            w.DiscreteSlider.from_param(m.param.learning_rate, label="learning rate"),
            train,
            self.progress,
            self.progress_text,
            width=320,
        )

    def panel(self) -> pn.viewable.Viewable:
        return page_layout(
            self.slug,
            self.controls(),
            [preset_bar(self.model, PRESETS), self.notice, self.verdict],
            self.figures(),
            [explanation_panel(EXPLANATION)],
        )

    def figures(self) -> dict:
        return {
            "spectral-sweep": self.sweep_map.figure,
            "norm-vs-bound": self.curve.figure,
            "cells": self.cells.figure,
            "note3": self.note3.figure,
            "training-heatmap": self.train_map.figure,
            "loss": self.loss_figure,
            "success-vs-length": self.results_figure,
        }
