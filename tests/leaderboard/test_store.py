"""The web's read cache: one computation per data version, however many requests arrive at once."""

from __future__ import annotations

import threading
import time

import pytest

from leaderboard.store import ReadStore


def test_concurrent_requests_share_one_computation(engine):
    store = ReadStore(engine)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return "ranking"

    results = []
    threads = [threading.Thread(target=lambda: results.append(store.cached(("tables", 1), slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ranking"] * 8 and len(calls) == 1
    assert store.cached(("tables", 2), lambda: "new version") == "new version"  # a new key computes again


def test_a_failed_computation_is_not_cached(engine):
    store = ReadStore(engine)

    def boom():
        raise RuntimeError("database went away")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="went away"):
            store.cached(("k",), boom)
    assert store.cached(("k",), lambda: 42) == 42
