"""`vgp serve`'s Content-Security-Policy in Chromium (the shared ``app_server`` is `python -m app.server`, so every
browser test runs under it): every page loads and draws its plots with no CSP violation, and the policy itself
refuses script injected into the page (an inline event handler, an inline ``<script>`` without the nonce) —
the second line of defence behind the escaping of notice texts (tests/browser/test_link_injection.py)."""

from __future__ import annotations

import re
import time

import pytest

from app.pages import PAGES

from .conftest import SIGNATURE_JS, assert_clean, open_page, wait_until_quiet

pytestmark = pytest.mark.browser

#: JS run before any page script: keep every CSP violation the document reports (shadow roots' too: the event is
#: composed and bubbles to the document).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI), true);
"""


def violations(page) -> list[str]:
    return page.evaluate("() => window.__cspViolations")


def csp_messages(console) -> list[str]:
    return [t for _, t in console if "Content Security Policy" in t or "Refused to" in t]


def wait_for_plot_data(page, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while not re.search(r":[1-9]\d*:", page.evaluate(SIGNATURE_JS)):
        assert time.time() < deadline, "the page's plots never got data"
        page.wait_for_timeout(250)
    wait_until_quiet(page, quiet=1.5, timeout=max(10.0, deadline - time.time()))


@pytest.mark.parametrize("slug", [spec.slug for spec in PAGES])
def test_every_page_renders_under_the_csp(page, app_server, slug):
    page.add_init_script(RECORD_VIOLATIONS)
    responses = []
    page.on("response", lambda r: responses.append(r) if r.request.resource_type == "document" else None)
    console, requests = [], []
    open_page(page, f"{app_server.url}?page={slug}", console, requests)
    wait_for_plot_data(page)
    # the figures are drawn: canvases with an area
    canvases = page.locator("canvas")
    assert canvases.count() > 0
    assert any(
        (box := canvases.nth(i).bounding_box()) and box["width"] * box["height"] > 0
        for i in range(min(canvases.count(), 10))
    )
    assert "script-src 'self' 'nonce-" in responses[0].headers["content-security-policy"]
    assert violations(page) == [] and csp_messages(console) == [], (violations(page), csp_messages(console))
    assert_clean(console, requests, app_server)


def test_the_csp_refuses_injected_script(page, app_server):
    """A hostile link fires nothing; markup with an inline handler or an inline script put into the page's DOM
    (as a missed escape would) does not run, and Chromium reports the violation."""
    page.add_init_script(RECORD_VIOLATIONS)
    dialogs, console, requests = [], [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, f"{app_server.url}?page=deep&activation=<img src=x onerror=alert(1)>", console, requests)
    wait_for_plot_data(page)
    assert dialogs == [] and violations(page) == []  # escaped by the page: nothing for the CSP to refuse
    page.evaluate("""() => {
      const div = document.createElement('div');
      div.innerHTML = '<img src="data:," onerror="window.__ranHandler = true">';
      document.body.appendChild(div);
      const script = document.createElement('script');
      script.textContent = 'window.__ranScript = true';
      document.body.appendChild(script);
    }""")
    page.wait_for_timeout(1000)
    assert page.evaluate("() => [window.__ranHandler, window.__ranScript]") == [None, None]
    found = violations(page)
    assert any(v.startswith("script-src-attr inline") for v in found), found  # the onerror handler
    assert any(v.startswith("script-src-elem inline") for v in found), found  # the <script> without the nonce
    assert dialogs == []
