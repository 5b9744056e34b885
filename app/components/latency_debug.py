"""``?debug=latency``: one plain-text line on the page with the stages of the last move that the server answered.

Measured where each stage happens, since the browser's and the server's clocks are not the same:

* in the browser (``performance.now()``): the user's last input event (key, pointer, change) → the server's answer
  applied to the document (the change of ``LatencyProbe.div``'s ``tags``, which travels in the same PATCH-DOC as the
  move's views) → the next animation frame after it (the plots drawn);
* on the server (``time.perf_counter()``): the time spent in the page's redraws of that move (``Page.REDRAWS``,
  model updates included), sent as the ``tags``.

The line reads: event → answer received (of which server redraw, the rest is network, queueing in Panel and
Bokeh, and serialisation) → drawn, and the total. Moves drawn in the browser alone never reach the server and do
not change the line.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bokeh.models import CustomJS, Div

#: the query argument and value that turn the line on
QUERY = ("debug", "latency")
#: redraws less than this apart belong to one move (Page calls each REDRAWS method of a move in turn)
SAME_MOVE_S = 0.05

#: Browser side. Installed once per page (document-level capture listeners, so that events inside Panel's shadow
#: roots count); each answer of the server (``tags`` = [server ms, move number]) writes the line, once drawn.
PROBE_JS = r"""
if (!window.__vgp_latency) {
  window.__vgp_latency = {event: null}
  for (const type of ["keydown", "pointerdown", "pointerup", "click", "input", "change"])
    document.addEventListener(type, () => { window.__vgp_latency.event = performance.now() }, true)
}
if (cb_obj !== div || div.tags.length < 2) return
const received = performance.now()
const event = window.__vgp_latency.event
const server = Number(div.tags[0])
requestAnimationFrame(() => {
  const drawn = performance.now()
  const f = (ms) => ms.toFixed(1) + " ms"
  div.text = event == null || event > received
    ? `last move: server redraw ${f(server)}; drawn ${f(drawn - received)} after it arrived`
    : `last move: event → answer received ${f(received - event)} (server redraw ${f(server)}, network, ` +
      `queue and serialisation ${f(Math.max(0, received - event - server))}) → drawn ${f(drawn - received)}; ` +
      `total ${f(drawn - event)}`
})
"""


def wanted(query: Mapping[str, str]) -> bool:
    """Whether the page's URL asks for the latency line."""
    return query.get(QUERY[0]) == QUERY[1]


class LatencyProbe:
    """The line (a plain-text Bokeh ``Div``, kept in the browser) and the server's timing of each move's redraws."""

    def __init__(self):
        self.div = Div(text="last move: —", render_as_text=True, width=300, styles={"font-family": "monospace"})
        self.div.syncable = False  # the browser writes the text; nothing goes back
        self.div.tags = []
        callback = CustomJS(args=dict(div=self.div), code=PROBE_JS)
        self.div.js_on_change("tags", callback)
        self.install = callback  # also run once the document is ready (listeners before the first move)
        self._moves = 0
        self._last_end = -1.0
        self._server_s = 0.0

    def timed(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, its duration added to this move's server time and sent with its changes."""
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            end = time.perf_counter()
            if start - self._last_end > SAME_MOVE_S:
                self._moves += 1
                self._server_s = 0.0
            self._server_s += end - start
            self._last_end = end
            self.div.tags = [round(1000 * self._server_s, 2), self._moves]
