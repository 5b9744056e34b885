"""Issue 15: every page on a phone (390 × 844, touch), a tablet (820 × 1180, touch) and a laptop (1400 × 1000).

One page load per (page, viewport), everything checked on that load: nothing scrolls sideways
(``document.documentElement.scrollWidth <= innerWidth``), every control of the page is on screen (inside the
window's width) and enabled, every figure is as wide as the window allows and no figure's title is wider than it
(long titles wrap); on the touch devices a slider of the Deep page dragged by a finger (Chrome DevTools Protocol
touch events) changes the plots."""

from __future__ import annotations

import pytest

from app.components.page_layout import CONTROLS_CLASS, FIGURE_CLASS
from app.pages import PAGES

from .conftest import CHROMIUM_FLAGS, SIGNATURE_JS, assert_clean, chromium_path, slider_handle, wait_for_change

pytestmark = pytest.mark.browser

VIEWPORTS = {
    "phone": dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2),
    "tablet": dict(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True, device_scale_factor=2),
    "laptop": dict(viewport={"width": 1400, "height": 1000}, has_touch=False, is_mobile=False),
}
# Small settings for the pages whose first load runs heavy work (as in test_shared_links).
START_QUERY = {"remedies": "&depth=6&width=32&steps=20&remedies=relu,kumar"}

# JS: every control of the controls card (sliders' handles, selects, inputs, buttons, checkboxes), with its box and
# whether it is enabled; walks the open shadow roots Panel renders into.
CONTROLS_JS = """(cls) => {
  const out = [];
  const find = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains(cls)) return el;
      if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; } } return null; };
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
      const control = el.matches('input, select, button, textarea, .noUi-handle');
      const shown = el.getClientRects().length > 0;  // not inside a hidden (visible=False) widget
      if (control && shown && !(el.type === 'file' || el.type === 'hidden') && !el.closest('.bk-card-header')) {
        const r = el.getBoundingClientRect();
        out.push({tag: el.tagName, cls: String(el.className).slice(0, 40), label: el.getAttribute('aria-label') || '',
                  left: r.left, right: r.right, width: r.width, height: r.height,
                  disabled: !!el.disabled || el.getAttribute('disabled') !== null});
      }
      if (el.shadowRoot) walk(el.shadowRoot); } };
  const card = find(document);
  if (card) walk(card.shadowRoot || card);
  return out;
}"""
# JS: the width of every figure's card.
FIGURE_WIDTHS_JS = """(cls) => {
  const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains(cls)) out.push(el.getBoundingClientRect().width);
      if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document); return out;
}"""

# JS: every drawn figure's title box (BokehJS's own measure of the drawn text, and where it starts) and the figure's
# width, in CSS px (app.components.title_wrap breaks a title that would not fit into lines).
TITLES_JS = """() => {
  const out = [];
  for (const doc of Bokeh.documents) for (const plot of doc.all_models) {
    if (plot.title == null || plot.renderers == null || plot.title.text === undefined) continue;
    const view = Bokeh.index.find_one(plot);
    const title = view != null ? view.renderer_views.get(plot.title) : null;
    if (title == null || !(view.bbox.width > 0) || !plot.title.visible) continue;
    out.push({text: plot.title.text, left: title.bbox.left, width: title._get_size().width, figure: view.bbox.width});
  }
  return out;
}"""


@pytest.fixture(scope="module")
def chromium(playwright):
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
    yield browser
    browser.close()


def open_at(chromium, url: str, device: str):
    context = chromium.new_context(**VIEWPORTS[device])
    page = context.new_page()
    console, requests = [], []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, timeout=120_000)
    page.locator(f".{FIGURE_CLASS}").first.wait_for(timeout=120_000)
    deadline = 240  # quarter-seconds
    while deadline and not any("is now open" in t for _, t in console):
        page.wait_for_timeout(250)
        deadline -= 1
    page.wait_for_timeout(1500)  # the figures' first layout
    return context, page, console, requests


def touch_drag(page, handle, dx: float) -> None:
    """Drag ``handle`` by ``dx`` CSS pixels with one finger (touchstart, touchmoves, touchend)."""
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 9):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x + dx * i / 8, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.mark.parametrize("device", list(VIEWPORTS))
@pytest.mark.parametrize("slug", [p.slug for p in PAGES])
def test_page_fits_the_device(chromium, app_server, slug, device):
    url = f"{app_server.url}?page={slug}{START_QUERY.get(slug, '')}"
    context, page, console, requests = open_at(chromium, url, device)
    try:
        width = page.evaluate("innerWidth")
        assert width == VIEWPORTS[device]["viewport"]["width"]  # the page is laid out at the device's width
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing scrolls sideways

        controls = page.evaluate(CONTROLS_JS, CONTROLS_CLASS)
        assert len(controls) >= 3, controls
        for control in controls:
            assert control["width"] > 0 and control["height"] > 0, control  # shown
            assert control["left"] >= -1 and control["right"] <= width + 1, control  # on screen, not cut off
            assert not control["disabled"] or control["tag"] == "BUTTON", control

        figures = page.evaluate(FIGURE_WIDTHS_JS, FIGURE_CLASS)
        assert figures and all(w <= width for w in figures), figures
        if device == "phone":  # one figure per row, the full width less the margins
            assert min(figures) >= width - 40, figures

        titles = page.evaluate(TITLES_JS)
        assert titles, "no figure title found"
        for title in titles:  # no title is cut off at its figure's edge (1 px: rounding of the layout)
            assert title["left"] + title["width"] <= title["figure"] + 1, title

        if slug == "deep" and device != "laptop":
            before = page.evaluate(SIGNATURE_JS)
            touch_drag(page, slider_handle(page, "depth (hidden layers)"), -40)
            wait_for_change(page, before)
        assert_clean(console, requests, app_server)
    finally:
        context.close()
