"""The deep-network page in a real browser: it loads, moving controls changes the plots' data, no errors."""

from __future__ import annotations

import os

import pytest

from .conftest import (
    ROOT,
    controls,
    open_page,
    save_screenshot,
    server_errors,
    slider_handle,
    wait_for_change,
    wait_until_quiet,
)

pytestmark = pytest.mark.browser
SCREENSHOT = ROOT / "assets" / "deep-network.png"
#: the smoke test moves the views' controls: with training off, "quiet" (no plot data changing) comes as soon as a
#: move is drawn, not after the default run has streamed its last chunk (~45 s on two cores while the server warms
#: up). The README's screenshot shows a trained run: taken with training on.
SMOKE_QUERY = "" if os.environ.get("VGP_UPDATE_SCREENSHOTS") == "1" else "?auto_train=false"


@pytest.mark.smoke  # the fast suite's one browser test
def test_deep_page_controls_change_plots(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + SMOKE_QUERY, console, requests)
    sig = wait_until_quiet(page)
    assert page.get_by_text("Mean field:").count() >= 1

    # depth, then gain: keyboard moves on the sliders, as a student would
    for label in ("depth (hidden layers)", "gain (weight scale)"):
        handle = slider_handle(page, label)
        handle.focus()
        handle.press("ArrowRight")
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page)

    # activation select
    controls(page).locator("select").first.select_option("relu")
    sig = wait_for_change(page, sig)
    wait_until_quiet(page)
    assert page.get_by_text("χ₁ = 0.5").count() >= 1  # glorot_normal on square layers: sigma_w^2 = 1, ReLU chi = 1/2

    # a preset sets several controls at once
    page.get_by_role("button", name="sigmoid, 20 layers, standard init (vanishing)").click()
    sig = wait_for_change(page, sig)
    wait_until_quiet(page)
    assert page.get_by_text("vanishing (ordered)").count() >= 1
    save_screenshot(page, SCREENSHOT)

    errors = [t for kind, t in console if kind == "error"]
    assert errors == [], errors
    offsite = [
        u for u in requests if not u.startswith(("http://localhost", "http://127.0.0.1", "ws://", "data:", "blob:"))
    ]
    assert offsite == [], offsite
    assert server_errors(app_server) == []


def test_bad_url_values_give_a_notice_not_a_crash(page, app_server):
    console, requests = [], []
    open_page(
        page, app_server.url + "?depth=1000000&activation=nope&gain=NaN&init=he_normal&width=-1", console, requests
    )
    wait_until_quiet(page)
    notice = page.get_by_text("Link settings adjusted")
    assert notice.count() == 1
    text = notice.first.inner_text()
    assert "depth=1000000 is out of range" in text and "activation='nope'" in text and "gain='NaN'" in text
    # the valid part of the link still applies
    assert controls(page).locator("select").nth(1).input_value() == "he_normal"
    assert [t for kind, t in console if kind == "error"] == []
    assert server_errors(app_server) == []


def test_overflow_is_marked(page, app_server):
    console, requests = [], []
    open_page(
        page, app_server.url + "?activation=relu&init=he_normal&gain=4&depth=200&auto_train=false", console, requests
    )
    wait_until_quiet(page)
    # (2 g^2 / 2)^(depth/2) = 16^100 overflows float32: the page says so instead of crashing
    assert page.get_by_text("overflowed float32").count() >= 1
    assert server_errors(app_server) == []
