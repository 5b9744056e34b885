"""Per-layer curves on a log axis, with overflow/underflow marked distinctly; created once, updated in place."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from .heatmap import OVERFLOW_COLOR
from .numeric import positive_or_nan


class LogProfile:
    """Lines ``name -> style`` over a shared x (layer index); non-finite points become markers at the edges."""

    def __init__(
        self,
        title: str,
        series: dict[str, dict],
        x_label: str = "layer (1 = input side)",
        y_label: str = "norm",
        height: int = 330,
        width: int = 520,
        y_axis_type: str = "log",
        x_tooltip: str = "layer",
        legend_location: str = "top_left",
    ):
        self.names = list(series)
        self.log = y_axis_type == "log"
        self.source = ColumnDataSource(data={"x": np.zeros(0), **{n: np.zeros(0) for n in self.names}})
        self.marks = ColumnDataSource(data=dict(x=[], y=[], kind=[]))
        fig = figure(
            title=title,
            x_axis_label=x_label,
            y_axis_label=y_label,
            y_axis_type=y_axis_type,
            height=height,
            width=width,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
        )
        renderers = []
        for name, style in series.items():
            style = dict(style)
            label = style.pop("legend_label", name)
            renderers.append(fig.line("x", name, source=self.source, legend_label=label, **style))
        fig.scatter(
            "x",
            "y",
            source=self.marks,
            marker="x",
            size=10,
            line_width=2,
            color=OVERFLOW_COLOR,
            legend_label="overflow (inf/NaN) or underflow (0)",
        )
        fig.add_tools(
            HoverTool(
                renderers=renderers,
                tooltips=[(x_tooltip, "@x")] + [(n, f"@{{{n}}}{{0.000e}}") for n in self.names],
                mode="vline",
            )
        )
        fig.legend.location = legend_location
        fig.legend.click_policy = "hide"
        fig.legend.background_fill_alpha = 0.6
        self.figure = fig

    def update(self, x: np.ndarray, values: dict[str, np.ndarray | None]) -> int:
        """Draw ``values``; a series that is missing or None is not available (drawn as nothing), while NaN/inf
        in a given series is an overflow and 0 on a log axis an underflow, both marked with crosses.
        Returns the number of marked points."""
        data, marks = self.drawn(x, values)
        self.source.data = data
        self.marks.data = marks
        return len(marks["x"])

    def drawn(self, x: np.ndarray, values: dict[str, np.ndarray | None]) -> tuple[dict, dict]:
        """What ``update`` draws, without drawing it: the lines' data and the crosses' data (a page that draws in
        the browser sends these for every setting, see ``app.components.step_frames``)."""
        data = {"x": np.asarray(x, np.float64)}
        mark_x, mark_kind = [], []
        for name in self.names:
            if values.get(name) is None:
                data[name] = np.full(len(x), np.nan)
                continue
            v = np.asarray(values[name], np.float64)
            if self.log:
                clean, over, under = positive_or_nan(v)
            else:
                over = ~np.isfinite(v)
                under = np.zeros_like(over)
                clean = np.where(np.isfinite(v), v, np.nan)
            data[name] = clean
            for mask, kind in ((over, "overflow"), (under, "underflow")):
                mark_x.extend(data["x"][mask].tolist())
                mark_kind.extend([kind] * int(mask.sum()))
        finite = np.concatenate([d[np.isfinite(d)] for k, d in data.items() if k != "x"] or [np.zeros(0)])
        top = float(finite.max()) if finite.size else 1.0
        bottom = float(finite.min()) if finite.size else 0.0
        if self.log:
            top, bottom = top * 10, bottom / 10
        mark_y = [top if k == "overflow" else bottom for k in mark_kind]
        return data, dict(x=mark_x, y=mark_y, kind=mark_kind)
