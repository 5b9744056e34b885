"""Shared test helpers."""
import contextlib

import jax
import pytest

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_compiles = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: _compiles.append(event) if event == COMPILE_EVENT else None)


@contextlib.contextmanager
def count_compiles():
    """Yields a list that holds one entry per XLA backend compilation that happens inside the block."""
    start = len(_compiles)
    seen = []
    try:
        yield seen
    finally:
        seen.extend(_compiles[start:])


@pytest.fixture
def compile_counter():
    return count_compiles
