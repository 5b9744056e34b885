"""Names for every control and a visible focus ring, for keyboard and screen-reader users (WCAG 2.1: 4.1.2 "Name,
Role, Value", 2.4.7 "Focus Visible", 1.3.1 "Info and Relationships").

Bokeh renders Panel's widgets in shadow roots with their visible title beside, not bound to, the control: a noUiSlider
handle (``role="slider"``) has no accessible name, a checkbox's text is a ``div`` instead of a ``label``, a number
input's up/down buttons and a player's buttons are empty ``button``s, a select without a title has no name at all,
and a data table's grid holds focusable panes and canvases (SlickGrid's; the table's pages size it to its rows)
that a grid may not contain. Bokeh's layouts are plain ``div``s, so the page has no landmarks: the elements marked
with a class of ``LANDMARKS`` (the site's header, its page links and everything below the header) get their ARIA
landmark role (WCAG 1.3.1; axe-core's "landmark-one-main" and "region" rules: all content inside landmarks), and
a card's title (Panel's ``h3``) is a level-2 heading, a section under the page's one ``h1`` (axe's
"heading-order"). ``LABEL_JS`` walks the page's open shadow roots once the document is ready (and again while the
first figures and late widgets render, and whenever focus moves) and gives each such control an ``aria-label``
from the text the user sees, and adopts one small stylesheet into every shadow root: a 3 px focus ring outside the
focused control (global CSS cannot reach into shadow roots). Nothing is sent to the server. ``install(doc)`` runs
it in a served session's document.
"""

from __future__ import annotations

import json

from bokeh.models import CustomJS

#: the focus ring (WCAG 2.4.7; 3:1 contrast against white and against the dark theme's background), and code text.
FOCUS_RING_CSS = (
    ":focus-visible, .noUi-handle:focus { outline: 3px solid #1a73e8 !important; outline-offset: 2px !important; }"
    # inline code in Markdown keeps the text's colour (Panel's pink on white is below 4.5:1, WCAG 1.4.3)
    " code { color: inherit; }"
)
#: css class -> (ARIA landmark role, its accessible name or ""), given to the element with that class (``app.site``
#: marks its header, page links and main column with these classes).
LANDMARKS = {
    "vgp-header": ("banner", ""),
    "vgp-nav": ("navigation", "Pages"),
    "vgp-site-main": ("main", ""),
}
#: when, after the page's layout first exists, the walk runs again (ms): widgets and figures render over seconds.
RELABEL_AFTER_MS = (300, 1500, 4000, 10000)

LABEL_JS = """
const ring = new CSSStyleSheet();
ring.replaceSync(FOCUS_CSS);
const text = (el) => (el ? (el.textContent || '').replace(/\\s+/g, ' ').trim() : '');
const title_of = (root) => {
  // the visible title of the widget whose shadow root is `root`: its own title, else the text just before its host
  const own = root.querySelector('.bk-slider-title, label, .bk-input-group > label');
  const own_text = text(own).replace(/:.*$/, '').trim();
  if (own_text) return own_text;
  const host = root.host;
  let prev = host ? host.previousElementSibling : null;
  while (prev && !text(prev) && !(prev.shadowRoot && text(prev.shadowRoot.querySelector('div, p, label'))))
    prev = prev.previousElementSibling;
  if (prev) return (text(prev) || text(prev.shadowRoot.querySelector('div, p, label'))).replace(/:.*$/, '').trim();
  return '';
};
const name = (el, label) => { if (label && !el.getAttribute('aria-label')) el.setAttribute('aria-label', label); };
const landmarked = {};
const visit = (root) => {
  for (const [cls, [role, label]] of Object.entries(LANDMARK_ROLES)) {
    for (const el of root.querySelectorAll('.' + cls)) {
      if (el.getAttribute('role') !== role) el.setAttribute('role', role);
      landmarked[role] = true;
      if (label) name(el, label);
    }
  }
  if (root.host && root.host.classList.contains('card-title')) {  // a card's title (a pane of its own)
    for (const el of root.querySelectorAll('h3:not([aria-level])')) el.setAttribute('aria-level', '2');
  }
  if (root !== document && !root.adoptedStyleSheets.includes(ring))
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, ring];
  for (const el of root.querySelectorAll('.noUi-handle')) name(el, title_of(root));
  for (const el of root.querySelectorAll('input[type=checkbox], input[type=radio]')) {
    if (!el.closest('label')) name(el, text(el.parentElement) || title_of(root));
  }
  for (const el of root.querySelectorAll('.bk-spin-btn-up')) name(el, 'increase ' + title_of(root));
  for (const el of root.querySelectorAll('.bk-spin-btn-down')) name(el, 'decrease ' + title_of(root));
  for (const el of root.querySelectorAll('button')) {  // icon-only buttons (a player's first/previous/play/...)
    if (el.closest('.card-header') || text(el) || el.getAttribute('aria-label')) continue;
    name(el, el.title || String(el.className).replace(/[-_]/g, ' '));
  }
  for (const el of root.querySelectorAll('[role=grid] div[tabindex="0"]:not([role])')) {
    el.removeAttribute('tabindex');  // SlickGrid's panes and canvases: not cells, and not allowed in a grid
  }
  for (const el of root.querySelectorAll('select, input:not([type]), input[type=text], input[type=number], '
                                         + 'input[type=range]')) {
    if (!el.labels || el.labels.length === 0 || !text(el.labels[0])) name(el, title_of(root) || el.title || '');
  }
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot) visit(el.shadowRoot);
};
const run = () => { try { visit(document); } catch (e) { console.warn('vgp accessibility labels:', e); } };
// until the page's layout exists (a loaded or warming-up server first shows a "preparing" page: minutes, maybe),
// every 250 ms (a walk over a few elements); then again while its widgets and figures render
const until_main = () => {
  run();
  if (landmarked.main) for (const ms of AFTER) setTimeout(run, ms);
  else setTimeout(until_main, 250);
};
until_main();
if (!window.vgpLabelling) {
  window.vgpLabelling = true;
  document.addEventListener('focusin', run, true);
}
"""


def label_callback() -> CustomJS:
    """The document-ready callback that names the controls and draws the focus ring (see the module docstring)."""
    code = (
        LABEL_JS.replace("FOCUS_CSS", repr(FOCUS_RING_CSS))
        .replace("AFTER", repr(list(RELABEL_AFTER_MS)))
        .replace("LANDMARK_ROLES", json.dumps(LANDMARKS))
    )
    return CustomJS(code=code)


def install(doc) -> None:
    """Run ``label_callback`` when ``doc`` (a served session's Bokeh document; ``None``: nothing to do) is ready."""
    if doc is not None:
        doc.js_on_event("document_ready", label_callback())
