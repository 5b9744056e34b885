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
