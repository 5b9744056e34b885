"""Compile every program the pages use, once per process, off the request path and out of the students' way.

The warm-up is a list of steps (one group of programs each: a capacity bucket of the Deep page at one width, the
Bifurcation page's map, ...), run one step per scheduler task at the lowest priority (``WARMUP``): only when no
view or training chunk is waiting and no student moved a control in the last half second. A page that a student
opens moves its own steps to the front (``prioritize``), so the first page opened is the first page ready. With
JAX's persistent compilation cache filled (the Docker image fills it at build time), a step only loads programs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)
#: the last step: the Remedies page's default lab, measured into the cache every session shares
DEFAULT_LAB = "the default remedies lab"


@dataclasses.dataclass(frozen=True)
class WarmupStep:
    page: str  # the slug of the page that needs these programs
    what: str
    run: Callable[[], Iterator | None]  # a step that returns an iterator is advanced one item per task


def _widths(widths: tuple[int, ...] | None) -> tuple[int, ...]:
    from .pages.deep import WIDTHS

    if widths is None:
        env = os.environ.get("VGP_WARMUP_WIDTHS", "")
        widths = tuple(int(w) for w in env.split(",") if w.strip()) if env else tuple(WIDTHS)
    return tuple(w for w in widths if w in WIDTHS)


def warmup_steps(widths: tuple[int, ...] | None = None) -> list[WarmupStep]:
    """Every page's programs, in the order a fresh server compiles them: the default page at its default width
    first, then the other pages, then the Deep page's other widths (``VGP_WARMUP_WIDTHS``, a comma-separated list,
    narrows them; default: all), and last the Remedies lab (``VGP_WARMUP_REMEDIES=0`` leaves it to be compiled when
    the page is first used, e.g. for test servers that never open it)."""
    from vgp_core import cliff, doya, mlp, rnn

    from .pages import bifurcation as bif
    from .pages import cliff as cliff_page
    from .pages.deep import SWEEP_GAINS, DeepNetworkModel
    from .pages.recurrent import HIDDEN_SIZES, SWEEP_RADII, RecurrentModel

    default_width = DeepNetworkModel.param.width.default

    def deep(width: int, capacity: int, first: bool) -> WarmupStep:
        return WarmupStep(
            "deep",
            f"deep network, width {width}, up to {capacity} layers",
            lambda: mlp.warm_up(widths=(width,), gains=SWEEP_GAINS, capacities=(capacity,), critical_lines=first),
        )

    steps = [deep(default_width, cap, i == 0) for i, cap in enumerate(mlp.CAPACITY_BUCKETS)]
    steps.append(
        WarmupStep(
            "bifurcation",
            "bifurcation maps",
            lambda: doya.warm_up(map_shape=(bif.MAP_N, bif.MAP_N), hysteresis_n=bif.HYSTERESIS_N),
        )
    )
    steps.append(
        WarmupStep(
            "cliff",
            "loss cliff",
            lambda: cliff.warm_up(loss_grid=cliff_page.LOSS_N, surface_shape=cliff_page.SURFACE_SHAPE),
        )
    )
    steps.append(WarmupStep("edge-of-chaos", "trainability retraining", _warm_up_trainability))
    default_hidden = RecurrentModel.param.hidden_size.default
    for hidden in (default_hidden,) + tuple(h for h in HIDDEN_SIZES if h != default_hidden):
        steps.append(
            WarmupStep(
                "recurrent",
                f"recurrent network, hidden size {hidden}",
                lambda h=hidden: rnn.warm_up(hidden_sizes=(h,), n_radii=len(SWEEP_RADII)),
            )
        )
    from .pages import edge_of_chaos as eoc

    eoc_width = eoc.EdgeOfChaosModel.param.width.default
    narrowed = _widths(widths)  # VGP_WARMUP_WIDTHS narrows this page's widths too (its default always warms)
    for width in (eoc_width,) + tuple(w for w in eoc.WIDTHS if w != eoc_width and w in narrowed):
        for i, cap in enumerate(mlp.CAPACITY_BUCKETS):
            steps.append(
                WarmupStep(
                    "edge-of-chaos",
                    f"edge of chaos, width {width}, up to {cap} layers",
                    lambda w=width, c=cap, t=(width == eoc_width and i == 0): eoc.warm_up(w, c, t),
                )
            )
    for width in _widths(widths):
        if width != default_width:
            steps += [deep(width, cap, False) for cap in mlp.CAPACITY_BUCKETS]
    if os.environ.get("VGP_WARMUP_REMEDIES", "1") != "0":
        from vgp_core.experiments import remedies

        from .pages.remedies import measure_default_lab

        steps.append(WarmupStep("remedies", "remedies lab", remedies.warm_up))
        steps.append(WarmupStep("remedies", DEFAULT_LAB, measure_default_lab))
    return steps


def _warm_up_trainability() -> Iterator | None:
    """The Edge of chaos page retrains a tapped cell of the committed phase diagram: one program per depth, compiled
    one depth per item (a few seconds each on two cores)."""
    from vgp_core.experiments import trainability

    try:
        config = trainability.load_committed().config
    except (OSError, ValueError):
        return None  # no committed run: the page shows a notice and retrains nothing
    return (trainability.warm_up(config, depths=(depth,)) for depth in config.depths)


def warm_up_all(widths: tuple[int, ...] | None = None) -> float:
    """Compile every page's programs now, in this thread (the Docker build fills its persistent cache this way);
    returns the seconds it took."""
    t0 = time.perf_counter()
    for step in warmup_steps(widths):
        if step.what != DEFAULT_LAB:  # a measurement for the running server's cache, not a compilation
            for _ in step.run() or ():  # a step that yields compiles item by item
                pass
    return time.perf_counter() - t0


class Warmup:
    """The server's warm-up: its remaining steps, run one per scheduler task, reordered by ``prioritize``."""

    def __init__(self, steps: list[WarmupStep]):
        self._steps = list(steps)
        self._lock = threading.Lock()
        self._t0 = time.perf_counter()
        self._current: tuple[WarmupStep, Iterator, float] | None = None  # a step being advanced item by item
        self.done = threading.Event()

    def prioritize(self, page: str) -> None:
        """Run ``page``'s remaining steps before every other page's."""
        with self._lock:
            self._steps.sort(key=lambda s: s.page != page)  # stable: keeps each page's own order

    def pending(self, page: str) -> int:
        with self._lock:
            return sum(1 for s in self._steps if s.page == page)

    def run_next(self) -> None:
        """Run one step (or one item of a step that yields), then queue the next (a scheduler task)."""
        from .components.scheduler import SCHEDULER, WARMUP

        with self._lock:
            current = self._current
            step = None if current is not None else (self._steps.pop(0) if self._steps else None)
        if current is None and step is None:
            log.warning("vgp-explorer: JAX programs warmed up in %.1f s", time.perf_counter() - self._t0)
            self.done.set()
            return
        t0 = time.perf_counter()
        try:
            if current is not None:
                if next(current[1], StopIteration) is StopIteration:
                    self._current = None
                    self._report(current[0], time.perf_counter() - current[2])
            else:
                items = step.run()
                if items is not None:
                    self._current = (step, iter(items), t0)
                else:
                    log.info("vgp-explorer: warmed up %s in %.1f s", step.what, time.perf_counter() - t0)
        except Exception:  # a failed step must reach the log; the page compiles on first use instead
            self._current = None
            log.exception("vgp-explorer: warm-up of %s failed", (current or (step,))[0].what)
        SCHEDULER.submit(self.run_next, WARMUP)

    def _report(self, step: WarmupStep, seconds: float) -> None:
        if step.what == DEFAULT_LAB:
            log.warning("vgp-explorer: default remedies lab measured in %.1f s", seconds)
        else:
            log.info("vgp-explorer: warmed up %s in %.1f s", step.what, seconds)


_warmup: Warmup | None = None


def start_background_warmup() -> None:
    """Start this process's warm-up (once; ``VGP_WARMUP=0`` turns it off)."""
    global _warmup
    if _warmup is not None or os.environ.get("VGP_WARMUP", "1") == "0":
        return
    from .components.scheduler import SCHEDULER, WARMUP

    _warmup = Warmup(warmup_steps())
    SCHEDULER.submit(_warmup.run_next, WARMUP)


def prioritize(page: str) -> None:
    """A session opened ``page``: compile its programs next (no-op without a running warm-up)."""
    if _warmup is not None:
        _warmup.prioritize(page)
