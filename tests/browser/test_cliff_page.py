"""The Loss-cliff page in a real browser: keyboard moves on the sliders, a click on the heatmap (a new start point)
and the replay slider change the plots' data, a bad link gives a notice, and nothing errs or leaves localhost."""

from __future__ import annotations

import pytest

from .conftest import (
    ROOT,
    assert_clean,
    click_figure,
    open_page,
    press_slider,
    save_screenshot,
    wait_for_change,
    wait_until_quiet,
)

pytestmark = pytest.mark.browser
SCREENSHOT = ROOT / "assets" / "loss-cliff.png"


def test_cliff_controls_and_clicks_change_paths(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + "?page=cliff", console, requests)
    sig = wait_until_quiet(page, quiet=1.5)
    # the default start sits just left of the wall: the first plain step jumps it (the summary says so)
    page.get_by_text("jumped over the wall").first.wait_for(timeout=60_000)

    for label, key in (
        ("b (1-D start)", "ArrowLeft"),
        ("T (1-D)", "ArrowRight"),
        ("learning rate η", "ArrowLeft"),
        ("clip threshold θ", "ArrowRight"),
        ("step shown", "ArrowLeft"),
    ):
        press_slider(page, label, key)
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)

    # a click on the 2-D heatmap starts both paths there
    search = page.evaluate("location.search")
    click_figure(page, "vgp-cliff-surface", 0.45, 0.6)
    # the URL mirrors the new start point once the server has handled the click (the data may change first)
    page.wait_for_function("() => location.search.includes('start_w=')", timeout=120_000)
    sig = wait_for_change(page, sig)
    after = page.evaluate("location.search")
    assert "start_w=" in after and "start_b=" in after and after != search
    sig = wait_until_quiet(page, quiet=1.0)

    # and a click on L(b) starts the 1-D path
    click_figure(page, "vgp-loss-curve", 0.3, 0.5)
    sig = wait_for_change(page, sig)
    assert "b=" in page.evaluate("location.search").replace("start_b=", "")
    sig = wait_until_quiet(page, quiet=1.0)

    page.get_by_role("button", name="start next to the wall (clipping 0.1)").click()
    wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.5)
    assert page.get_by_text("catapulted off the map").count() >= 1
    save_screenshot(page, SCREENSHOT)
    assert_clean(console, requests, app_server)


def test_cliff_bad_url_values_give_a_notice(page, app_server):
    console, requests = [], []
    open_page(
        page, app_server.url + "?page=cliff&learning_rate=5&descent_steps=99999&surface=nope&b=-2.45", console, requests
    )
    wait_until_quiet(page, quiet=1.0)
    notice = page.get_by_text("Link settings adjusted")
    assert notice.count() == 1
    text = notice.first.inner_text()
    assert "learning_rate='5'" in text and "descent_steps=99999 is out of range" in text and "surface='nope'" in text
    # the valid part of the link still applies
    assert page.locator(".bk-slider-title", has_text="b (1-D start): -2.45").count() == 1
    assert_clean(console, requests, app_server)
