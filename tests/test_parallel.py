"""Tests for parallel.py: the background prefetch used to overlap film decoding with inference."""

from __future__ import annotations

import itertools
import os
import threading
import time

import pytest

from expressions_ensemble.parallel import Prefetch, available_cores, resolve_workers


def test_prefetch_keeps_order_and_ends() -> None:
    with Prefetch(range(100), depth=3) as items:
        assert list(items) == list(range(100))
        assert list(items) == []  # exhausted stays exhausted


def test_prefetch_runs_in_another_thread_and_stays_bounded() -> None:
    produced: list[int] = []
    threads: set[str] = set()

    def source():
        for i in itertools.count():
            threads.add(threading.current_thread().name)
            produced.append(i)
            yield i

    with Prefetch(source(), depth=2) as items:
        assert next(items) == 0
        time.sleep(0.3)  # ample time for the producer to run ahead as far as it may
        # one taken, two queued, one more made and waiting to be queued
        assert len(produced) <= 4
    assert threads == {"prefetch"}
    stopped_at = len(produced)
    time.sleep(0.2)
    assert len(produced) == stopped_at  # closing stopped an endless producer


def test_the_producer_is_idle_when_its_queue_is_full_or_it_has_ended() -> None:
    go = threading.Event()

    def source():
        yield 0
        go.wait(5)  # working on the next item
        yield from (1, 2)

    with Prefetch(source(), depth=2) as items:
        assert next(items) == 0
        assert not items.producer_idle()  # busy on item 1, nothing waiting
        go.set()
        deadline = time.monotonic() + 5
        while not items.producer_idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert items.producer_idle() and items.ready() == 2  # 1 and 2 queued: full, it waits
        assert next(items) == 1 and next(items) == 2
        deadline = time.monotonic() + 5
        while not items.producer_idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert items.producer_idle()  # ended: only the end mark is queued
        assert list(items) == []


def test_prefetch_raises_the_producers_error_where_it_happened() -> None:
    def source():
        yield 1
        yield 2
        raise RuntimeError("corrupt packet")

    with Prefetch(source(), depth=4) as items:
        assert next(items) == 1
        assert next(items) == 2
        with pytest.raises(RuntimeError, match="corrupt packet"):
            next(items)
        with pytest.raises(StopIteration):
            next(items)


def test_prefetch_consumer_error_stops_the_producer() -> None:
    alive = threading.Event()

    def source():
        alive.set()
        yield from itertools.count()

    prefetch = Prefetch(source(), depth=1)
    with pytest.raises(ValueError, match="consumer"), prefetch as items:
        for i in items:
            if i == 5:
                raise ValueError("consumer failed")
    assert alive.is_set() and not prefetch._thread.is_alive()


def test_prefetch_rejects_depth_zero() -> None:
    with pytest.raises(ValueError, match="depth"):
        Prefetch([], depth=0)


def test_prefetch_says_how_many_items_are_ready() -> None:
    release = threading.Event()

    def items():
        yield from range(3)
        release.wait(5)
        yield 3

    with Prefetch(items(), depth=8) as ahead:
        deadline = time.monotonic() + 5
        while ahead.ready() < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ahead.ready() == 3  # produced, not taken; the fourth is not there yet
        assert [next(ahead) for _ in range(3)] == [0, 1, 2] and ahead.ready() == 0
        release.set()
        assert list(ahead) == [3]


def test_auto_workers_are_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process pinned to one core (taskset, a cpuset, a test worker) starts one worker, not one per
    core of the machine: as many as torch's own thread pool sees."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert available_cores() == 1 and resolve_workers("auto") == 1
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # platforms without affinity
    assert available_cores() == 8 and resolve_workers("auto") == 8
