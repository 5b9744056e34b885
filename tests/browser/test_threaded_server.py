"""`VGP_NUM_THREADS` > 0 (`panel serve --num-threads N`): Panel then runs widget events on worker threads, and every
page must still update its plots without server errors (pages hand their Bokeh changes to the event loop)."""

from __future__ import annotations

import pytest

from .conftest import assert_clean, open_page, press_slider, start_app_server, wait_for_change, wait_until_quiet

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def threaded_server(tmp_path_factory):
    # the warm-up covers the two pages this test opens (the rest of it would only compete for the two cores)
    server = start_app_server(
        tmp_path_factory.mktemp("threaded"),
        extra_args=("--num-threads", "2"),
        env={"VGP_WARMUP_PAGES": "deep,recurrent"},
    )
    yield server
    server.stop()


def test_pages_update_with_worker_threads(page, threaded_server):
    console, requests = [], []
    open_page(page, threaded_server.url, console, requests)
    sig = wait_until_quiet(page)
    # a view slider, a training setting (its watcher re-scales the training heatmap), and a preset button
    for label in ("depth (hidden layers)", "training steps"):
        press_slider(page, label)
        sig = wait_for_change(page, sig)
        sig = wait_until_quiet(page)
    page.get_by_role("button", name="sigmoid, 20 layers, standard init (vanishing)").click()
    sig = wait_for_change(page, sig)
    wait_until_quiet(page)
    assert page.get_by_text("vanishing (ordered)").count() >= 1
    page.locator(".vgp-display").get_by_role("button", name="dark").click()  # the display controller's watcher
    # the preset's training run shares the two cores with the watcher's worker thread: allow for a busy server
    page.wait_for_function("() => location.search.includes('theme=dark')", timeout=90_000)

    page.goto(threaded_server.url + "?page=recurrent", timeout=120_000)
    sig = wait_until_quiet(page, quiet=1.5)
    press_slider(page, "spectral radius γ", "ArrowLeft")
    sig = wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.0)
    page.get_by_role("button", name="Train", exact=True).click()  # a click handler
    page.get_by_text("held-out accuracy").first.wait_for(timeout=120_000)
    assert_clean(console, requests, threaded_server)
