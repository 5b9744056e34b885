"""A closed session leaves nothing behind in the server (issue 6: 300 sessions within 100 MB).

Served in-process so the test can see the server's objects: every session's Bokeh document must be freed once the
session is destroyed. Panel 1.9.4 alone keeps each one alive (its notification area stays in ``pn.state._views``);
``app.components.memory`` drops that registration.
"""

from __future__ import annotations

import gc
import time
import weakref

import panel as pn
import pytest

from app.loadtest import open_and_close
from app.pages import PAGES
from app.site import build_site
from tests.app_server import served_in_process

#: sessions opened and closed; one suffices to show the leak, a few show it is per session
SESSIONS = 3
#: one session of every page too: a page's own objects can keep its document alive (the Deep and Glorot pages'
#: browser-side callbacks did, through Panel's callback registry; see compat.release_js_callbacks)
EVERY_PAGE = [spec.slug for spec in PAGES]
#: seconds a destroyed session's document may take to be freed (the server's loop and workers finishing with it)
FREED_WITHIN_S = 15.0


@pytest.mark.slow  # a real server and three sessions: the full set (about a minute)
@pytest.mark.timeout(600)
def test_closed_sessions_free_their_documents():
    documents: list[weakref.ref] = []
    destroyed: list[str] = []

    def app():
        doc = pn.state.curdoc
        documents.append(weakref.ref(doc))
        pn.state.on_session_destroyed(lambda ctx: destroyed.append(ctx.id))
        slug = (pn.state.session_args.get("page") or [b"bifurcation"])[0].decode()
        return build_site(slug)  # by default the lightest page: what is tested is the session, not the page

    with served_in_process(app, session_lifetime_ms=200) as url:
        result = open_and_close(url, SESSIONS)
        assert result.errors == [] and len(result.latencies) == SESSIONS
        for slug in EVERY_PAGE:  # without background training: what is tested is what the page keeps
            result = open_and_close(f"{url}?page={slug}&auto_train=false", 1)
            assert result.errors == [] and len(result.latencies) == 1, slug
        total = SESSIONS + len(EVERY_PAGE)
        deadline = time.time() + 60
        while len(destroyed) < total and time.time() < deadline:
            time.sleep(0.2)
        assert len(destroyed) == total, "the server did not destroy the closed sessions"
        # freed once the destroy callbacks of the last session have run on the server's loop and the work a
        # session had queued (on a loaded machine the scheduler's workers may still be on it) has been dropped;
        # a document kept for good stays alive through the whole wait
        deadline = time.time() + FREED_WITHIN_S
        while True:
            gc.collect()
            alive = [ref for ref in documents if ref() is not None]
            if not alive or time.time() > deadline:
                break
            time.sleep(0.5)
    assert len(documents) == total and alive == [], f"{len(alive)} of {total} closed sessions' documents alive"
