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
    # the finger lands where the figure is once the page has stopped moving (scrolling; figures above it still
    # laying out, e.g. a title wrapping onto a second line)
    box, previous = figure.bounding_box(), None
    for _ in range(40):
        if box == previous:
            break
        page.wait_for_timeout(250)
        previous, box = box, figure.bounding_box()
    assert box is not None and box["width"] > 0, css_class
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    viewport = page.viewport_size
    assert 0 <= x < viewport["width"] and 0 <= y < viewport["height"], f"the tap would miss the screen: {box}"
    page.touchscreen.tap(x, y)


# JS: whether the heatmap of the figure with CSS class `cls` is drawn (an image, or a grid of quads), so that a tap
# lands on its final axes (the maps are computed after the page opens).
HEATMAP_DRAWN_JS = """(cls) => [...Bokeh.documents[0].all_models].some((m) => (m.css_classes || []).includes(cls) &&
  (m.renderers || []).some((r) => {
    const d = r.data_source && r.data_source.data
    const get = (k) => (d instanceof Map ? d.get(k) : d && d[k])
    const image = get("image"), left = get("left")
    return (image && image.length > 0 && image[0].length > 0) || (left && left.length > 1)
  }))"""
# JS: whether the trainability map outlines a cell (its marker quad's source holds one cell; none before a pick).
OUTLINED_CELL_JS = """() => [...Bokeh.documents[0].all_models].some((m) => m.type == "ColumnDataSource" &&
  (m.data instanceof Map ? m.data.get("left") : m.data.left)?.length == 1 &&
  (m.data instanceof Map ? m.data.has("top") : "top" in m.data))"""


@pytest.mark.parametrize(
    ("slug", "css_class", "fx", "fy", "picked"),
    [
        # the map picks (b, x(0)), the address bar follows
        ("bifurcation", "vgp-sensitivity-map", 0.3, 0.75, "() => /[?&]b=/.test(location.search)"),
        # the surface starts both paths at the tapped (w, b): on a phone the surface (wider than the screen) scrolls
        # inside its card, so the tap lands in its left part, above the legend (bottom left): a finger on the legend
        # toggles a path instead
        ("cliff", "vgp-cliff-surface", 0.3, 0.4, "() => location.search.includes('start_w=')"),
        # the tapped cell is outlined (and retrained live)
        ("edge-of-chaos", "vgp-trainability-map", 0.5, 0.6, OUTLINED_CELL_JS),
    ],
)
def test_a_tap_on_a_heatmap_picks_its_point(chromium, app_server, slug, css_class, fx, fy, picked):  # noqa: F811
    app_server.wait_for_warm_up()  # the page itself, not its "preparing…" placeholder (a busy machine: minutes)
    context, page, console, requests = open_at(chromium, f"{app_server.url}?page={slug}", "phone")
    try:
        page.wait_for_function(HEATMAP_DRAWN_JS, arg=css_class, timeout=120_000)
        sig = wait_until_quiet(page, quiet=1.5)
        assert not page.evaluate(picked)  # nothing picked yet
        tap_figure(page, css_class, fx, fy)
        page.wait_for_function(picked, timeout=120_000)  # the server handled the tap as a click
        wait_for_change(page, sig)  # and the views that follow the picked point changed
        assert_clean(console, requests, app_server)
    finally:
        context.close()
