"""Notices show hostile text literally (issue "Security": a value from a link is never markup), and keep one
message per key."""

from __future__ import annotations

import html
import importlib
import re

import pytest

from app.components.notices import Notices, literal
from app.pages import PAGES

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.domain)</script>",
    "[click](javascript:alert(1))",
    "![x](http://example.invalid/x.png)",
    "**bold** _em_ `code` <b>b</b> &amp; \\",
    "<svg/onload=alert(1)>\n# heading",
]


def rendered_html(markdown_source: str) -> str:
    """The HTML the browser receives for a notice (Panel renders Markdown on the server)."""
    pane = Notices().pane
    pane.object = markdown_source
    return html.unescape(pane._transform_object(pane.object)["object"])


def visible_text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_literal_renders_no_element_and_shows_the_text(payload):
    out = rendered_html(literal(payload))
    tags = set(re.findall(r"<\s*([a-zA-Z]+)", out))
    assert tags <= {"p", "br"}, out  # no img, script, a, svg, strong, code, h1 …
    assert visible_text(out).split() == payload.split()  # the very text, word for word


def test_notices_by_key_replace_and_clear_only_their_own_message():
    notices = Notices()
    assert not notices.pane.visible
    notices.set("link", "Link settings adjusted: depth=500 is out of range")
    notices.set("setting", "Invalid setting: <b>x</b>")
    assert notices.pane.visible and notices.text.splitlines() == [
        "Link settings adjusted: depth=500 is out of range",
        "Invalid setting: <b>x</b>",
    ]
    notices.set("setting", "Invalid setting: y")
    assert notices.get("setting") == "Invalid setting: y"
    notices.clear("setting")
    assert notices.get("setting") is None and notices.get("link") is not None and notices.pane.visible
    assert "<b>" not in notices.pane.object
    notices.clear()
    assert not notices.pane.visible and notices.text == ""


@pytest.mark.parametrize("spec", PAGES, ids=[p.slug for p in PAGES])
def test_script_in_any_link_parameter_is_reported_as_text(spec):
    """Every URL parameter of every page, each given a script payload: the page builds, reports each value in its
    link notice, and the notice renders without any element from the payload."""
    names = importlib.import_module(f"app.pages.{spec.module}").URL_PARAMS
    payloads = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]
    query = {name: payloads[i % 2] for i, name in enumerate(names)}
    page = spec.build(query=query)
    text = page.notices.get("link")
    assert text is not None and text.startswith("Link settings adjusted")
    for name in names:
        assert re.search(rf"\b{name}\b", text), name
    out = rendered_html(page.notice.object)
    assert "<img" not in out and "<script" not in out, out
    assert "<img src=x onerror=alert(1)>" in visible_text(out)
