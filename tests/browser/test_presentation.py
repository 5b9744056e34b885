"""Presentation mode in a real browser: a link with ?theme=dark&present=1&controls=0&palette=okabe-ito opens a dark,
large-print page without its controls; the header's Display area switches theme, presentation, controls and
palette in place (same document, same figure models, no data re-sent, URL updated); bad values give a notice;
nothing errs or leaves localhost."""

from __future__ import annotations

import time

import pytest

from app.components.presentation import PRESENT_TITLE_SCALE

from .conftest import ROOT, SIGNATURE_JS, assert_clean, open_page, save_screenshot, wait_until_quiet

pytestmark = pytest.mark.browser
SCREENSHOT = ROOT / "assets" / "presentation-dark.png"

# JS: every figure's id, plot background, title font size and colour, and every line glyph's colour.
FIGURES_JS = """() => {
  const spec = (v) => (v && typeof v === 'object' && 'value' in v) ? v.value : v;
  const out = {figures: [], lines: []};
  for (const doc of (window.Bokeh && Bokeh.documents) || []) {
    for (const m of doc.all_models) {
      if (m.type === 'Figure') {
        out.figures.push({id: m.id, bg: String(m.background_fill_color).toLowerCase(),
                          border: String(m.border_fill_color).toLowerCase(),
                          font: m.title ? spec(m.title.text_font_size) : null,
                          title_color: m.title ? String(spec(m.title.text_color)).toLowerCase() : null});
      } else if (m.type === 'Line') {
        out.lines.push(String(spec(m.line_color)).toLowerCase());
      }
    }
  }
  out.figures.sort((a, b) => a.id < b.id ? -1 : 1);
  return out;
}"""


# JS: the computed background of the site's root column (the first Panel column in the light DOM).
ROOT_BG_JS = """() => {
  const el = [...document.querySelectorAll('.bk-panel-models-layout-Column')]
    .find(e => (e.getAttribute('style') || '').includes('min-height: 100vh'));
  return el ? getComputedStyle(el).backgroundColor : null;
}"""


def wait_root_background(page, rgb: str, timeout: float = 60.0, server=None) -> float:
    """Wait until the root column is painted ``rgb`` (Panel's theme stylesheet may still be loading); seconds."""
    start = time.time()
    while time.time() - start < timeout:
        if page.evaluate(ROOT_BG_JS) == rgb:
            return time.time() - start
        page.wait_for_timeout(20)
    debug = page.evaluate("""() => [...document.querySelectorAll('*')].filter(e => e.shadowRoot).slice(0, 2)
        .map(e => [e.className, getComputedStyle(e).getPropertyValue('--panel-background-color'),
                   [...e.shadowRoot.querySelectorAll('link, style')].map(l => l.href || l.textContent.slice(0, 60)),
                   [...e.shadowRoot.adoptedStyleSheets || []].length])""")
    log = server.log()[-3000:] if server is not None else ""
    raise AssertionError(f"the page background is {page.evaluate(ROOT_BG_JS)}, not {rgb}: {debug}\n{log}")


def figures_state(page) -> dict:
    return page.evaluate(FIGURES_JS)


def wait_for(page, predicate, what: str, timeout: float = 30.0) -> tuple[dict, float]:
    """Poll the figures' state until ``predicate(state)``; returns (state, seconds waited)."""
    start = time.time()
    while time.time() - start < timeout:
        state = figures_state(page)
        if predicate(state):
            return state, time.time() - start
        page.wait_for_timeout(20)
    raise AssertionError(f"timed out waiting for {what}: {figures_state(page)}")


def controls_visible(page) -> bool:
    loc = page.locator(".vgp-controls")
    return loc.count() > 0 and loc.first.is_visible()


def page_luminance(page) -> float:
    """Mean luminance (0-255) of a screenshot of the viewport."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(page.screenshot(timeout=120_000))).convert("L")
    hist = img.histogram()
    return sum(i * n for i, n in enumerate(hist)) / sum(hist)


def test_presentation_link_and_in_place_toggles(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + "?page=deep&theme=dark&present=1&controls=0&palette=okabe-ito", console, requests)
    page.wait_for_function(f"() => ({FIGURES_JS})().figures.length >= 5", timeout=180_000)
    wait_until_quiet(page)
    state = figures_state(page)
    # dark, large print, colour-blind-safe, no controls
    assert all(
        f["bg"] not in ("#ffffff", "white") and f["border"] not in ("#ffffff", "white") for f in state["figures"]
    ), state
    assert all(f["font"] == f"{13 * PRESENT_TITLE_SCALE:.4g}px" for f in state["figures"]), state
    assert "#1f77b4" not in state["lines"] and "#0072b2" in state["lines"], state["lines"]
    assert not controls_visible(page)
    wait_root_background(page, "rgb(33, 37, 41)", server=app_server)  # Panel's dark --panel-background-color
    assert page_luminance(page) < 90
    assert page.get_by_text("Dark theme: heatmap cells").count() == 1
    save_screenshot(page, SCREENSHOT)

    page.evaluate("window.__vgp_same_page = true")
    ids = [f["id"] for f in state["figures"]]
    data = page.evaluate(SIGNATURE_JS)
    display = page.locator(".vgp-display")
    timings = {}

    # theme -> light, in place
    display.get_by_role("button", name="light").click()
    state, timings["theme"] = wait_for(page, lambda s: all(f["bg"] == "#ffffff" for f in s["figures"]), "light")
    assert all(f["title_color"] not in ("#e0e0e0",) for f in state["figures"])
    page.wait_for_function("() => location.search.includes('theme=light')", timeout=10_000)
    timings["theme: page painted"] = timings["theme"] + wait_root_background(page, "rgb(255, 255, 255)")
    assert page_luminance(page) > 150
    assert (
        page.get_by_text("Dark theme: heatmap cells").count() == 0
        or not page.get_by_text("Dark theme: heatmap cells").first.is_visible()
    )

    # presentation off: fonts back to Bokeh's 13px
    display.locator(".bk-Checkbox", has_text="presentation").locator("input").click()
    state, timings["present"] = wait_for(page, lambda s: all(f["font"] == "13px" for f in s["figures"]), "13px")
    page.wait_for_function("() => location.search.includes('present=false')", timeout=10_000)

    # palette back to the default Category10
    display.locator("select").first.select_option("default")
    state, timings["palette"] = wait_for(
        page, lambda s: "#1f77b4" in s["lines"] and "#0072b2" not in s["lines"], "Category10"
    )

    # controls shown again
    t = time.time()
    display.locator(".bk-Checkbox", has_text="controls").locator("input").click()
    page.locator(".vgp-controls").first.wait_for(state="visible", timeout=10_000)
    timings["controls"] = time.time() - t

    # and dark again
    display.get_by_role("button", name="dark").click()
    state, timings["theme back"] = wait_for(page, lambda s: all(f["bg"] != "#ffffff" for f in s["figures"]), "dark")
    wait_root_background(page, "rgb(33, 37, 41)")
    assert page_luminance(page) < 90

    print("display toggles, click to figure restyled in the browser (s):", {k: round(v, 3) for k, v in timings.items()})
    # restyled in place: same page, same figure models, no data re-sent
    assert page.evaluate("window.__vgp_same_page === true")
    assert [f["id"] for f in figures_state(page)["figures"]] == ids
    assert page.evaluate(SIGNATURE_JS) == data
    assert "theme=dark" in page.evaluate("location.search")
    assert_clean(console, requests, app_server)


def test_bad_display_values_give_a_notice(page, app_server):
    console, requests = [], []
    open_page(
        page,
        app_server.url + "?page=bifurcation&theme=purple&present=maybe&palette=okabe-ito&controls=2",
        console,
        requests,
    )
    page.wait_for_function(f"() => ({FIGURES_JS})().figures.length >= 4", timeout=180_000)
    wait_until_quiet(page, quiet=1.0)
    notice = page.get_by_text("Display settings adjusted")
    assert notice.count() == 1
    text = notice.first.inner_text()
    assert "theme='purple'" in text and "present='maybe'" in text and "controls='2'" in text
    state = figures_state(page)
    assert all(f["bg"] == "#ffffff" and f["font"] == "13px" for f in state["figures"]), state  # safe fallbacks
    assert "#0072b2" in state["lines"]  # the valid part of the link still applies
    assert controls_visible(page)
    assert_clean(console, requests, app_server)
