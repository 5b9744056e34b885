"""Issue 15: on a phone (390 × 844, touch), a tap on a heatmap picks its point as a mouse click does — the
Bifurcation page's sensitivity map (b, x(0)), the Loss-cliff page's surface (the paths' start) and the Edge of chaos
page's trainability map (the cell retrained live). The taps are real touch events (``page.touchscreen.tap``: the
Chrome DevTools Protocol's touchStart/touchEnd), on the same points as the mouse clicks of the pages' own tests."""

from __future__ import annotations

import pytest

from .conftest import assert_clean, wait_for_change, wait_until_quiet
from .test_responsive import chromium, open_at  # noqa: F401  (chromium: the phone's browser, a fixture)

pytestmark = pytest.mark.browser


def tap_figure(page, css_class: str, fx: float, fy: float) -> None:
    """One finger's tap at the fraction (fx, fy) of the figure with CSS class ``css_class``, scrolled into view."""
    figure = page.locator(f".{css_class}").first
    figure.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # the scroll settles before the box is read
    box = figure.bounding_box()
    assert box is not None and box["width"] > 0, css_class
    page.touchscreen.tap(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


# JS: whether the trainability map outlines a cell (its marker quad's source holds one cell; none before a pick).
OUTLINED_CELL_JS = """() => [...Bokeh.documents[0].all_models].some((m) => m.type == "ColumnDataSource" &&
  (m.data instanceof Map ? m.data.get("left") : m.data.left)?.length == 1 &&
  (m.data instanceof Map ? m.data.has("top") : "top" in m.data))"""


@pytest.mark.parametrize(
    ("slug", "css_class", "fx", "fy", "picked"),
    [
        # the map picks (b, x(0)), the address bar follows
        ("bifurcation", "vgp-sensitivity-map", 0.3, 0.75, "() => /[?&]b=/.test(location.search)"),
        # the surface starts both paths at the tapped (w, b)
        ("cliff", "vgp-cliff-surface", 0.45, 0.6, "() => location.search.includes('start_w=')"),
        # the tapped cell is outlined (and retrained live)
        ("edge-of-chaos", "vgp-trainability-map", 0.5, 0.6, OUTLINED_CELL_JS),
    ],
)
def test_a_tap_on_a_heatmap_picks_its_point(chromium, app_server, slug, css_class, fx, fy, picked):  # noqa: F811
    context, page, console, requests = open_at(chromium, f"{app_server.url}?page={slug}", "phone")
    try:
        sig = wait_until_quiet(page, quiet=1.5)
        assert not page.evaluate(picked)  # nothing picked yet
        tap_figure(page, css_class, fx, fy)
        page.wait_for_function(picked, timeout=120_000)  # the server handled the tap as a click
        wait_for_change(page, sig)  # and the views that follow the picked point changed
        assert_clean(console, requests, app_server)
    finally:
        context.close()
