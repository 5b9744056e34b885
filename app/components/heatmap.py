"""A log10 heatmap (Bokeh image glyph) created once and updated in place."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Span
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from .numeric import NonFinite, log10_for_image

OVERFLOW_COLOR = "#ff00ff"  # magenta: inf/NaN (exploded past float32)
UNDERFLOW_COLOR = "#000000"  # black: exactly 0 (vanished below float32)


class LogHeatmap:
    """Image of log10 values, rows = layers (layer 1 at the bottom), columns = ``x`` bins.

    Overflow cells are drawn in magenta and underflow cells in black, whatever the colour range.
    """

    def __init__(
        self,
        title: str,
        x_label: str,
        y_label: str = "layer (1 = input side)",
        value_label="log10 |∂L/∂h|",
        height: int = 330,
        width: int = 520,
        y_tooltip: tuple[str, str] = ("layer", "$y{0}"),
        css_classes: list[str] | None = None,
    ):
        """``y_tooltip``: (label, format) of the y value in the hover tooltip; ``css_classes`` on the figure
        (lets browser tests find it)."""
        self.mapper = LinearColorMapper(
            palette=Viridis256,
            low=-1,
            high=1,
            nan_color=OVERFLOW_COLOR,
            low_color=UNDERFLOW_COLOR,
            high_color=Viridis256[-1],
        )
        self.source = ColumnDataSource(
            data=dict(image=[np.zeros((1, 1), np.float32)], x=[0.0], y=[0.5], dw=[1.0], dh=[1.0])
        )
        fig = figure(
            title=title,
            x_axis_label=x_label,
            y_axis_label=y_label,
            height=height,
            width=width,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            css_classes=list(css_classes or []),
        )
        renderer = fig.image(
            image="image", x="x", y="y", dw="dw", dh="dh", source=self.source, color_mapper=self.mapper
        )
        self.hover = HoverTool(
            renderers=[renderer], tooltips=[(x_label, "$x{0.00}"), y_tooltip, (value_label, "@image{0.00}")]
        )
        fig.add_tools(self.hover)
        self.color_bar = ColorBar(color_mapper=self.mapper, title=value_label, width=10)
        fig.add_layout(self.color_bar, "right")
        fig.x_range.range_padding = fig.y_range.range_padding = 0
        self.figure = fig

    def add_span(self, location: float, **style) -> Span:
        span = Span(location=location, dimension="height", **style)
        self.figure.add_layout(span)
        return span

    def set_value_label(self, label: str) -> None:
        """Rename the plotted quantity (colour-bar title and hover line) without rebuilding the figure."""
        self.color_bar.title = label
        tips = list(self.hover.tooltips)
        tips[-1] = (label, tips[-1][1])
        self.hover.tooltips = tips

    def clear(self) -> None:
        """Draw nothing (the colour scale keeps its last range)."""
        self.source.data = {k: [] for k in self.source.data}

    def update(
        self, log_values: np.ndarray, x0: float, x1: float, y_range: tuple[float, float] | None = None
    ) -> NonFinite:
        """``log_values`` has shape (layers, columns); the image spans [x0, x1] horizontally and, vertically,
        one unit per row from 0.5 (layers) or ``y_range`` = (y0, y1) when given."""
        image, counts, (lo, hi) = log10_for_image(log_values)
        rows = image.shape[0]
        y0, dh = (0.5, float(rows)) if y_range is None else (float(y_range[0]), float(y_range[1] - y_range[0]))
        self.mapper.update(low=lo, high=hi)
        self.source.data = dict(image=[image], x=[float(x0)], y=[y0], dw=[float(x1 - x0)], dh=[dh])
        return counts
