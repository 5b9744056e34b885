"""Page "Glorot & Bengio 2010", its figures: the Bokeh figures and data sources, created once per session
(``GlorotFigures``, a base of ``GlorotPage``), whose sources the page's draws update in place.

References:
  Glorot & Bengio (2010), AISTATS: activation trajectories (Figs. 2-3), activation and gradient histograms
  (Figs. 6-7), gradient variances (Figs. 8-9), the Jacobians' singular values (Sec. 4.2.1), test errors (Table 1).
"""

from __future__ import annotations

import math

import numpy as np
import panel as pn
from bokeh.core.property.vectorization import value
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, LabelSet, Range1d, Span
from bokeh.plotting import figure
from bokeh.transform import dodge

from vgp_core.experiments import glorot2010 as g10

from ...components.browser_views import browser_only
from .data import (
    ACTIVATION_COLORS,
    ACTIVATION_MARKERS,
    BAR_HATCHES,
    CHANCE,
    CMP_LABEL,
    FIG_HEIGHT,
    INIT_COLORS,
    INIT_LABELS,
    INIT_MARKERS,
    LAYER_MARKERS,
    PAPER_JACOBIAN_SV,
    TOOLS,
    labels_by_key,
    layer_colors,
    max_depth,
    paper_label,
    runs,
)
from .views import _empty_lines, _Marks

#: the paper's reference lines (one per initialization) differ by their dash too, not only their colour
PAPER_LINE_DASHES = {"standard": "dotted", "glorot_uniform": "dashed"}


class GlorotFigures:
    """The page's Bokeh figures and their sources (``_build_figures``), with the helpers that draw their glyphs."""

    # ------------------------------------------------------------------------------------------------ figures
    def _fig(self, title, x_label, y_label, **kw):
        return figure(
            title=title,
            x_axis_label=x_label,
            y_axis_label=y_label,
            height=FIG_HEIGHT,
            width=520,
            tools=TOOLS,
            toolbar_location="above",
            **kw,
        )

    @staticmethod
    def _layer_lines(fig, source, init: str, columns: tuple[str, str], size: int, labels: tuple[str, str]) -> list:
        """Two per-layer curves of one initialization in its colour and with its marker: ``columns[0]`` solid,
        ``columns[1]`` dashed. Returns the two line renderers (for the hover tool)."""
        color, lines, marker = INIT_COLORS[init], [], INIT_MARKERS[init]
        for column, label, dash in zip(columns, labels, ("solid", "dashed")):
            lines.append(
                fig.line("layer", column, source=source, color=color, line_width=2, line_dash=dash, legend_label=label)
            )
            fig.scatter("layer", column, source=source, color=color, size=size, marker=marker, legend_label=label)
        return lines

    @staticmethod
    def _layer_markers(fig, source, prefix: str) -> None:
        """Each layer's marker on its curve (columns ``{prefix}1``.. of ``source``): added last, so that the figure's
        summary (its first series) and hover tools are those of the lines; the legend shows line and marker."""
        for i in range(1, max_depth() + 1):
            fig.scatter(
                "x",
                f"{prefix}{i}",
                source=source,
                marker=LAYER_MARKERS[(i - 1) % len(LAYER_MARKERS)],
                size=5,
                color=layer_colors()[i - 1],
                legend_label=f"layer {i}",
            )

    @staticmethod
    def _chosen_marker(fig, source) -> None:
        """The open black circle on the chosen layer and initialization."""
        fig.scatter(
            "layer",
            "y",
            source=source,
            size=14,
            fill_alpha=0,
            line_color="black",
            line_width=2,
            legend_label="chosen layer and init",
        )

    @staticmethod
    def _marks_renderer(fig, source):
        """Crosses for non-finite values (magenta) and zeros on a log axis (black); explained in the notice."""
        fig.scatter("x", "y", source=source, marker="x", size=10, line_width=2, color="color")

    @staticmethod
    def _finish_legend(fig, ncols: int = 4):
        """The legend below the plot (it never hides data), clickable to hide a series."""
        legend = fig.legend[0]
        fig.center = [r for r in fig.center if r is not legend]
        legend.update(
            click_policy="hide",
            label_text_font_size="8pt",
            spacing=0,
            padding=2,
            margin=2,
            ncols=ncols,
            glyph_height=12,
            label_height=12,
            border_line_alpha=0,
        )
        fig.add_layout(legend, "below")

    def _layer_columns(self, prefix: str) -> dict:
        return {f"{prefix}{i}": np.zeros(0) for i in range(1, max_depth() + 1)}

    def _build_figures(self):
        D = max_depth()
        # (a) activation trajectories (Fig. 2-3)
        self.traj_source = ColumnDataSource(data={"x": np.zeros(0), **self._layer_columns("mean")})
        # percentiles of every layer as one multi-line (xs, ys, color): 2 x depth lines
        self.traj_pct = ColumnDataSource(data=_empty_lines())
        self.traj_highlight = ColumnDataSource(
            data=dict(x=np.zeros(0), lo=np.zeros(0), hi=np.zeros(0), mean=np.zeros(0))
        )
        self.traj_checkpoint = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0), color=[]))
        self.traj_marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig("Activations during training", "updates", "activation value")
        fig.varea(
            "x",
            "lo",
            "hi",
            source=self.traj_highlight,
            fill_color="#888888",
            fill_alpha=0.18,
            legend_label="chosen layer: 2nd–98th percentile",
        )
        mean_renderers = []
        for i in range(1, D + 1):
            c = layer_colors()[i - 1]
            mean_renderers.append(
                fig.line("x", f"mean{i}", source=self.traj_source, color=c, line_width=1.6, legend_label=f"layer {i}")
            )
        fig.multi_line(
            "xs",
            "ys",
            source=self.traj_pct,
            color="color",
            line_dash="dashed",
            line_width=1,
            legend_label="2nd and 98th percentiles",
        )
        fig.line(
            "x",
            "mean",
            source=self.traj_highlight,
            color="black",
            line_width=3,
            line_alpha=0.6,
            legend_label="chosen layer: mean",
        )
        fig.scatter("x", "y", source=self.traj_checkpoint, size=8, color="color", line_color="black")
        self._marks_renderer(fig, self.traj_marks)
        self._layer_markers(fig, self.traj_source, "mean")
        fig.add_tools(
            HoverTool(
                renderers=mean_renderers,
                mode="vline",
                tooltips=[("updates", "@x")] + [(f"mean layer {i}", f"@mean{i}{{0.000}}") for i in range(1, D + 1)],
            )
        )
        self.traj_span = Span(location=0, dimension="height", line_color="#555555", line_dash="dashed")
        fig.add_layout(self.traj_span)
        self._finish_legend(fig)
        self.traj_figure = fig

        # (b), (c) histograms (Fig. 4, 6, 7, 8)
        self.act_hist, self.act_hist_cmp, self.act_hist_hl, self.act_hist_marks, self.act_hist_figure = (
            self._histogram_figure("Activation histograms", "activation value")
        )
        self.grad_hist, self.grad_hist_cmp, self.grad_hist_hl, self.grad_hist_marks, self.grad_hist_figure = (
            self._histogram_figure("Gradient histograms", "gradient value")
        )

        # (d) variance during training (Fig. 9), log axis
        (
            self.bp_var,
            self.bp_var_cmp,
            self.bp_var_hl,
            self.bp_var_ckpt,
            self.bp_var_marks,
            self.bp_var_figure,
            self.bp_var_span,
        ) = self._variance_figure("Var[∂C/∂s] during training", "Var[∂C/∂s]")
        (
            self.wg_var,
            self.wg_var_cmp,
            self.wg_var_hl,
            self.wg_var_ckpt,
            self.wg_var_marks,
            self.wg_var_figure,
            self.wg_var_span,
        ) = self._variance_figure("Var[∂C/∂W] during training", "Var[∂C/∂W]")

        # (g) gradient variance per layer at the checkpoint (Fig. 7's shrinkage, Eq. 14's level weight gradients)
        cols = ["bp_standard", "bp_glorot_uniform", "wg_standard", "wg_glorot_uniform"]
        self.profile_source = ColumnDataSource(data={"layer": np.zeros(0), **{c: np.zeros(0) for c in cols}})
        self.profile_hl = ColumnDataSource(data=dict(layer=np.zeros(0), y=np.zeros(0)))
        self.profile_marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig("Gradient variance per layer", "layer (1 = input side)", "variance", y_axis_type="log")
        renderers = []
        for init in g10.INITS:
            renderers += self._layer_lines(
                fig,
                self.profile_source,
                init,
                (f"bp_{init}", f"wg_{init}"),
                5,
                (f"Var[∂C/∂s], {INIT_LABELS[init]}", f"Var[∂C/∂W], {INIT_LABELS[init]}"),
            )
        self._chosen_marker(fig, self.profile_hl)
        self._marks_renderer(fig, self.profile_marks)
        fig.add_tools(
            HoverTool(renderers=renderers, tooltips=[("layer", "@layer")] + [(c, f"@{c}{{0.000e}}") for c in cols])
        )
        fig.xaxis.ticker = list(range(1, D + 1))
        self._finish_legend(fig, ncols=3)
        self.profile_figure = fig

        # (e) Jacobian singular values (Sec. 4.2.1)
        jcols = [f"{init}_{when}" for init in g10.INITS for when in ("initial", "final")]
        self.jac_source = ColumnDataSource(data={"layer": np.zeros(0), **{c: np.zeros(0) for c in jcols}})
        self.jac_hl = ColumnDataSource(data=dict(layer=np.zeros(0), y=np.zeros(0)))
        self.jac_marks = ColumnDataSource(data=_Marks().data())
        self.jac_range = Range1d(0.0, 1.0)  # set per activation to show the paper's 0.5 and 0.8 lines
        fig = self._fig(
            "Mean singular value of each layer's Jacobian",
            "layer (1 = input side)",
            "mean singular value",
            y_range=self.jac_range,
        )
        renderers = []
        for init in g10.INITS:
            renderers += self._layer_lines(
                fig,
                self.jac_source,
                init,
                (f"{init}_initial", f"{init}_final"),
                6,
                (f"{INIT_LABELS[init]}, at initialization", f"{INIT_LABELS[init]}, after training"),
            )
            fig.hspan(
                y=[PAPER_JACOBIAN_SV[init]],
                line_color=INIT_COLORS[init],
                line_dash=PAPER_LINE_DASHES[init],
                line_width=1.5,
                legend_label=f"paper, tanh: ≈{PAPER_JACOBIAN_SV[init]} {INIT_LABELS[init]}",
            )
        self._chosen_marker(fig, self.jac_hl)
        self._marks_renderer(fig, self.jac_marks)
        fig.add_tools(
            HoverTool(renderers=renderers, tooltips=[("layer", "@layer")] + [(c, f"@{c}{{0.000}}") for c in jcols])
        )
        fig.xaxis.ticker = list(range(1, D + 1))
        self._finish_legend(fig, ncols=2)
        self.jac_figure = fig

        # (h) error on the probe set during training (Fig. 10)
        combos = [(a, i) for a in g10.ACTIVATIONS for i in g10.INITS]
        self.curve_source = ColumnDataSource(data={"x": np.zeros(0), **{f"{a}_{i}": np.zeros(0) for a, i in combos}})
        self.curve_hl = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0)))
        self.curve_marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig("Error on the 300 probe images during training (Fig. 10)", "updates", "error (%)")
        renderers = []
        for a, i in combos:
            renderers.append(
                fig.line(
                    "x",
                    f"{a}_{i}",
                    source=self.curve_source,
                    color=ACTIVATION_COLORS[a],
                    line_width=1.8,
                    line_dash="solid" if i == "standard" else "dashed",
                    legend_label=paper_label(a, i),
                )
            )
        fig.line(
            "x",
            "y",
            source=self.curve_hl,
            color="black",
            line_width=4,
            line_alpha=0.35,
            legend_label="chosen combination",
        )
        fig.hspan(
            y=[100 * CHANCE],
            line_color="#777777",
            line_dash="dotted",
            line_width=1.5,
            legend_label=f"chance ({100 * CHANCE:.1f} %)",
        )
        self.curve_span = Span(location=0, dimension="height", line_color="#555555", line_dash="dashed")
        fig.add_layout(self.curve_span)
        self._marks_renderer(fig, self.curve_marks)
        for a, i in combos:  # the activation's marker on its curves (the init: solid or dashed)
            fig.scatter(
                "x", f"{a}_{i}", source=self.curve_source, marker=ACTIVATION_MARKERS[a], size=5,
                color=ACTIVATION_COLORS[a], legend_label=paper_label(a, i),
            )  # fmt: skip
        fig.add_tools(
            HoverTool(
                renderers=renderers,
                mode="vline",
                tooltips=[("updates", "@x")] + [(paper_label(a, i), f"@{{{a}_{i}}}{{0.0}} %") for a, i in combos],
            )
        )
        self._finish_legend(fig)
        self.curve_figure = fig

        # (f) test error vs Table 1
        labels = [paper_label(a, i) for a, i in combos]
        self._bar_series = [f"run:{key}" for key in runs().values()] + ["paper"]
        self.bar_sources = {
            s: ColumnDataSource(
                data=dict(
                    x=labels,
                    top=np.zeros(len(labels)),
                    alpha=np.ones(len(labels)),
                    line_width=np.zeros(len(labels)),
                    text=[""] * len(labels),
                    y_text=np.zeros(len(labels)),
                )
            )
            for s in self._bar_series
        }
        fig = self._fig(
            "Test error: our runs beside the paper's Table 1 (Shapeset-3x2)",
            "",
            "test error (%)",
            x_range=FactorRange(*labels),
        )
        width = 0.8 / len(self._bar_series)
        palette = ["#6baed6", "#08519c", "#fdae6b", "#74c476"]
        for k, s in enumerate(self._bar_series):
            offset = (k - (len(self._bar_series) - 1) / 2) * width
            label = "paper, Table 1" if s == "paper" else "ours: " + labels_by_key()[s.split(":", 1)[1]]
            color = palette[-2] if s == "paper" else palette[k % 2]
            fig.vbar(
                x=dodge("x", offset, range=fig.x_range),
                top="top",
                width=width * 0.92,
                source=self.bar_sources[s],
                fill_color=color,
                fill_alpha="alpha",
                hatch_pattern=BAR_HATCHES[-1] if s == "paper" else BAR_HATCHES[k % (len(BAR_HATCHES) - 1)],
                hatch_color="black",
                hatch_alpha=0.5,
                line_color="black",
                line_width="line_width",
                legend_label=label,
            )
            fig.add_layout(
                LabelSet(
                    x=dodge("x", offset, range=fig.x_range),
                    y="y_text",
                    text="text",
                    source=self.bar_sources[s],
                    text_font_size="7pt",
                    text_align="left",
                    text_baseline="middle",
                    angle=math.pi / 2,
                )
            )
        fig.hspan(
            y=[100 * CHANCE],
            line_color="#777777",
            line_dash="dotted",
            line_width=1.5,
            legend_label=f"chance ({100 * CHANCE:.1f} %)",
        )
        fig.y_range.start = 0
        fig.y_range.end = 125
        fig.x_range.range_padding = 0.05
        fig.xgrid.grid_line_color = None
        self._finish_legend(fig, ncols=1)  # long labels: Bokeh sizes legend columns by their first row
        self.bar_figure = fig

        self._cmp_legend_items = [
            item
            for fig in (self.act_hist_figure, self.grad_hist_figure, self.bp_var_figure, self.wg_var_figure)
            for item in fig.legend[0].items
            if item.label == value(CMP_LABEL)
        ]
        self.readout = browser_only(pn.pane.HTML)("", margin=(0, 5), width=1060)
        self.table_text = pn.pane.Markdown("", disable_math=True, margin=(0, 10), width=520)

    @staticmethod
    def _per_layer_curves(fig, main, cmp, hl, prefix: str) -> list:
        """One solid line per layer (columns ``{prefix}1``.. of ``main``), the other initialization's dashed lines
        (``cmp``) and the chosen layer's wide grey line (``hl``). Returns the per-layer renderers (for hovering)."""
        renderers = [
            fig.line(
                "x", f"{prefix}{i}", source=main, color=layer_colors()[i - 1], line_width=1.8, legend_label=f"layer {i}"
            )
            for i in range(1, max_depth() + 1)
        ]
        fig.multi_line(
            "xs",
            "ys",
            source=cmp,
            color="color",
            line_width=1.2,
            line_dash="dashed",
            line_alpha=0.8,
            legend_label=CMP_LABEL,
        )
        fig.line("x", "y", source=hl, color="black", line_width=4, line_alpha=0.3, legend_label="chosen layer")
        return renderers

    def _histogram_figure(self, title, x_label):
        main = ColumnDataSource(data={"x": np.zeros(0), **self._layer_columns("l")})
        cmp = ColumnDataSource(data=_empty_lines())  # the other init, one dashed line per layer
        hl = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0)))
        marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig(title, x_label, "fraction of values per bin")
        renderers = self._per_layer_curves(fig, main, cmp, hl, "l")
        self._marks_renderer(fig, marks)
        self._layer_markers(fig, main, "l")
        fig.add_tools(
            HoverTool(
                renderers=renderers,
                mode="vline",
                tooltips=[("value", "@x{0.000e}")]
                + [(f"layer {i}", f"@l{i}{{0.0000}}") for i in range(1, max_depth() + 1)],
            )
        )
        self._finish_legend(fig)
        return main, cmp, hl, marks, fig

    def _variance_figure(self, title, y_label):
        main = ColumnDataSource(data={"x": np.zeros(0), **self._layer_columns("v")})
        cmp = ColumnDataSource(data=_empty_lines())  # the other init, one dashed line per layer
        hl = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0)))
        ckpt = ColumnDataSource(data=dict(x=np.zeros(0), y=np.zeros(0), color=[]))
        marks = ColumnDataSource(data=_Marks().data())
        fig = self._fig(title, "updates", y_label, y_axis_type="log")
        renderers = self._per_layer_curves(fig, main, cmp, hl, "v")
        fig.scatter("x", "y", source=ckpt, size=8, color="color", line_color="black")
        self._marks_renderer(fig, marks)
        self._layer_markers(fig, main, "v")
        fig.add_tools(
            HoverTool(
                renderers=renderers,
                mode="vline",
                tooltips=[("updates", "@x")] + [(f"layer {i}", f"@v{i}{{0.000e}}") for i in range(1, max_depth() + 1)],
            )
        )
        span = Span(location=0, dimension="height", line_color="#555555", line_dash="dashed")
        fig.add_layout(span)
        self._finish_legend(fig)
        return main, cmp, hl, ckpt, marks, fig, span
