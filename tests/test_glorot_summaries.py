"""The Glorot & Bengio page's figure summaries (issue 15): the summary the page shows for a setting of its
browser-side controls is ``figure_text.summary`` of the figure as drawn for that setting, and it changes with
the controls whose views it names (the browser picks the same texts: tests/test_browser_views.py)."""

from __future__ import annotations

from app.components.figure_text import FigureText, paragraph, summary
from app.pages.glorot import GlorotPage


def shown(page: GlorotPage) -> dict[str, str]:
    return {name: FigureText.of(fig).text.object for name, fig in page.figures().items()}


def test_each_summary_is_the_summary_of_what_is_drawn():
    page = GlorotPage()
    before = shown(page)
    for state in (
        dict(snapshot="initial"),
        dict(grad_kind="weight", layer=2),
        dict(checkpoint=3, compare=False),
    ):
        page.model.param.update(**state)
        now = shown(page)
        for name, fig in page.figures().items():
            assert now[name] == paragraph(summary(fig)), (name, state)
        assert now != before, state  # each of these moves changes a summarised series
        before = now
