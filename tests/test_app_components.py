"""The shared UI components and the deep page's model/view wiring, without a browser."""

import itertools
import threading
import time

import numpy as np
import param
import pytest

from app.components import training
from app.components.numeric import UNDERFLOW_SENTINEL, log10_for_image
from app.components.url_state import apply_query, format_query_value, parse_value


class Model(param.Parameterized):
    depth = param.Integer(50, bounds=(1, 256))
    gain = param.Number(1.0, bounds=(0.1, 4.0))
    act = param.Selector(default="tanh", objects=["tanh", "relu"])
    width = param.Selector(default=128, objects=[64, 128])
    residual = param.Boolean(False)


def test_query_values_are_clamped_or_ignored_one_by_one():
    m = Model()
    notices = apply_query(
        m,
        ["depth", "gain", "act", "width", "residual"],
        {"depth": "999", "gain": "nan", "act": "relu", "width": "64", "residual": "maybe"},
    )
    assert m.depth == 256 and m.act == "relu" and m.width == 64  # valid values apply despite the bad ones
    assert m.gain == 1.0 and m.residual is False
    assert any("depth=999 is out of range" in n for n in notices)
    assert any("gain='nan'" in n for n in notices)
    assert any("residual='maybe'" in n for n in notices)
    assert parse_value(Model.param.depth, "12.6") == (13, "depth=12.6 is not a whole number: using 13")
    assert parse_value(Model.param.depth, "12") == (12, None)
    assert parse_value(Model.param.gain, "abc")[0] is None


def test_log10_image_marks_overflow_and_underflow():
    img, counts, (lo, hi) = log10_for_image(np.array([[0.0, np.inf], [-np.inf, np.nan]]))
    assert counts.overflow == 2 and counts.underflow == 1
    assert np.isnan(img[0, 1]) and np.isnan(img[1, 1]) and img[1, 0] == UNDERFLOW_SENTINEL
    assert lo < hi


def test_background_runs_are_cancelled_and_share_the_worker():
    got = {"a": [], "b": []}
    done = threading.Event()

    def gen(name, n):
        for i in range(n):
            time.sleep(0.01)
            yield (name, i)
        if name == "b":
            done.set()

    a = training.BackgroundRun(None, lambda item: got["a"].append(item), lambda exc: None)
    b = training.BackgroundRun(None, lambda item: got["b"].append(item), lambda exc: None)
    a.start(lambda: gen("a", 1000))
    b.start(lambda: gen("b", 5))
    assert done.wait(10), "run b starved behind run a: chunks must interleave"
    a.cancel()
    time.sleep(0.1)
    n = len(got["a"])
    time.sleep(0.2)
    assert len(got["a"]) == n < 1000  # the cancelled run stopped
    assert [i for _, i in got["b"]] == list(range(5))


def test_deep_page_every_control_changes_its_views():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    model = DeepNetworkModel(auto_train=False, depth=12, width=32)
    page = DeepNetworkPage(model, query={})
    page.panel()

    def snapshot():
        return {
            name: {k: np.asarray(v).tobytes() for k, v in src.data.items() if k != "image"}
            | {"image": np.asarray(src.data["image"][0]).tobytes() if "image" in src.data else b""}
            for name, src in (
                ("profile", page.profile.source),
                ("stats", page.stats.source),
                ("sweep", page.sweep_map.source),
            )
        }

    for name, value in [
        ("depth", 13),
        ("width", 64),
        ("activation", "relu"),
        ("init", "he_normal"),
        ("gain", 1.3),
        ("bias_std", 0.2),
        ("residual", True),
        ("batchnorm", True),
        ("seed", 3),
    ]:
        before = snapshot()
        setattr(model, name, value)
        assert snapshot()["profile"] != before["profile"], name
        if name != "gain":
            assert snapshot()["sweep"] != before["sweep"], name
    assert page.gain_marker.location == pytest.approx(1.3)
    # mean-field text disappears (honestly) with batch norm
    assert "does not apply" in page.theory_text.object


def test_deep_page_a_move_empties_the_old_runs_views_at_once_and_auto_train_off_keeps_them():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    page = DeepNetworkPage(DeepNetworkModel(depth=4, width=16, steps=20, seed=21), query={})
    page.settle(timeout_s=300)
    assert len(page.loss_source.data["step"]) == 20 and len(page.train_map.source.data["image"]) == 1
    page.model.auto_train = False  # the run shown is still this settings' run: it stays
    assert len(page.loss_source.data["step"]) == 20 and page._trace is not None
    page.model.learning_rate = 0.3  # its run is now another setting's: gone at once, nothing new starts
    for source in (page.loss_source, page.update_source, page.train_map.source):
        assert all(len(v) == 0 for v in source.data.values()), source
    assert "paused" in page.progress_text.object
    page.model.learning_rate = 0.01
    page.model.auto_train = True  # its run again, shown at once from the shared results
    assert len(page.loss_source.data["step"]) == 20
    page.model.auto_train = False  # (no new run that could stream in before the check)
    page.model.depth = 5  # a structural move: the old network's run goes too
    assert len(page.loss_source.data["step"]) == 0 and len(page.train_map.source.data["image"]) == 0


def test_deep_page_invalid_programmatic_value_gives_notice():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    page = DeepNetworkPage(DeepNetworkModel(auto_train=False, depth=5, width=16), query={"depth": "0"})
    assert page.model.depth == 1
    assert page.notice.visible and "depth=0 is out of range" in page.notices.text


@pytest.mark.parametrize("value", [1.01, 1.0099999999999998, 0.1 + 0.2, 2.0, 1e-7, 0.75, 1.9999999999999998])
def test_url_floats_read_back_to_the_same_double(value):
    """A shared link reproduces the exact state: what the URL mirror writes parses back to the very same float
    (short when that is exact: 1.01 stays "1.01"; a keyboard-stepped 1.0099999999999998 is written in full)."""

    class Model(param.Parameterized):
        x = param.Number(1.0, bounds=(0.0, 2.0))

    text = format_query_value(value)
    assert parse_value(Model.param.x, text) == (value, None)
    assert len(text) <= 8 or float(f"{value:.6g}") != value  # short wherever short is exact


def test_url_lists_and_booleans():
    assert format_query_value(["relu", "kumar"]) == "relu,kumar"
    assert format_query_value(True) == "true" and format_query_value(False) == "false"


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


def test_released_memory_frees_a_closed_sessions_cycles():
    """A closed page is a reference cycle: the release collects it (and trims glibc's heap where there is one)."""
    import gc
    import weakref

    from app.components import memory

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # like page -> model watcher -> page
    alive = weakref.ref(a)
    gc.disable()  # no automatic collection may free it first
    try:
        del a, b
        assert alive() is not None
        assert memory.release_freed_memory() >= 0.0
        assert alive() is None
    finally:
        gc.enable()
    memory.release_when_session_ends()  # outside a server: nothing to register, no error


class BokehLikeDocument:
    """Timeout callbacks as Bokeh's server document keeps them (``bokeh.util.asyncio``): removing one cancels its
    timer only on the loop's next iteration, so a callback already due still fires, and the wrapper that fires it
    first removes it, which raises if it was removed already (Bokeh logs that as a traceback)."""

    def __init__(self):
        self.pending, self.due, self.errors, self._ids = {}, [], [], itertools.count()

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
            fn()


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
