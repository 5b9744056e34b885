"""Shared test helpers."""

import contextlib

import jax
import pytest

import vgp_core

vgp_core.enable_compilation_cache()  # as the app does: the tests share compiled programs between runs

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_compiles = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: _compiles.append(event) if event == COMPILE_EVENT else None
)


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


# ---------------------------------------------------------------------------------------------------------------
# The fast suite and the full set. `pytest` runs the fast suite (engine, pages without a browser, one browser smoke
# test: a few minutes); `pytest -m ""` runs everything, as CI does. Every test in tests/browser, tests/deploy and
# tests/load is part of the full set only (marked ``slow`` here), unless it is marked ``smoke``.
# ---------------------------------------------------------------------------------------------------------------
FULL_SET_DIRS = ("browser", "deploy", "load")


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        in_full_set = len(parts) > 2 and parts[0] == "tests" and parts[1] in FULL_SET_DIRS
        if in_full_set and not item.get_closest_marker("smoke"):
            item.add_marker(pytest.mark.slow)
