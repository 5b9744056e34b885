"""Issue "Security": a link is hostile until proven otherwise. Every parameter of every page (and the page name
itself) is given ``<img src=x onerror=…>`` and ``<script>`` payloads; the page must show them literally in a
visible notice, fire no dialog and grow no element from them."""

from __future__ import annotations

import importlib
from urllib.parse import urlencode

import pytest

from app.pages import PAGES

from .conftest import open_page

pytestmark = pytest.mark.browser

IMG = "<img src=x onerror=alert(document.domain)>"
SCRIPT = "<script>alert(2)</script>"

# JS: elements made from a payload anywhere in the page, shadow roots included (Panel renders into shadow DOM).
INJECTED_JS = """() => {
  const found = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('img[src="x"], script, svg[onload]')) {
      if (el.tagName === 'SCRIPT' && !/alert/.test(el.textContent)) continue;
      found.push(el.outerHTML);
    }
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) visit(el.shadowRoot);
  };
  visit(document);
  return found;
}"""


def check_link(page, url: str, expect_text: str) -> None:
    dialogs, console, requests = [], [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, url, console, requests)
    notice = page.get_by_text(expect_text).first
    notice.wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert dialogs == []
    assert page.evaluate(INJECTED_JS) == []
    assert IMG in notice.inner_text() or SCRIPT in notice.inner_text()


@pytest.mark.parametrize("spec", PAGES, ids=[p.slug for p in PAGES])
def test_payload_in_every_parameter_is_shown_as_text(page, app_server, spec):
    names = importlib.import_module(f"app.pages.{spec.module}").URL_PARAMS
    query = {"page": spec.slug, **{name: (IMG, SCRIPT)[i % 2] for i, name in enumerate(names)}, "theme": IMG}
    check_link(page, f"{app_server.url}?{urlencode(query)}", "Link settings adjusted")
    assert page.get_by_text("Display settings adjusted").count() == 1


def test_payload_as_the_page_name_is_shown_as_text(page, app_server):
    check_link(page, f"{app_server.url}?{urlencode({'page': IMG})}", "Unknown page")
