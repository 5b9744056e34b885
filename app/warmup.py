"""Compile every program the pages use, once per process, off the request path and out of the students' way.

The warm-up is a list of steps (one group of programs each: a capacity bucket of the Deep page at one width, the
Bifurcation page's map, ...), run one step per scheduler task at the lowest priority (``WARMUP``): only when no
view or training chunk is waiting and no student moved a control in the last half second. A page that a student
opens moves its own steps to the front (``prioritize``), so the first page opened is the first page ready. With
JAX's persistent compilation cache filled (the Docker image fills it at build time), a step only loads programs.

Start-up: the step list is built by the first warm-up task (it imports every page), not while the server starts;
the first step computes the default page's first view into the cache every session shares (``RESULTS``), so the
first student finds it there and the program of a move is loaded; its slower views follow. A step marked
``first_views`` holds programs its page cannot draw without: until they are ready a session shows that page as
"preparing…" (``app.components.preparing``), and a session waiting for them runs them on the training lane, ahead
of the rest of the warm-up (``when_ready``).
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
#: the Deep page's default training run, trained into the cache every session shares once its programs are compiled
DEFAULT_DEEP_RUN = "the default deep-network training run"
GLOROT_TABLES = "the Glorot & Bengio page's browser tables of every committed run"
#: updates per training chunk of the Recurrent page (``RecurrentPage.train``; a static shape of its program)
RNN_TRAIN_CHUNK = 25


@dataclasses.dataclass(frozen=True)
class WarmupStep:
    page: str  # the slug of the page that needs these programs
    what: str
    run: Callable[[], Iterator | None]  # a step that returns an iterator is advanced one item per task
    #: the page draws nothing without these programs: a session opening it waits ("preparing…") for this step
    first_views: bool = False


def _widths(widths: tuple[int, ...] | None) -> tuple[int, ...]:
    from .pages.deep import WIDTHS

    if widths is None:
        env = os.environ.get("VGP_WARMUP_WIDTHS", "")
        widths = tuple(int(w) for w in env.split(",") if w.strip()) if env else tuple(WIDTHS)
    return tuple(w for w in widths if w in WIDTHS)


def warmup_steps(widths: tuple[int, ...] | None = None) -> list[WarmupStep]:
    """Every page's programs, in the order a fresh server compiles them: the default page's first view and slower
    views, its default width, the other pages, the Deep page's other optimizers at its default width, its other
    widths (``VGP_WARMUP_WIDTHS``, a comma-separated list, narrows them; default: all) and the Remedies lab
    (``VGP_WARMUP_REMEDIES=0`` leaves it to be compiled when the page is first used, e.g. for test servers that
    never open it). ``VGP_WARMUP_PAGES`` (comma-separated slugs) keeps only those pages' steps (test servers that
    open one page)."""
    from vgp_core import cliff, doya, mlp, rnn

    from .pages import bifurcation as bif
    from .pages import cliff as cliff_page
    from .pages.deep import SWEEP_GAINS, DeepNetworkModel
    from .pages.recurrent import HIDDEN_SIZES, SWEEP_RADII, RecurrentModel

    default_width = DeepNetworkModel.param.width.default
    default_optimizer = DeepNetworkModel.param.optimizer.default
    others = tuple(o for o in DeepNetworkModel.param.optimizer.objects if o != default_optimizer)

    def deep(width: int, capacity: int, first: bool) -> WarmupStep:
        return WarmupStep(
            "deep",
            f"deep network, width {width}, up to {capacity} layers",
            lambda: mlp.warm_up(
                widths=(width,),
                gains=SWEEP_GAINS,
                capacities=(capacity,),
                optimizers=(default_optimizer,),
                critical_lines=first,
            ),
        )

    def deep_optimizers(width: int) -> list[WarmupStep]:
        return [
            WarmupStep(
                "deep",
                f"deep network training, width {width}, up to {cap} layers, {opt}",
                lambda w=width, c=cap, o=opt: _warm_up_deep_training(w, c, o),
            )
            for opt in others
            for cap in mlp.CAPACITY_BUCKETS
        ]

    steps = [
        WarmupStep("deep", "the default deep-network page's profile", _default_deep_profile, first_views=True),
        WarmupStep("deep", "the default deep-network page's slower views", _default_deep_slower_views),
    ]
    steps += [deep(default_width, cap, i == 0) for i, cap in enumerate(mlp.CAPACITY_BUCKETS)]
    steps.append(WarmupStep("deep", DEFAULT_DEEP_RUN, _default_deep_run))
    steps.append(
        WarmupStep(
            "bifurcation",
            "bifurcation maps",
            lambda: doya.warm_up(map_shape=(bif.MAP_N, bif.MAP_N), hysteresis_n=bif.HYSTERESIS_N),
            first_views=True,
        )
    )
    steps.append(
        WarmupStep(
            "cliff",
            "loss cliff",
            lambda: cliff.warm_up(loss_grid=cliff_page.LOSS_N, surface_shape=cliff_page.SURFACE_SHAPE),
            first_views=True,
        )
    )
    steps.append(WarmupStep("glorot", GLOROT_TABLES, _glorot_tables))
    steps.append(WarmupStep("edge-of-chaos", "trainability retraining", _warm_up_trainability))
    default_hidden = RecurrentModel.param.hidden_size.default
    for hidden in (default_hidden,) + tuple(h for h in HIDDEN_SIZES if h != default_hidden):
        steps.append(
            WarmupStep(
                "recurrent",
                f"recurrent network, hidden size {hidden}",
                lambda h=hidden: rnn.warm_up(hidden_sizes=(h,), n_radii=len(SWEEP_RADII)),
                first_views=hidden == default_hidden,
            )
        )
    steps.append(WarmupStep("recurrent", "recurrent network training, default settings", _warm_up_rnn_training))
    from .pages import edge_of_chaos as eoc

    eoc_width = eoc.EdgeOfChaosModel.param.width.default
    narrowed = _widths(widths)  # VGP_WARMUP_WIDTHS narrows this page's widths too (its default always warms)
    for width in (eoc_width,) + tuple(w for w in eoc.WIDTHS if w != eoc_width and w in narrowed):
        for i, cap in enumerate(mlp.CAPACITY_BUCKETS):
            first = width == eoc_width and i == 0
            steps.append(
                WarmupStep(
                    "edge-of-chaos",
                    f"edge of chaos, width {width}, up to {cap} layers",
                    lambda w=width, c=cap, t=first: eoc.warm_up(w, c, t),
                    first_views=first,
                )
            )
    steps += deep_optimizers(default_width)
    for width in narrowed:
        if width != default_width:
            steps += [deep(width, cap, False) for cap in mlp.CAPACITY_BUCKETS]
    if os.environ.get("VGP_WARMUP_REMEDIES", "1") != "0":
        from vgp_core.experiments import remedies

        from .pages.remedies import measure_default_lab

        steps.append(WarmupStep("remedies", "remedies lab", remedies.warm_up))
        steps.append(WarmupStep("remedies", DEFAULT_LAB, measure_default_lab))
    # The other optimizers at the other widths are not warmed: one process holding every one of those programs
    # as well ran out of memory for compiled code while the Docker image was built (LLVM "Unable to allocate section
    # memory"); they compile on first use (~1-2 s, once per server).
    pages = {p.strip() for p in os.environ.get("VGP_WARMUP_PAGES", "").split(",") if p.strip()}
    return [s for s in steps if s.page in pages] if pages else steps


def _default_deep_profile() -> None:
    """The default page's profile (the view it draws at once, and the program every move of its sliders runs)
    computed into the cache every session shares: the first student draws it without computing anything
    (``app.pages.deep``'s own cached computation, so the key is the page's). Measured on two cores with a filled
    compilation cache: about 1.2 s of CPU (tracing and loading the program)."""
    from .pages import deep

    deep._profile(deep.DeepNetworkModel().config(), with_jacobian=False)


def _default_deep_slower_views() -> None:
    """The default page's slower views (the gain sweep, and the profile with the Jacobian SVDs and layer
    diagnostics, about 4 s of CPU at its depth 50) into the shared cache: a session asks for them on the views
    lane once it is shown, and finds them there (or waits for this computation rather than repeat it)."""
    from .pages import deep

    config = deep.DeepNetworkModel().config()
    deep._gain_sweep(config)
    deep._profile(config, with_jacobian=True)


def _default_deep_run() -> Iterator[None]:
    """The default page's training run (``app.pages.deep.train_default_run``), one chunk per warm-up task."""
    from .pages import deep

    return deep.train_default_run()


def _glorot_tables() -> Iterator[None]:
    """The Glorot & Bengio page's browser tables (what its browser-side controls pick among), their encoding for
    the browser and their figure summaries, for every committed run, activation and initialization: a page built
    here moves through them, one combination per warm-up task. They are made once per process (shared by every
    session); the first move to a combination took 80–250 ms of server time to make them."""
    from .pages.glorot.page import GlorotPage

    try:
        page = GlorotPage(query={})
    except RuntimeError:
        return iter(())  # no committed run: the page shows a notice
    page.panel()
    model = page.model

    def objects(name: str) -> list:
        values = model.param[name].objects
        return list(values.values()) if isinstance(values, dict) else list(values)

    def combinations():
        for run in objects("run"):
            for activation in objects("activation"):
                for init in objects("init"):
                    model.param.update(run=run, activation=activation, init=init)
                    yield

    return combinations()


def _warm_up_deep_training(width: int, capacity: int, optimizer: str) -> None:
    """The Deep page's training chunk for one optimizer (clipping and the learning rate are traced: one program
    serves them all), as the page runs it (``mlp.train_iter`` with ``chunk=mlp.JACOBIAN_EVERY``)."""
    from vgp_core import mlp

    config = mlp.MLPConfig(depth=capacity, width=width)
    for _ in mlp.train_iter(config, mlp.JACOBIAN_EVERY, optimizer=optimizer, chunk=mlp.JACOBIAN_EVERY):
        pass


def _warm_up_rnn_training() -> None:
    """The Recurrent page's Train button at its default settings: the training chunk and the held-out evaluation
    of the default cell and length bucket (clipping and the learning rate are traced: one program serves them)."""
    from vgp_core import rnn

    from .pages.recurrent import RecurrentModel

    model = RecurrentModel()
    length, chunk = int(model.train_length), RNN_TRAIN_CHUNK
    for _ in rnn.train_memory_task_iter(model.config(), model.task, length, chunk, chunk=chunk):
        pass


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
    import jax

    t0 = time.perf_counter()
    for step in warmup_steps(widths):
        if step.what not in (DEFAULT_LAB, DEFAULT_DEEP_RUN, GLOROT_TABLES):  # results for the server, not programs
            for _ in step.run() or ():  # a step that yields compiles item by item
                pass
            # the programs are in the persistent cache now: drop them from memory, so that this process never
            # holds every program at once (compiled code is mapped memory, of which a build may run short)
            jax.clear_caches()
    return time.perf_counter() - t0


class Warmup:
    """The server's warm-up: its remaining steps, run one per scheduler task, reordered by ``prioritize``.

    Args:
      steps: the steps, or a function that lists them (called by the first task that needs them: listing them
        imports every page, which the server's start need not wait for).
      on_done: called once the last step is done.
    """

    def __init__(
        self,
        steps: list[WarmupStep] | Callable[[], list[WarmupStep]],
        on_done: Callable[[], None] | None = None,
    ):
        self._on_done = on_done
        self._make_steps = steps if callable(steps) else (lambda: list(steps))
        self._steps: list[WarmupStep] | None = None
        self._first: list[str] = []  # pages prioritized before the steps were listed, most recent first
        self._running: WarmupStep | None = None  # the step being run now (a first-views step is not ready yet)
        self._waiting: dict[str, list[Callable[[], None]]] = {}  # page -> callbacks for when its first views are
        self._lock = threading.RLock()
        self._t0 = time.perf_counter()
        self._current: tuple[WarmupStep, Iterator, float] | None = None  # a step being advanced item by item
        self.done = threading.Event()

    def _list(self) -> bool:
        """List the steps if they are not yet (outside the lock: it imports every page, and a joining session's
        ``ready`` must not wait for that); returns whether this call listed them."""
        if self._steps is not None:
            return False
        steps = list(self._make_steps())
        with self._lock:
            if self._steps is not None:
                return False
            for page in reversed(self._first):  # oldest first: the most recent page ends up first
                steps.sort(key=lambda s, p=page: s.page != p)
            self._steps = steps
        return True

    def _listed(self) -> list[WarmupStep]:
        """The remaining steps (listed now if they are not yet)."""
        self._list()
        return self._steps

    def prioritize(self, page: str) -> None:
        """Run ``page``'s remaining steps before every other page's."""
        with self._lock:
            if self._steps is None:
                self._first.insert(0, page)
            else:
                self._steps.sort(key=lambda s: s.page != page)  # stable: keeps each page's own order

    def pending(self, page: str) -> int:
        steps = self._listed()
        with self._lock:
            return sum(1 for s in steps if s.page == page)

    def ready(self, page: str) -> bool:
        """Whether ``page``'s first views can be drawn without compiling: the steps are listed and none of its
        ``first_views`` steps is waiting or running. Never waits for the listing (a joining session must not)."""
        with self._lock:
            if self._steps is None:
                return False
            blocking = [*self._steps, *([self._running] if self._running is not None else [])]
            return not any(s.page == page and s.first_views for s in blocking)

    def when_ready(self, page: str, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from a scheduler worker, or at once) when ``page`` is ``ready``; until then that
        page's first-views steps run on the training lane, ahead of the rest of the warm-up and of other moves'
        quiet periods, so a student waiting on them never waits for the whole class to rest."""
        from .components.scheduler import SCHEDULER, TRAINING

        with self._lock:
            if not self.ready(page):
                self._waiting.setdefault(page, []).append(callback)
                callback = None
        if callback is not None:
            callback()
        else:
            self.prioritize(page)
            SCHEDULER.submit(lambda: self._run_first_views(page), TRAINING)

    def _run_first_views(self, page: str) -> None:
        """Run ``page``'s next first-views step (a training-lane task), then queue the next one."""
        from .components.scheduler import SCHEDULER, TRAINING

        listing = self._list()
        with self._lock:
            step = next((s for s in self._steps if s.page == page and s.first_views), None)
            if step is not None:
                self._steps.remove(step)
                self._running = step
        if listing:  # pages without a first-views step were not ready before the steps were listed
            self._notify()
        if step is None:
            return
        self._run_step(step)
        SCHEDULER.submit(lambda: self._run_first_views(page), TRAINING)

    def _run_step(self, step: WarmupStep) -> Iterator | None:
        """Run ``step`` (marked running), log it, and tell the sessions waiting for its page when that page is
        ready; returns the iterator of a step that yields (advanced by ``run_next``)."""
        t0 = time.perf_counter()
        items = None
        try:
            items = step.run()
            if items is None:
                log.info("vgp-explorer: warmed up %s in %.1f s", step.what, time.perf_counter() - t0)
        except Exception:  # a failed step must reach the log; the page compiles on first use instead
            log.exception("vgp-explorer: warm-up of %s failed", step.what)
        finally:
            with self._lock:
                self._running = None
            self._notify(step.page)
        return items

    def _notify(self, *pages: str) -> None:
        """Call back the sessions waiting for those of ``pages`` (default: every page waited for) that are ready."""
        with self._lock:
            callbacks = [
                cb for page in (pages or list(self._waiting)) if self.ready(page) for cb in self._waiting.pop(page, [])
            ]
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one session's failure (e.g. it closed) must not stop the warm-up
                log.exception("vgp-explorer: a session waiting for its page failed")

    def run_next(self) -> None:
        """Run one step (or one item of a step that yields), then queue the next (a scheduler task)."""
        from .components.scheduler import SCHEDULER, WARMUP

        listing = self._list()
        with self._lock:
            steps = self._steps
            current = self._current
            step = None if current is not None else (steps.pop(0) if steps else None)
            self._running = step
        if listing:  # pages without a first-views step were not ready before the steps were listed
            self._notify()
        if current is None and step is None:
            log.warning("vgp-explorer: JAX programs warmed up in %.1f s", time.perf_counter() - self._t0)
            if self._on_done is not None:
                self._on_done()
            self.done.set()
            return
        if current is not None:
            try:
                if next(current[1], StopIteration) is StopIteration:
                    self._current = None
                    self._report(current[0], time.perf_counter() - current[2])
            except Exception:
                self._current = None
                log.exception("vgp-explorer: warm-up of %s failed", current[0].what)
        else:
            t0 = time.perf_counter()
            items = self._run_step(step)
            if items is not None:
                self._current = (step, iter(items), t0)
        SCHEDULER.submit(self.run_next, WARMUP)

    def _report(self, step: WarmupStep, seconds: float) -> None:
        if step.what == DEFAULT_LAB:
            log.warning("vgp-explorer: default remedies lab measured in %.1f s", seconds)
        else:
            log.info("vgp-explorer: warmed up %s in %.1f s", step.what, seconds)


_warmup: Warmup | None = None


def start_background_warmup() -> None:
    """Start this process's warm-up (once; ``VGP_WARMUP=0`` turns it off). Its steps are listed by its first task,
    so the server answers as soon as it has started."""
    global _warmup
    if _warmup is not None or os.environ.get("VGP_WARMUP", "1") == "0":
        return
    from .components.memory import freeze_long_lived_objects
    from .components.scheduler import SCHEDULER, WARMUP

    # the server's long-lived objects are made by now: later full collections (which free closed sessions) skip them
    _warmup = Warmup(warmup_steps, on_done=freeze_long_lived_objects)
    SCHEDULER.submit(_warmup.run_next, WARMUP)


def prioritize(page: str) -> None:
    """A session opened ``page``: compile its programs next (no-op without a running warm-up)."""
    if _warmup is not None:
        _warmup.prioritize(page)


def page_ready(page: str) -> bool:
    """Whether ``page`` can draw its first views without compiling (always, without a running warm-up)."""
    return _warmup is None or _warmup.ready(page)


def when_page_ready(page: str, callback: Callable[[], None]) -> None:
    """``callback()`` once ``page`` is ready (at once without a running warm-up); see ``Warmup.when_ready``."""
    if _warmup is None:
        callback()
    else:
        _warmup.when_ready(page, callback)
