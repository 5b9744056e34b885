"""The Edge of chaos page in a real browser: keyboard moves on the sliders change the plots' data (the theory at
once, the measured views and the spectrum once the controls rest), a preset gives the isometry text, a bad link
gives a notice, and nothing errs or leaves localhost."""

from __future__ import annotations

import pytest

from .conftest import assert_clean, open_page, press_slider, wait_for_change, wait_until_quiet

pytestmark = pytest.mark.browser

# a small network keeps the CI machine's spectrum SVDs short
URL = "?page=edge-of-chaos&width=32&depth=16"


def test_edge_of_chaos_sliders_change_the_plots(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + URL, console, requests)
    page.get_by_text("Spectrum at depth 16").first.wait_for(timeout=120_000)
    sig = wait_until_quiet(page, quiet=1.5)
    for label, key in (("σ_w²", "ArrowRight"), ("σ_b²", "ArrowRight"), ("depth L", "ArrowRight")):
        press_slider(page, label, key)
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)
    page.get_by_text("Spectrum at depth 17").first.wait_for(timeout=120_000)
    assert "sigma_w2=1.51" in page.evaluate("location.search")

    page.get_by_role("button", name="linear + orthogonal (isometry)").click()
    wait_for_change(page, sig)
    # every singular value equal (g^L = 1): all 32 above the float32 floor, at the preset's 64 layers
    page.get_by_text("32 of 32 singular values").first.wait_for(timeout=120_000)
    assert page.get_by_text("Spectrum at depth 64").count() >= 1
    wait_until_quiet(page, quiet=1.5)
    assert_clean(console, requests, app_server)


def test_edge_of_chaos_bad_url_values_give_a_notice(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + URL + "&sigma_w2=99&activation=nope", console, requests)
    notice = page.get_by_text("Link settings adjusted")
    notice.first.wait_for(timeout=120_000)  # the page is built once the session's first document arrives
    wait_until_quiet(page, quiet=1.0)
    assert notice.count() == 1
    text = notice.first.inner_text()
    assert "sigma_w2=99 is out of range" in text and "activation='nope'" in text
    assert_clean(console, requests, app_server)
