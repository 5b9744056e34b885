"""Issue 15: on the Glorot & Bengio page, the figures' one-sentence summaries (their text alternative,
app.components.figure_text) follow the controls that redraw in the browser: the same move that switches a figure's
data there switches its summary, from texts the server made for every setting (app.pages.glorot.page
``_summary_tables``), still without sending the server a websocket frame; and the browser's summaries are the
server's own for that state (a fresh page opened at the same address shows the same texts)."""

from __future__ import annotations

import pytest

from app.components.figure_text import TEXT_CLASS

from .conftest import SIGNATURE_JS, assert_clean, wait_for_change
from .test_glorot_browser_controls import MOVES, open_glorot, settled

pytestmark = pytest.mark.browser

# JS: the text of every figure's summary paragraph, in page order (walks the open shadow roots Panel renders into).
SUMMARIES_JS = """(cls) => {
  const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains(cls) && el.shadowRoot) {
        const p = el.shadowRoot.querySelector('p[role=status]');
        if (p) out.push(p.textContent);
      } else if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document);
  return out;
}"""
#: the moves whose views change a summarised series (the compare toggle's dashed lines come after the six series a
#: summary names, so it may leave every summary as it was).
SUMMARISED = ("layer", "checkpoint", "snapshot", "grad_kind")


def summaries(page) -> list[str]:
    return page.evaluate(SUMMARIES_JS, TEXT_CLASS)


def test_summaries_follow_browser_side_moves_without_a_frame(page, browser, app_server):
    frames = []
    console, requests = open_glorot(page, app_server.url + "?page=glorot", frames)
    settled(page, frames)
    n, changed = len(frames), {}
    texts = summaries(page)
    assert len(texts) == 9 and all(texts), texts  # one per figure
    for name, move, _query in MOVES:
        sig = page.evaluate(SIGNATURE_JS)
        move(page)
        wait_for_change(page, sig, timeout=10)
        page.wait_for_timeout(700)  # anything the move would send has gone by now
        now = summaries(page)
        changed[name] = [i for i, (a, b) in enumerate(zip(texts, now)) if a != b]
        texts = now
    assert frames[n:] == [], frames[n:]  # the summaries changed in the browser alone
    print(f"\nsummaries changed per browser-side move (figure indices): {changed}")
    assert all(changed[name] for name in SUMMARISED), changed

    context = browser.new_context()  # the server's summaries of the same state
    try:
        fresh = context.new_page()
        fresh_console, fresh_requests = open_glorot(fresh, app_server.url + page.evaluate("location.search"))
        assert summaries(fresh) == texts
        assert_clean(fresh_console, fresh_requests, app_server)
    finally:
        context.close()
    assert_clean(console, requests, app_server)
