"""``?debug=latency``: the page shows the last move's stages, with numbers, only when the link asks for it."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_clean, open_page, press_slider, wait_for_change, wait_until_quiet

pytestmark = pytest.mark.browser

LINE = re.compile(
    r"last move: event → answer received (\d+\.\d) ms \(server redraw (\d+\.\d) ms, network, queue and "
    r"serialisation (\d+\.\d) ms\) → drawn (\d+\.\d) ms; total (\d+\.\d) ms"
)


@pytest.mark.parametrize("debug", [True, False])
def test_latency_line_only_when_asked(page, app_server, debug):
    console, requests = [], []
    query = "?page=bifurcation" + ("&debug=latency" if debug else "")
    open_page(page, app_server.url + query, console, requests)
    sig = wait_until_quiet(page, quiet=1.5)
    press_slider(page, "x(0) (initial state)", "ArrowRight")
    wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.0)
    if not debug:
        assert page.get_by_text("last move:").count() == 0
    else:
        text = page.get_by_text(LINE).first.inner_text(timeout=10_000)
        received, server, rest, drawn, total = map(float, LINE.search(text).groups())
        print(f"\n{text}")
        assert 0 < server < received and received + drawn == pytest.approx(total, abs=0.2)  # 0.1 ms rounding each
        assert rest == pytest.approx(received - server, abs=0.2)
    assert_clean(console, requests, app_server)
