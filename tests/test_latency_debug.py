"""``?debug=latency`` on the server: a move's redraws are timed together and sent as the probe's tags."""

from __future__ import annotations

from app.components import latency_debug
from app.pages.cliff import LossCliffPage


class Clock:
    """A fake ``time.perf_counter``: a redraw "takes" what it advances it by."""

    now = 100.0

    def __call__(self) -> float:
        return self.now

    def work(self, seconds: float) -> None:
        self.now += seconds


def test_only_asked_for_and_a_moves_redraws_add_up(monkeypatch):
    assert LossCliffPage(query={}).latency is None
    assert latency_debug.wanted({"debug": "latency"}) and not latency_debug.wanted({"debug": "other"})
    clock = Clock()
    monkeypatch.setattr(latency_debug.time, "perf_counter", clock)
    probe = latency_debug.LatencyProbe()
    probe.timed(clock.work, 0.020)
    probe.timed(clock.work, 0.010)  # right after: the same move (20 + 10 ms)
    assert probe.div.tags == [30.0, 1]
    clock.work(2 * latency_debug.SAME_MOVE_S)  # a pause: the next redraw is another move
    probe.timed(clock.work, 0.005)
    assert probe.div.tags == [5.0, 2]


def test_the_line_is_first_in_the_controls_and_the_page_redraws_are_timed():
    from app.components.page_layout import controls_of

    page = LossCliffPage(query={"debug": "latency"})
    assert controls_of(page.panel())[0].object is page.latency.div
    page.model.b = -2.4
    server_ms, move = page.latency.div.tags
    assert move >= 1 and server_ms > 0
