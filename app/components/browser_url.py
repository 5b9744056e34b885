"""The address bar of a control moved in the browser alone.

A browser-side control (one that sends the server nothing) writes its value into the address bar itself. The
server does not know that value; when it later updates the query for a control of its own, Panel's ``Location``
rewrites the whole query from the server's copy, which would put the browser-side control's old value back. So
the browser keeps its own values: ``keep_in_url(name, value)`` (defined by ``KEEP_IN_URL_JS``, to be put first in
a ``CustomJS`` code) records the value and wraps ``history.pushState``/``replaceState`` once per page, so that
every later rewrite of the address (Panel's included) carries the kept values.
"""

from __future__ import annotations

KEEP_IN_URL_JS = r"""
const keep_in_url = (name, value) => {
  if (window.__vgp_kept_query == null) {
    const kept = window.__vgp_kept_query = {}
    const with_kept = (url) => {
      const u = new URL(url, location.href)
      for (const [k, v] of Object.entries(kept)) u.searchParams.set(k, v)
      return u.pathname + u.search + u.hash
    }
    for (const method of ["pushState", "replaceState"]) {
      const original = history[method].bind(history)
      history[method] = (state, unused, url) => original(state, unused, url == null ? url : with_kept(url))
    }
  }
  window.__vgp_kept_query[name] = String(value)
  history.replaceState(history.state, "", location.href)
}
"""
