"""A page opened before its programs are compiled: the session shows "preparing…" at once, the warm-up runs that
page's first-views programs ahead of the rest, and the page replaces the placeholder when they are ready."""

from __future__ import annotations

import threading

import panel as pn

from app.components.preparing import Preparing, preparing_text, requested_page
from app.warmup import Warmup, WarmupStep, warmup_steps

WAIT_S = 30.0  # the scheduler's worker runs these trivial steps in milliseconds; a loaded CI machine needs headroom


def _steps(ran: list[str]) -> list[WarmupStep]:
    def step(page: str, what: str, first: bool) -> WarmupStep:
        return WarmupStep(page, what, lambda: ran.append(what), first_views=first)

    return [
        step("deep", "deep first views", True),
        step("deep", "deep other programs", False),
        step("bifurcation", "bifurcation maps", True),
        step("recurrent", "recurrent first views", True),
        step("recurrent", "recurrent training", False),
    ]


def test_a_page_is_ready_when_its_first_views_steps_have_run():
    ran: list[str] = []
    warmup = Warmup(lambda: _steps(ran))
    assert not warmup.ready("glorot")  # the steps are not listed yet (a session never waits for the listing)
    warmup.run_next()  # lists the steps, then runs the deep page's first views
    assert warmup.ready("glorot")  # no programs to compile: never "preparing"
    assert ran == ["deep first views"]
    assert warmup.ready("deep") and not warmup.ready("recurrent")


def test_a_waiting_page_runs_its_first_views_ahead_of_the_warm_up_and_then_is_shown():
    ran: list[str] = []
    warmup = Warmup(lambda: _steps(ran))
    shown = threading.Event()
    built = pn.pane.Markdown("the recurrent page")
    preparing = Preparing("Recurrent network", lambda: built, lambda fn: fn())  # the "loop": at once
    assert preparing.preparing
    assert preparing.text == preparing_text("Recurrent network")
    warmup.when_ready("recurrent", lambda: (preparing.ready(), shown.set()))
    assert shown.wait(WAIT_S), "the waiting page was never shown"
    # only the waiting page's first-views step ran (on the training lane): the rest waits for the quiet warm-up
    assert ran == ["recurrent first views"]
    assert not preparing.preparing and preparing.view.objects == [built]
    assert warmup.ready("recurrent") and not warmup.ready("deep")


def test_a_page_without_programs_is_called_back_once_the_steps_are_listed():
    warmup = Warmup(lambda: _steps([]))
    called = threading.Event()
    warmup.when_ready("glorot", called.set)  # not listed yet: its first-views runner lists them
    assert called.wait(WAIT_S)
    again = []
    warmup.when_ready("glorot", lambda: again.append(True))
    assert again == [True]  # ready now: at once


def test_a_failing_step_still_releases_the_waiting_session():
    def fail():
        raise RuntimeError("no compiler today")

    warmup = Warmup([WarmupStep("cliff", "loss cliff", fail, first_views=True)])
    released = threading.Event()
    warmup.when_ready("cliff", released.set)
    assert released.wait(WAIT_S)  # the page then compiles on first use, as without a warm-up


def test_the_requested_page_follows_the_site_rules():
    assert requested_page({}) == "deep"
    assert requested_page({"page": "cliff"}) == "cliff"
    assert requested_page({"page": "<script>"}) == "deep"  # unknown: the site shows its first page


def test_every_page_with_programs_has_first_views_steps_and_the_default_page_comes_first():
    steps = warmup_steps(widths=(128,))
    assert steps[0].page == "deep" and steps[0].first_views
    first_views_pages = {s.page for s in steps if s.first_views}
    assert first_views_pages == {"deep", "bifurcation", "cliff", "recurrent", "edge-of-chaos"}


def test_the_late_pages_document_ready_callbacks_run_once_it_is_shown():
    """A page built after the browser's document became ready: its own "document_ready" callbacks (accessible
    names, title wrapping, ?debug=latency) are run by a property change sent after the page."""
    from bokeh.document import Document
    from bokeh.models import CustomJS
    from panel.io.state import set_curdoc

    doc = Document()
    callback = CustomJS(code="window.vgpLate = true;")

    def build():
        doc.js_on_event("document_ready", callback)  # as accessibility.install does while the site is built
        return pn.pane.Markdown("the page")

    with set_curdoc(doc):
        preparing = Preparing("Deep network", build, lambda fn: fn())
        preparing.ready()
    page, runner = preparing.view.objects
    assert page.object == "the page"
    assert runner.object.js_property_callbacks == {"change:text": [callback]}
    assert not runner.visible


def test_the_warm_up_can_be_narrowed_to_some_pages(monkeypatch):
    monkeypatch.setenv("VGP_WARMUP_PAGES", "cliff, bifurcation")
    assert {s.page for s in warmup_steps(widths=(128,))} == {"cliff", "bifurcation"}


def test_on_done_is_called_once_after_the_last_step():
    ran: list[str] = []
    done: list[str] = []
    warmup = Warmup(lambda: _steps(ran), on_done=lambda: done.append(list(ran)))
    warmup.run_next()  # the first step; each queues the next on the scheduler
    assert warmup.done.wait(WAIT_S)
    assert done == [ran] and len(ran) == 5  # once, after every step
