"""The Bifurcation page in a real browser: keyboard moves on the sliders and a click on the sensitivity map change
the plots' data, a preset shows the overflow notice, a bad link gives a notice, and nothing errs or leaves
localhost."""

from __future__ import annotations

import pytest

from .conftest import (
    ROOT,
    assert_clean,
    click_figure,
    controls,
    open_page,
    press_slider,
    save_screenshot,
    wait_for_change,
    wait_until_quiet,
)

pytestmark = pytest.mark.browser
SCREENSHOT = ROOT / "assets" / "bifurcation.png"
MAP_CELLS = 200 * 200  # app.pages.bifurcation.MAP_N squared

# JS: the number of cells of the largest image in the document (the sensitivity map, computed off the request path).
IMAGE_CELLS_JS = """() => {
  let best = 0;
  for (const doc of (window.Bokeh && Bokeh.documents) || []) {
    for (const m of doc.all_models) {
      if (m.type !== 'ColumnDataSource') continue;
      const image = m.data instanceof Map ? m.data.get('image') : m.data.image;
      if (image && image.length && image[0] && image[0].length) best = Math.max(best, image[0].length);
    }
  }
  return best;
}"""


def wait_for_map(page) -> None:
    page.wait_for_function(f"() => ({IMAGE_CELLS_JS})() >= {MAP_CELLS}", timeout=90_000)


def test_bifurcation_controls_change_plots(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + "?page=bifurcation", console, requests)
    wait_for_map(page)
    sig = wait_until_quiet(page, quiet=1.5)
    assert page.get_by_text("analytic at equilibrium").count() >= 1

    for label in ("b (bias)", "x(0) (initial state)", "w (self-connection)", "T (steps)", "ε (step size)"):
        press_slider(page, label)
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)

    controls(page).locator("select").first.select_option(label="continuous-time limit (RK4)")
    sig = wait_for_change(page, sig)
    sig = wait_until_quiet(page, quiet=1.0)

    # a click on the sensitivity map picks (b, x(0)) there
    search = page.evaluate("location.search")
    click_figure(page, "vgp-sensitivity-map", 0.3, 0.75)
    sig = wait_for_change(page, sig)
    assert page.evaluate("location.search") != search
    sig = wait_until_quiet(page, quiet=1.0)

    # a preset that overflows float32: named, not a crash
    page.get_by_role("button", name="ε = 1 on the separatrix (overflow)").click()
    sig = wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.0)
    assert page.get_by_text("overflowed float32").count() >= 1

    page.get_by_role("button", name="one-bit memory (w = 5, b = −2.5)").click()
    wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.5)
    save_screenshot(page, SCREENSHOT)
    assert_clean(console, requests, app_server)


def test_bifurcation_bad_url_values_give_a_notice(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + "?page=bifurcation&w=999&method=nope&x0=abc&b=-2.4", console, requests)
    wait_until_quiet(page, quiet=1.0)
    notice = page.get_by_text("Link settings adjusted")
    assert notice.count() == 1
    text = notice.first.inner_text()
    assert "w=999 is out of range" in text and "method='nope'" in text and "x0='abc'" in text
    assert page.get_by_text("at b = -2.4:").count() >= 1  # the valid part of the link still applies
    assert_clean(console, requests, app_server)
