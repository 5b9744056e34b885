"""A move for every control of the Bifurcation and Loss-cliff pages, and digests of a page's plotted data: the page
tests check that each move changes some plot's data."""

from __future__ import annotations

import hashlib

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource

# A new value for every control (applied in this order, each from the defaults' state so far).
BIFURCATION_MOVES = dict(w=5.5, b=-2.4, eps=0.2, x0=0.4, steps=300, u=0.1, w_in=0.5, method="continuous", map_shows="b")
CLIFF_MOVES = dict(
    b=-2.4,
    steps=300,
    start_w=5.0,
    start_b=-2.25,
    pascanu_steps=60,
    learning_rate=0.3,
    clip_norm=1.0,
    descent_steps=40,
    shown_step=10,
    surface="grad",
)


def _digest(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_digest(v) for v in value) + "]"
    a = np.asarray(value)
    if a.dtype == object:
        return repr(a.tolist())
    return f"{a.shape}:{hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()}"


def figures(layout) -> list:
    return [pane.object for pane in layout.select(pn.pane.Bokeh)]


def signature(figs) -> dict[str, str]:
    """Digest of every ColumnDataSource of the figures, by source id."""
    out = {}
    for fig in figs:
        for src in fig.select({"type": ColumnDataSource}):
            out[src.id] = ";".join(f"{k}={_digest(v)}" for k, v in sorted(src.data.items()))
    return out


def assert_every_move_changes_plots(page, figs, sig: dict, moves: dict, url_params) -> None:
    """Every control (each one mirrored in the URL) gets a move, and each move changes some plot's data."""
    for name in url_params:
        assert name in moves, name
    for name, value in moves.items():
        setattr(page.model, name, value)
        new = signature(figs)
        changed = [k for k in new if new[k] != sig.get(k)]
        assert changed, f"moving {name} changed no plot data"
        assert not page.notice.visible, (name, page.notices.text)
        sig = new
