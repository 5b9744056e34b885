"""A count of XLA compilations, for the promise that a control move after warm-up compiles nothing (the tests and
the benchmarks check it).

Nothing is registered on import: the listener is installed by the first call of :func:`compile_durations` or
:func:`count_compilations`, and stays for the life of the process (JAX offers no way to remove one).

References:
  JAX source, ``jax/_src/monitoring.py`` (``register_event_duration_secs_listener``) and the event
  ``/jax/core/compile/backend_compile_duration`` recorded once per backend compilation (``jax/_src/dispatch.py``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_DURATIONS: list[float] = []
_LOCK = threading.Lock()
_listening = False


def _record(event: str, duration: float, **_kwargs) -> None:
    if event == COMPILE_EVENT:
        _DURATIONS.append(duration)


def compile_durations() -> list[float]:
    """The duration of every XLA backend compilation since the first call, a list that grows as programs compile.

    Args:
      None.

    Returns:
      The live list (seconds, one entry per compilation): ``len`` of it counts compilations, ``sum`` of a slice
      gives compile time.

    References:
      JAX source, ``jax/_src/monitoring.py``, ``register_event_duration_secs_listener``.
    """
    global _listening
    with _LOCK:
        if not _listening:
            import jax

            jax.monitoring.register_event_duration_secs_listener(_record)
            _listening = True
    return _DURATIONS


@contextlib.contextmanager
def count_compilations() -> Iterator[list[float]]:
    """Counts the XLA compilations inside a ``with`` block.

    Args:
      None.

    Returns:
      A context manager yielding a list that, when the block ends, holds one duration (seconds) per compilation
      that happened inside it (in any thread).

    References:
      JAX source, ``jax/_src/monitoring.py``.
    """
    durations = compile_durations()
    start = len(durations)
    seen: list[float] = []
    try:
        yield seen
    finally:
        seen.extend(durations[start:])
