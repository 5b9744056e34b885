"""Compile every program the pages use (all depth buckets, the sweep, training) once per process, off the
request path: on the training worker thread, so the first student's slider moves never wait for XLA."""
from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)
_started = threading.Event()


def warm_up_all() -> float:
    """Compile the deep-network programs for the default shapes; returns the seconds it took."""
    from vgp_core import mlp

    from .pages.deep import SWEEP_GAINS

    t0 = time.perf_counter()
    mlp.warm_up(widths=(128,), gains=SWEEP_GAINS)
    _warm_up_doya_cliff()
    return time.perf_counter() - t0


def _warm_up_doya_cliff() -> None:
    """The Bifurcation and Loss-cliff pages' programs, for the grid sizes those pages use."""
    from vgp_core import cliff, doya

    from .pages import bifurcation as bif
    from .pages import cliff as cliff_page

    doya.warm_up(map_shape=(bif.MAP_N, bif.MAP_N), hysteresis_n=bif.HYSTERESIS_N)
    cliff.warm_up(loss_grid=cliff_page.LOSS_N, surface_shape=cliff_page.SURFACE_SHAPE)


def start_background_warmup() -> None:
    if _started.is_set() or os.environ.get("VGP_WARMUP", "1") == "0":
        return
    _started.set()
    from .components.training import submit

    def run():
        seconds = warm_up_all()
        log.warning("vgp-explorer: JAX programs warmed up in %.1f s", seconds)

    submit(run)
