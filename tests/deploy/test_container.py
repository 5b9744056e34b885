"""The built container image, driven in Chromium: `.ci/run` builds and starts it with
../shared/tools/container-check --keep and passes its URL in VGP_CONTAINER_URL. Without that variable the test
skips locally and FAILS in CI (CI=true), so a CI run cannot silently leave the image untested."""

from __future__ import annotations

import os
import urllib.parse
import urllib.request

import pytest

from tests.browser.conftest import wait_for_change

from .conftest import IN_CI, open_app_page, wait_for_plots

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def container_url() -> str:
    url = os.environ.get("VGP_CONTAINER_URL", "")
    if not url:
        if IN_CI:
            pytest.fail("VGP_CONTAINER_URL is not set: .ci/run must start the image (container-check --keep)")
        pytest.skip("no running container (VGP_CONTAINER_URL, set by .ci/run)")
    return url


def test_container_serves_the_app_offline(page, container_url):
    parts = urllib.parse.urlparse(container_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    with urllib.request.urlopen(f"{origin}/liveness", timeout=30) as r:  # the image's HEALTHCHECK endpoint
        assert r.status == 200
    console, requests = [], []
    open_app_page(page, container_url, console, requests, timeout=180)
    sig = wait_for_plots(page, timeout=180)  # plots with data
    assert page.get_by_text("Mean field:").count() >= 1  # the deep-network page
    handle = page.locator(".noUi-handle").first  # the depth slider: a server round trip over the websocket
    handle.focus()
    handle.press("ArrowRight")
    wait_for_change(page, sig, timeout=120)
    assert [t for kind, t in console if kind == "error"] == [], console
    ws_origin = origin.replace("http", "ws", 1)
    offsite = [u for u in requests if not u.startswith((origin + "/", ws_origin + "/", "data:", "blob:"))]
    assert offsite == [], offsite  # everything from the container itself
