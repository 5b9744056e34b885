"""Shared test helpers."""

import pytest

import vgp_core
from vgp_core.compilations import compile_durations, count_compilations

vgp_core.enable_compilation_cache()  # as the app does: the tests share compiled programs between runs
compile_durations()  # listen from the start of the session

#: ``with count_compiles() as seen:`` — ``seen`` holds one entry per XLA compilation inside the block
count_compiles = count_compilations


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
