"""The Deep page's diagnostics in a real browser: the all-layer histograms, the grad:data and update:data views
draw, the gradient histograms of the vanishing sigmoid net sit ~16 decades apart as the profile says, and the line
under the controls names the JAX backend the server runs on."""

from __future__ import annotations

import time

import jax
import numpy as np
import pytest

from app.pages.deep import DIAGNOSTICS_SECTION
from vgp_core import diagnostics

from .conftest import assert_clean, open_page, wait_until_quiet

pytestmark = pytest.mark.browser

# JS: the image (shape and values, NaN = empty bin) of the figure with a CSS class, and its renderers' row counts.
FIGURE_JS = """(cls) => {
  if (!(window.Bokeh && Bokeh.documents && Bokeh.documents.length)) return null
  const fig = [...Bokeh.documents[0].all_models].find((m) => m.css_classes != null && m.renderers != null &&
    [...m.css_classes].includes(cls))
  if (fig == null) return null
  const out = {image: null, lines: 0}
  for (const r of fig.renderers) {
    const d = r.data_source.data
    const get = (k) => (d instanceof Map ? d.get(k) : d[k])
    if (r.glyph.type == "Image") {
      const img = get("image")[0]
      out.image = {shape: Array.from(img.shape), values: Array.from(img, Number)}
    } else if (r.glyph.type == "MultiLine") {
      out.lines = get("xs").length
    }
  }
  return out
}"""


def figure_state(page, css_class: str, predicate, timeout: float = 120.0):
    """The figure's state once ``predicate(state)`` holds (the diagnostics follow once the controls rest)."""
    deadline = time.time() + timeout
    state = None
    while time.time() < deadline:
        state = page.evaluate(FIGURE_JS, css_class)
        if state is not None and predicate(state):
            return state
        page.wait_for_timeout(250)
    raise AssertionError(f"{css_class}: {state!r}")


def test_diagnostics_draw_and_the_device_line_names_the_backend(page, app_server):
    console, requests = [], []
    url = app_server.url + "?activation=sigmoid&depth=20&init=standard&gain=1&steps=20"
    open_page(page, url, console, requests)
    depth, n_grad = 20, diagnostics.GRAD_LOG10_BINS.n_bins
    # the diagnostics are in a section whose figures are built when a student opens it (DIAGNOSTICS_SECTION)
    (title,) = DIAGNOSTICS_SECTION
    page.get_by_text(title).first.click()

    grad = figure_state(page, "deep-grad-hist", lambda s: s["image"]["shape"] == [depth, n_grad])
    image = np.asarray(grad["image"]["values"], np.float64).reshape(depth, n_grad)
    peak = np.nanargmax(np.nan_to_num(image, nan=-np.inf), axis=1)  # the most populated bin of every layer
    decades = (peak[-1] - peak[0]) * (diagnostics.GRAD_LOG10_BINS.hi - diagnostics.GRAD_LOG10_BINS.lo) / n_grad
    assert 15 <= decades <= 18, decades  # the profile's drop over 20 sigmoid layers (tests/test_diagnostics.py)

    act = figure_state(page, "deep-act-hist", lambda s: s["image"]["shape"] == [depth, diagnostics.VALUE_BINS])
    assert np.isfinite(act["image"]["values"]).any()
    figure_state(page, "deep-update-data", lambda s: s["lines"] > 0)  # training ran and recorded update:data

    line = page.get_by_text("ms of server time").first.inner_text()  # Panel panes render inside shadow roots
    assert f"JAX on {jax.default_backend()}" in line and "ms of server time" in line, line
    wait_until_quiet(page)
    assert_clean(console, requests, app_server)
