"""Spread per-item work over processes with a progress bar; one place for pool set-up and ordering.

Also :class:`Prefetch`: an iterable run one thread ahead of its consumer.

Workers build their heavy state (e.g. a face detector) once, in ``initializer``; results come back in
input order so outputs are deterministic whatever the number of workers.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from tqdm.auto import tqdm

_EMPTY = object()
T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity where the platform has one (``taskset``, a
    container's cpuset, a test worker pinned to one core), else every core of the machine. torch sizes
    its own thread pool the same way, so process and thread counts agree with it."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | str, key: str = "workers") -> int:
    """``"auto"`` means all available cores; otherwise a positive integer (error names the key)."""
    if workers == "auto":
        return available_cores()
    try:
        value = int(workers)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a positive integer or 'auto', got {workers!r}") from None
    if value < 1:
        raise ValueError(f"{key}: expected a positive integer or 'auto', got {workers!r}")
    return value


def _start_method(wanted: str | None = None) -> str:
    # fork starts workers in milliseconds; callers must not hold native threads' state (detectors are
    # built in the initializer, after the fork). Platforms without fork use spawn. Work that runs torch
    # after the parent has run torch asks for "spawn": a forked child can hang in the OpenMP pool the
    # parent's threads left behind.
    if wanted is not None:
        if wanted not in mp.get_all_start_methods():
            raise ValueError(f"start method {wanted!r} unavailable; allowed: {mp.get_all_start_methods()}")
        return wanted
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


def map_ordered(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    total: int | None = None,
    desc: str = "",
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    chunksize: int = 8,
    start_method: str | None = None,
) -> Iterator[R]:
    """Apply ``func`` to ``items`` in ``workers`` processes (inline when 1), yielding results in order.

    ``start_method`` (``fork``/``spawn``/``forkserver``) overrides the default (fork where available);
    with spawn, ``func`` and ``initializer`` must be importable module-level functions.
    """
    bar = tqdm(total=total, desc=desc, unit="item", leave=False, disable=None)
    try:
        items = iter(items)
        first = next(items, _EMPTY)
        if first is _EMPTY:  # nothing to do: no pool, no worker state
            return
        items = itertools.chain([first], items)
        if workers <= 1:
            if initializer is not None:
                initializer(*initargs)
            for item in items:
                yield func(item)
                bar.update(1)
            return
        ctx = mp.get_context(_start_method(start_method))
        with ctx.Pool(workers, initializer=initializer, initargs=initargs) as pool:
            for result in pool.imap(func, items, chunksize=chunksize):
                yield result
                bar.update(1)
    finally:
        bar.close()


class Prefetch(Iterator[T]):
    """Items of an iterable produced in a background thread, at most ``depth`` ahead of the consumer.

    Native work that releases the GIL (video decoding in FFmpeg) then overlaps with the consumer's
    (face detection, inference), instead of the two taking turns. The bounded queue keeps memory flat.
    An exception in the producer is raised to the consumer at the item where it happened. Use it as a
    context manager: leaving the block stops the producer and waits for it, so the source (e.g. a
    ``FrameReader``) is never used by two threads and can be closed safely afterwards.
    """

    _DONE = object()

    def __init__(self, iterable: Iterable[T], depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth!r}")
        self._queue: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, args=(iterable,), daemon=True, name="prefetch")
        self._thread.start()

    def _put(self, entry: tuple[bool, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, iterable: Iterable[T]) -> None:
        try:
            for item in iterable:
                if not self._put((True, item)):
                    return
            self._put((False, self._DONE))
        except BaseException as exc:  # handed to the consumer, raised there
            self._put((False, exc))

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        ok, item = self._queue.get()
        if ok:
            return item
        self._finished = True
        if item is self._DONE:
            raise StopIteration
        raise item

    def ready(self) -> int:
        """Items produced and not taken yet (a snapshot: the producer may add more at any moment)."""
        return self._queue.qsize()

    def producer_idle(self) -> bool:
        """Whether the producer does no work until the consumer takes an item: its queue is full, or it
        has ended. Its thread's core is then free for the consumer's own work."""
        return self._queue.full() or not self._thread.is_alive()

    def close(self) -> None:
        """Stop the producer (it ends at its next item) and wait for it."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
