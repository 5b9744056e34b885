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

    def __init__(self, title: str, x_label: str, y_label: str = "layer (1 = input side)", value_label="log10 |∂L/∂h|",
                 height: int = 330, width: int = 520):
        self.mapper = LinearColorMapper(palette=Viridis256, low=-1, high=1, nan_color=OVERFLOW_COLOR,
                                        low_color=UNDERFLOW_COLOR, high_color=Viridis256[-1])
        self.source = ColumnDataSource(data=dict(image=[np.zeros((1, 1), np.float32)], x=[0.0], y=[0.5], dw=[1.0],
                                                 dh=[1.0]))
        fig = figure(title=title, x_axis_label=x_label, y_axis_label=y_label, height=height, width=width,
                     tools="pan,wheel_zoom,box_zoom,reset,save", toolbar_location="above")
        renderer = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source,
                             color_mapper=self.mapper)
        fig.add_tools(HoverTool(renderers=[renderer], tooltips=[(x_label, "$x{0.00}"), ("layer", "$y{0}"),
                                                                 (value_label, "@image{0.00}")]))
        fig.add_layout(ColorBar(color_mapper=self.mapper, title=value_label, width=10), "right")
        fig.x_range.range_padding = fig.y_range.range_padding = 0
        self.figure = fig

    def add_span(self, location: float, **style) -> Span:
        span = Span(location=location, dimension="height", **style)
        self.figure.add_layout(span)
        return span

    def update(self, log_values: np.ndarray, x0: float, x1: float) -> NonFinite:
        """``log_values`` has shape (layers, columns); the image spans [x0, x1] horizontally."""
        image, counts, (lo, hi) = log10_for_image(log_values)
        rows = image.shape[0]
        self.mapper.update(low=lo, high=hi)
        self.source.data = dict(image=[image], x=[float(x0)], y=[0.5], dw=[float(x1 - x0)], dh=[float(rows)])
        return counts
