"""The Recurrent-network page in a real browser: sliders, selects, presets and a training run change the plots'
data, a shared link reproduces its state, and nothing errs or leaves localhost."""

from __future__ import annotations

import pytest

from .conftest import (
    ROOT,
    assert_clean,
    controls,
    open_page,
    press_slider,
    save_screenshot,
    wait_for_change,
    wait_until_quiet,
)

pytestmark = pytest.mark.browser
SCREENSHOT = ROOT / "assets" / "recurrent-network.png"


def test_recurrent_controls_change_plots_and_training_streams(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + "?page=recurrent", console, requests)
    sig = wait_until_quiet(page, quiet=1.5)
    assert page.get_by_text("Pascanu's condition").count() >= 1

    for label, key in (
        ("spectral radius γ", "ArrowLeft"),
        ("T (sequence length)", "ArrowRight"),
        ("ε (note 3)", "ArrowRight"),
        ("c (note 3)", "ArrowLeft"),
    ):
        press_slider(page, label, key)
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)

    for index, value in ((0, "sigmoid"), (2, "lstm")):  # activation, cell
        controls(page).locator("select").nth(index).select_option(value)
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)

    page.get_by_role("button", name="sigmoid RNN, radius 0.9 (vanishing)").click()
    sig = wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.0)
    assert page.get_by_text("vanishing guaranteed").count() >= 1

    # a short training run streams into the heatmap and ends with a held-out accuracy
    page.get_by_role("button", name="Train", exact=True).click()
    sig = wait_for_change(page, sig)
    page.get_by_text("held-out accuracy").first.wait_for(timeout=120_000)
    save_screenshot(page, SCREENSHOT)
    assert_clean(console, requests, app_server)


def test_recurrent_link_reproduces_state_and_bad_values_give_notice(page, app_server):
    console, requests = [], []
    open_page(
        page, app_server.url + "?page=recurrent&cell=gru&spectral_radius=1.5&T=5000&family=magic", console, requests
    )
    wait_until_quiet(page, quiet=1.5)
    notice = page.get_by_text("Link settings adjusted").first.inner_text()
    assert "T=5000 is out of range" in notice and "family='magic'" in notice
    assert controls(page).locator("select").nth(2).input_value() == "gru"
    assert_clean(console, requests, app_server)
