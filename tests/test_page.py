"""app/components/page.py, the page base class: one held document change per move (on the loop or off it) and
``call_later``'s replaceable timers."""

import contextlib
import itertools
import threading
import types


def test_document_hold_sends_one_combined_change_on_the_loop_and_is_safe_off_it():
    import asyncio

    from bokeh.document import Document
    from bokeh.models import Range1d

    from app.components.page import document_hold
    from tests.threads import in_fresh_thread

    doc, rng = Document(), Range1d(0, 1)
    doc.add_root(rng)
    events = []
    doc.on_change(lambda event: events.append(event))

    async def on_loop():  # as in a next-tick callback: Bokeh's hold, released here
        with document_hold(doc):
            for i in range(5):
                rng.end = i + 1
            assert events == []  # held, nothing sent yet
        assert len(events) == 1 and events[0].new == 5  # one combined change carrying the last value

    in_fresh_thread(asyncio.run, on_loop())  # its own loop: pytest-playwright may run one in this thread
    with document_hold(None):  # no server: nothing to hold
        rng.end = 9

    def worker():  # a --num-threads worker: no event loop in this thread, Panel's thread-safe hold
        with document_hold(doc):
            rng.end = 7

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and doc.callbacks.hold_value is None and rng.end == 7


class BokehLikeDocument:
    """Timeout callbacks as Bokeh's server document keeps them (``bokeh.util.asyncio``): removing one cancels its
    timer only on the loop's next iteration, so a callback already due still fires, and the wrapper that fires it
    first removes it, which raises if it was removed already (Bokeh logs that as a traceback)."""

    def __init__(self):
        self.pending, self.due, self.errors, self._ids = {}, [], [], itertools.count()
        # held, as a document is inside a redraw: ``document_hold`` leaves the sending to that hold
        self.callbacks = types.SimpleNamespace(hold_value="combine")

    def add_timeout_callback(self, fn, delay_ms):
        cid = f"p{next(self._ids)}"
        self.pending[cid] = fn
        self.due.append((cid, fn))
        return cid

    def remove_timeout_callback(self, cid):
        if self.pending.pop(cid, None) is None:
            raise ValueError("Removing a callback twice (or after it's already been run)")

    def run_due(self):
        due, self.due = self.due, []
        for cid, fn in due:  # every one was due: a removal made since has not cancelled its timer yet
            try:
                self.remove_timeout_callback(cid)
            except ValueError as exc:
                self.errors.append(exc)
                continue
            run = fn()  # a coroutine (``on_loop``), which awaits nothing: one step runs it
            with contextlib.suppress(StopIteration):
                run.send(None)


def test_call_later_replaces_a_pending_call_and_may_schedule_its_own_key_again():
    from app.pages.bifurcation import BifurcationPage

    page = BifurcationPage(query={})
    doc = page._doc = BokehLikeDocument()
    calls = []

    def more():  # as the Deep page's frames: each tick schedules the next
        calls.append("more")
        if len(calls) < 3:
            page.call_later("frames", more, 0)

    page.call_later("frames", lambda: calls.append("replaced"), 0)
    page.call_later("frames", more, 0)  # replaces the pending one
    for _ in range(3):
        doc.run_due()
    assert calls == ["more", "more", "more"]
    assert doc.errors == [] and doc.pending == {}
