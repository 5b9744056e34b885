"""Colour is never the only carrier of meaning (issue 15): within every legend of every page, the entries differ in
something besides colour (the glyph, its line dash, marker, hatch, width or size), so a reader who cannot tell
the colours apart, or a black-and-white print of an exported figure, still tells the series apart."""

from __future__ import annotations

import pytest
from bokeh.models import GlyphRenderer, Legend

from app.pages import PAGES

#: glyph properties that tell series apart without colour
SHAPE_PROPERTIES = ("line_dash", "marker", "hatch_pattern", "line_width", "size")


def shape(renderer: GlyphRenderer) -> tuple:
    """What a renderer's glyph looks like, colour aside."""
    glyph = renderer.glyph
    return (type(glyph).__name__,) + tuple(
        repr(getattr(glyph, name)) for name in SHAPE_PROPERTIES if hasattr(glyph, name)
    )


def colour_only_entries(figure) -> list[list[str]]:
    """Groups of legend labels of ``figure`` whose renderers look alike but for their colour."""
    groups = []
    for legend in figure.select(type=Legend):
        by_shape: dict[tuple, list[str]] = {}
        for item in legend.items:
            label = item.label.get("value") if isinstance(item.label, dict) else getattr(item.label, "value", None)
            key = tuple(shape(r) for r in item.renderers if isinstance(r, GlyphRenderer))
            by_shape.setdefault(key, []).append(str(label))
        groups += [labels for labels in by_shape.values() if len(labels) > 1]
    return groups


def test_the_check_sees_a_colour_only_legend():
    from bokeh.plotting import figure

    fig = figure()
    fig.line([0, 1], [0, 1], color="red", legend_label="a")
    fig.line([0, 1], [1, 0], color="blue", legend_label="b")
    assert colour_only_entries(fig) == [["a", "b"]]
    fig.line([0, 1], [1, 1], color="green", legend_label="c", line_dash="dashed")
    assert colour_only_entries(fig) == [["a", "b"]]  # c differs by its dash


@pytest.mark.parametrize("spec", PAGES, ids=[p.slug for p in PAGES])
def test_no_legend_tells_series_apart_by_colour_alone(spec):
    page = spec.build({"auto_train": "false"})
    page.panel()
    found = {name: groups for name, fig in page.figures().items() if (groups := colour_only_entries(fig))}
    assert found == {}, f"{spec.slug}: legend entries that differ only by colour: {found}"


def test_every_remedy_line_differs_from_the_others_without_colour():
    """The Remedies legends list only the entries drawn, so the page test above sees few of them before training:
    draw every entry (baseline and all remedies) and check the full legend."""
    import numpy as np

    from app.pages.remedies import BASELINE, MARKS_PER_LINE, REMEDY_NAMES, MultiLine, marker_rows, remedy_marker

    lines = MultiLine("all remedies", "layer", "norm")
    x = np.arange(1, 31, dtype=np.float64)
    lines.update({name: (x, np.exp(-x / (i + 1))) for i, name in enumerate((BASELINE,) + REMEDY_NAMES)})
    assert len(lines.legend.items) == len(REMEDY_NAMES) + 1
    assert colour_only_entries(lines.figure) == []
    assert len({remedy_marker(n) for n in REMEDY_NAMES}) == len(REMEDY_NAMES)  # a marker of its own for each
    # markers sit on the line's own points, about MARKS_PER_LINE of them, and never add a series to the summaries
    marked = marker_rows(np.arange(30.0))
    assert MARKS_PER_LINE - 1 <= np.isfinite(marked).sum() <= MARKS_PER_LINE
    np.testing.assert_array_equal(marked[np.isfinite(marked)], np.arange(30.0)[np.isfinite(marked)])
    from app.components.figure_text import series

    assert len(series(lines.figure)) == len(REMEDY_NAMES) + 1
