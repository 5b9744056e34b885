"""The "Glorot & Bengio 2010" page in a real browser: every control (selects, sliders, radio buttons, the compare
checkbox, a preset) changes the plots' data, a link reproduces a state and bad link values give a notice, and
nothing errs or leaves localhost."""

from __future__ import annotations

import pytest

from app.pages.glorot import GlorotModel

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
SCREENSHOT = ROOT / "assets" / "glorot-2010.png"


# Selects whose options are a dict show (and are set by) their labels.
RUN = {key: label for label, key in GlorotModel.param.run.names.items()}
INIT = {key: label for label, key in GlorotModel.param.init.names.items()}


def test_glorot_controls_change_plots(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + "?page=glorot", console, requests)
    page.get_by_text("Test error (%), our runs and Table 1").wait_for(timeout=120_000)  # the page has rendered
    sig = wait_until_quiet(page, quiet=1.5)
    assert page.get_by_text("far below the paper").count() >= 1

    # selects: committed run, activation, initialization (in this order in the controls column)
    for index, label in ((1, "tanh"), (2, INIT["glorot_uniform"]), (0, RUN["h100"]), (0, RUN["cpu"])):
        controls(page).locator("select").nth(index).select_option(label=label)
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)

    # sliders: layer (default 5, the top) and checkpoint (default: the last) move down by one step
    for label in ("layer (1 = input side)", "checkpoint (0 = initialization)"):
        search = page.evaluate("location.search")
        press_slider(page, label, "ArrowLeft")
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)
        assert page.evaluate("location.search") != search  # mirrored in the URL
    assert page.get_by_text("checkpoint 19 of 20").count() == 1

    # radio buttons and the compare checkbox
    for name in ("at initialization", "∂C/∂W (Fig. 8)"):
        page.get_by_role("button", name=name, exact=True).click()
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page, quiet=1.0)
    checkbox = controls(page).locator("input[type=checkbox]").first  # "compare with the other initialization"
    checkbox.uncheck()
    sig = wait_for_change(page, sig)
    sig = wait_until_quiet(page, quiet=1.0)
    assert "compare=false" in page.evaluate("location.search")

    # a preset, then the screenshot of the paper's Fig. 6-7 view
    checkbox.check()
    sig = wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.0)
    page.get_by_role("button", name="Fig. 6–7: histograms, standard vs normalized").click()
    sig = wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.5)
    assert controls(page).locator("select").nth(1).input_value() == "tanh"
    assert controls(page).locator("select").nth(2).input_value() == INIT["standard"]
    save_screenshot(page, SCREENSHOT)
    assert_clean(console, requests, app_server)


def test_glorot_link_state_and_bad_values(page, app_server):
    console, requests = [], []
    open_page(
        page,
        app_server.url + "?page=glorot&run=h100&activation=softsign&checkpoint=40&layer=9&init=xavier",
        console,
        requests,
    )
    page.get_by_text("Link settings adjusted").first.wait_for(timeout=120_000)
    wait_until_quiet(page, quiet=1.5)
    notice = page.get_by_text("Link settings adjusted").first.inner_text()
    assert "layer=9 is out of range" in notice and "init='xavier'" in notice
    assert controls(page).locator("select").nth(0).input_value() == RUN["h100"]
    assert controls(page).locator("select").nth(1).input_value() == "softsign"
    assert page.get_by_text("checkpoint 40 of 40").count() == 1  # valid for the H100 file's 41 checkpoints
    assert_clean(console, requests, app_server)
