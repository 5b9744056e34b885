"""Every use of a Panel or Bokeh internal, in one place, each gated on the versions it was measured with and
saying why it is needed. Review this file when upgrading Panel or Bokeh.
"""

from __future__ import annotations

import panel as pn
from packaging.version import Version

PANEL = Version(pn.__version__)

#: the widget properties a browser move changes: Panel processes them on the next tick instead of after its
#: 50 ms debounce (``Syncable._debounce``)
MOVE_PROPERTIES = ("value", "value_throttled", "active")


def answer_moves_without_debounce() -> bool:
    """Panel delays every widget change from the browser by ``Syncable._debounce`` (50 ms, panel/reactive.py,
    ``_server_change``) unless the property is one of the class's ``_priority_changes``, which are handled on the
    next tick. A slider move therefore waited 50 ms before any computation — half of the 100 ms budget. Coalescing
    a drag does not need the delay here: changes that arrive while a move is processed are merged by Panel (its
    pending ``_events``), and every slower view goes through the scheduler, where the newest request wins.

    Returns whether the change was applied (Panel 1.10.x, the version measured; other versions keep the debounce).
    """
    if not (Version("1.10") <= PANEL < Version("1.11")):
        return False
    syncable = pn.reactive.Syncable
    syncable._priority_changes = sorted(set(syncable._priority_changes) | set(MOVE_PROPERTIES))
    return True


def forget_document_views(doc) -> int:
    """Drop Panel's view registrations (``pn.state._views``) that belong to ``doc``; returns how many.

    Panel registers each session's notification area in ``pn.state._views`` (``Viewable.get_root``) and never
    unregisters it: its ``_server_destroy`` returns early for a root it did not serve itself, so every closed
    session's whole document stays alive (~0.5 MB a tab). Reported upstream as holoviz/panel#8605 (fix proposed in
    #8607). Measured still needed on Panel 1.10.0: without it, 3 of 3 closed sessions' documents stay alive
    (tests/test_session_memory.py). Applied on every version up to 1.10.x; re-measure before widening the gate.
    """
    if PANEL >= Version("1.11"):
        return 0
    stale = [ref for ref, view in list(pn.state._views.items()) if view[2] is doc]
    for ref in stale:
        pn.state._views.pop(ref, None)
    return len(stale)


def destroyed_session_document(session_context):
    """The document of a session being destroyed (Bokeh's ``BokehSessionContext`` keeps it private as
    ``_document``; its public ``with_locked_document`` is a coroutine, unusable in a destroy callback)."""
    return session_context._document


def release_js_callbacks(root: pn.viewable.Viewable) -> int:
    """Drop the JS callbacks and links of ``root`` and every Panel object below it from Panel's registry.

    ``Reactive.jscallback``, ``jslink`` and ``Button.js_on_click`` keep their callbacks in ``Callback.registry``
    (panel/links.py), a ``WeakKeyDictionary`` keyed by the source object. A callback's ``args`` may hold other
    widgets of the page, whose watchers refer to the page, which refers to the source: the key then never dies and
    a closed session's whole document stays in memory (measured with Panel 1.10.0: every closed Glorot session,
    ~3 MB each). Called when the session is destroyed.

    Args:
      root: a page's layout.

    Returns:
      How many sources were dropped.
    """
    from panel.links import Callback

    return sum(Callback.registry.pop(obj, None) is not None for obj in root.select())
