"""The results every session of a server shares (issue "A whole class at once"): one computation per
configuration, however many sessions ask, bounded in bytes."""

from __future__ import annotations

import threading
import time

import numpy as np

from app.components import results_cache
from app.components.results_cache import SharedResults
from app.pages import deep


def test_two_sessions_with_the_same_configuration_compute_it_once(monkeypatch):
    calls = {"profile": 0, "sweep": 0}
    real_profile, real_sweep = deep.mlp.gradient_profile, deep.mlp.gain_sweep

    def profile(*a, **k):
        calls["profile"] += 1
        return real_profile(*a, **k)

    def sweep(*a, **k):
        calls["sweep"] += 1
        return real_sweep(*a, **k)

    monkeypatch.setattr(deep.mlp, "gradient_profile", profile)
    monkeypatch.setattr(deep.mlp, "gain_sweep", sweep)
    monkeypatch.setattr(results_cache, "RESULTS", SharedResults())
    monkeypatch.setattr(deep, "RESULTS", results_cache.RESULTS)
    query = {"depth": "12", "width": "32", "activation": "tanh", "auto_train": "false"}
    first = deep.DeepNetworkPage(query=query)
    second = deep.DeepNetworkPage(query=query)
    assert calls == {"profile": 1, "sweep": 1}
    np.testing.assert_array_equal(first.profile.source.data["backprop"], second.profile.source.data["backprop"])
    second.model.gain = 1.3  # a new gain: a new profile, but the same gain sweep
    assert calls == {"profile": 2, "sweep": 1}
    first.model.gain = 1.3  # the first session now asks what the second computed
    assert calls == {"profile": 2, "sweep": 1}


def test_concurrent_requests_for_one_key_compute_once():
    cache, calls = SharedResults(), []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return np.ones(10)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 8 and cache.computed == 1


def test_least_recently_used_results_go_first_within_the_byte_bound():
    cache = SharedResults(max_bytes=3 * 800)
    for key in "abc":
        cache.put(key, np.zeros(100))  # 800 bytes each
    assert cache.nbytes == 2400
    cache.get("a")  # a is now the most recent: b goes first
    cache.put("d", np.zeros(100))
    assert cache.get("b") is None and cache.get("a") is not None and cache.nbytes == 2400
    cache.put("huge", np.zeros(10_000))  # larger than the whole cache: not kept, nothing evicted for it
    assert cache.get("huge") is None and cache.nbytes == 2400
