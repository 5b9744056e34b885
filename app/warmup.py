"""Compile every program the pages use (all depth buckets, the sweep, training) once per process, off the
request path: on the training worker thread, so the first student's slider moves never wait for XLA."""
from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)
_started = threading.Event()


def warm_up_all(widths: tuple[int, ...] | None = None) -> float:
    """Compile every page's programs; returns the seconds it took.

    The deep-network page compiles once per width: the default width first, then the other pages, then the other
    widths of the width slider (``VGP_WARMUP_WIDTHS``, a comma-separated list, narrows them; default: all), and
    last the Remedies lab (its many programs take the longest; ``VGP_WARMUP_REMEDIES=0`` leaves them to be
    compiled when the page is first used, e.g. for test servers that never open it).
    """
    from vgp_core import mlp

    from .pages.deep import DeepNetworkModel, SWEEP_GAINS, WIDTHS

    t0 = time.perf_counter()
    default = DeepNetworkModel.param.width.default
    mlp.warm_up(widths=(default,), gains=SWEEP_GAINS)
    _warm_up_doya_cliff()
    _warm_up_recurrent()
    if widths is None:
        env = os.environ.get("VGP_WARMUP_WIDTHS", "")
        widths = tuple(int(w) for w in env.split(",") if w.strip()) if env else tuple(WIDTHS)
    others = tuple(w for w in widths if w != default and w in WIDTHS)
    if others:
        mlp.warm_up(widths=others, gains=SWEEP_GAINS)
    if os.environ.get("VGP_WARMUP_REMEDIES", "1") != "0":
        from vgp_core.experiments import remedies

        remedies.warm_up()
    return time.perf_counter() - t0


def _warm_up_doya_cliff() -> None:
    """The Bifurcation and Loss-cliff pages' programs, for the grid sizes those pages use."""
    from vgp_core import cliff, doya

    from .pages import bifurcation as bif
    from .pages import cliff as cliff_page

    doya.warm_up(map_shape=(bif.MAP_N, bif.MAP_N), hysteresis_n=bif.HYSTERESIS_N)
    cliff.warm_up(loss_grid=cliff_page.LOSS_N, surface_shape=cliff_page.SURFACE_SHAPE)


def _warm_up_recurrent() -> None:
    """The Recurrent page's analysis programs (every T bucket, the 64-radius sweep) for its hidden sizes."""
    from vgp_core import rnn

    from .pages.recurrent import HIDDEN_SIZES, RecurrentModel, SWEEP_RADII

    default = RecurrentModel.param.hidden_size.default
    rnn.warm_up(hidden_sizes=(default,) + tuple(h for h in HIDDEN_SIZES if h != default), n_radii=len(SWEEP_RADII))


def start_background_warmup() -> None:
    if _started.is_set() or os.environ.get("VGP_WARMUP", "1") == "0":
        return
    _started.set()
    from .components.training import submit

    def run():
        seconds = warm_up_all()
        log.warning("vgp-explorer: JAX programs warmed up in %.1f s", seconds)
        if os.environ.get("VGP_WARMUP_REMEDIES", "1") != "0":
            # the Remedies page's default lab, measured once into the cache every session shares, so the first
            # student to open the page sees it at once (about 20 s of one core after the warm-up)
            from .pages.remedies import prefill_default_cache

            try:
                log.warning("vgp-explorer: default remedies lab measured in %.1f s", prefill_default_cache())
            except Exception:  # noqa: BLE001  (a failure here must reach the log, not vanish in the worker)
                log.exception("vgp-explorer: measuring the default remedies lab failed")

    submit(run)
