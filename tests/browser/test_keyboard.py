"""Issue 15: the Deep page without a mouse. Tab reaches every control of the controls card, in the order shown
(top to bottom), each with a visible focus ring and an accessible name; the arrow keys move a focused slider and the
plots follow."""

from __future__ import annotations

import pytest

from app.components.page_layout import CONTROLS_CLASS

from .conftest import SIGNATURE_JS, controls, open_page, wait_for_change, wait_until_quiet

pytestmark = pytest.mark.browser

# JS: the focused element, through the open shadow roots: its control kind, name, position, and focus ring width.
FOCUSED_JS = r"""(cls) => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el) return null;
  let inside = false;
  for (let a = el; a; a = a.parentElement || (a.getRootNode() && a.getRootNode().host)) {
    if (a.classList && a.classList.contains(cls)) { inside = true; break; }
  }
  const cs = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const label = el.labels && el.labels.length ? el.labels[0].textContent.replace(/\s+/g, ' ').trim() : '';
  return {tag: el.tagName, role: el.getAttribute('role') || '', name: el.getAttribute('aria-label') || label,
          top: r.top + scrollY, left: r.left, inside,
          ring: cs.outlineStyle === 'none' ? 0 : parseFloat(cs.outlineWidth)};
}"""
# JS: every focusable control of the controls card (what Tab must reach).
CONTROL_COUNT_JS = """(cls) => {
  const find = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains(cls)) return el;
      if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; } } return null; };
  let n = 0;
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.matches('input:not([type=hidden]), select, .noUi-handle') && el.getBoundingClientRect().width > 0) n++;
      if (el.shadowRoot) walk(el.shadowRoot); } };
  const card = find(document); walk(card.shadowRoot || card); return n;
}"""


def test_tab_reaches_every_deep_control_and_arrows_move_sliders(page, app_server):
    console, requests = [], []
    open_page(page, app_server.url + "?page=deep", console, requests)
    sig = wait_until_quiet(page)
    expected = page.evaluate(CONTROL_COUNT_JS, CONTROLS_CLASS)
    assert expected >= 15  # depth, width, activation, init, gain, bias, 2 checkboxes, seed, 7 training controls

    page.locator("body").click(position={"x": 1, "y": 1})
    seen, order = [], []
    for _ in range(120):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_JS, CONTROLS_CLASS)
        if focused is None or not focused["inside"] or focused["tag"] == "BUTTON":
            continue  # the header, presets, export buttons; spin buttons are not tab stops of their own
        key = (focused["role"] or focused["tag"], focused["name"], round(focused["top"]))
        if key in seen:
            break
        seen.append(key)
        order.append(focused)
        assert focused["name"], focused  # a screen reader names it
        assert focused["ring"] >= 2, focused  # a visible focus ring
    names = [f["name"] for f in order]
    assert len(order) == expected, names
    tops = [f["top"] for f in order]
    assert tops == sorted(tops), names  # top to bottom, as shown
    assert "depth (hidden layers)" in names and "gain (weight scale)" in names
    assert any(n.startswith("activation") for n in names), names

    # arrow keys on the focused depth slider and gain slider change the plots
    for label in ("depth (hidden layers)", "gain (weight scale)"):
        handle = page.locator(f'.noUi-handle[aria-label="{label}"]').first
        handle.focus()
        before = page.evaluate(SIGNATURE_JS)
        page.keyboard.press("ArrowRight")
        wait_for_change(page, before)
        wait_until_quiet(page)
    # a select, by keyboard only
    select = controls(page).locator("select").first  # activation
    select.focus()
    before = page.evaluate(SIGNATURE_JS)
    page.keyboard.press("ArrowDown")
    wait_for_change(page, before)
    del sig
