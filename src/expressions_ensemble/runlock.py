"""One run at a time on a project's data folder: two runs at once would duplicate all work and race on
the same outputs.

:class:`RunLock` is an exclusive ``fcntl.flock`` on ``<data folder>/.run.lock`` (stdlib; POSIX, as the
atomic renames of :mod:`~expressions_ensemble.files`). The file holds the holder's pid, host, start time
and command as one JSON line, so a run that finds the folder busy says which run holds it. The kernel
drops the lock of a process that dies, however it dies: a lock left by a killed run is taken over at
once (with a log line naming the dead run), never by guessing from pids.

A second run waits for the first (a log line names the holder, repeated every minute) or, after
``EXE_RUN_LOCK_TIMEOUT`` seconds, refuses with :class:`RunLockError`. Unset, it waits as long as it
takes; ``0`` refuses at once. :class:`RunLockHook` takes the lock before a pipeline runs and releases it
when the run ends or fails.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shlex
import socket
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from expressions_ensemble.errors import UserError

logger = logging.getLogger(__name__)

#: Seconds a run waits for the data folder before refusing; unset = no limit, 0 = refuse at once.
TIMEOUT_ENV = "EXE_RUN_LOCK_TIMEOUT"
LOCK_NAME = ".run.lock"


class RunLockError(UserError):
    """The data folder is held by another run (the message names it) or the lock setting is invalid."""


@dataclass(frozen=True)
class Holder:
    """Who holds a run lock: enough to find the run (``ps``, the host) and see what it does."""

    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def this_process(cls) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=datetime.now().astimezone().isoformat(timespec="seconds"),
            command=shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python",
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder a lock file names, or ``None`` (empty: released; unreadable: being written)."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["started"]), str(data["command"]))
        except (ValueError, TypeError, KeyError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}: {self.command}"


def timeout_from_env(environ: dict[str, str] | None = None) -> float:
    """Seconds to wait from ``EXE_RUN_LOCK_TIMEOUT`` (``inf`` when unset); a bad value fails by name."""
    value = (os.environ if environ is None else environ).get(TIMEOUT_ENV, "").strip()
    if not value:
        return math.inf
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also NaN
        raise RunLockError(
            f"{TIMEOUT_ENV}={value!r}: allowed: a number of seconds >= 0 (0 = refuse at once) or unset "
            f"(wait as long as the other run takes)"
        )
    return seconds


class RunLock:
    """An exclusive lock on a data folder, held by one process between :meth:`acquire` and
    :meth:`release`."""

    def __init__(self, folder: Path, timeout: float = math.inf, poll: float = 0.5, remind: float = 60.0):
        self.folder = Path(folder)
        self.timeout = timeout
        self.poll = poll
        self.remind = remind
        self.fd: int | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def holder(self) -> Holder | None:
        """The run named in the lock file (it may have ended; only :meth:`acquire` knows for sure)."""
        try:
            return Holder.parse(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _try_lock(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> Holder:
        """Take the lock, waiting for the run that holds it up to ``timeout`` seconds; returns this
        process's entry. Raises :class:`RunLockError` naming the holder when the time is up."""
        if self.fd is not None:
            raise RunLockError(f"{self.path}: this process holds the run lock already")
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # never truncated: it names the holder
        try:
            start = last_said = time.monotonic()
            said = False
            while not self._try_lock(fd):
                holder = self.holder()
                who = holder.describe() if holder else "a run that is starting"
                waited = time.monotonic() - start
                if waited >= self.timeout:
                    raise RunLockError(
                        f"{self.folder} is in use by another run ({who}); gave up after {waited:.0f} s "
                        f"({TIMEOUT_ENV}={self.timeout:g}). Wait for it to end, or unset {TIMEOUT_ENV} "
                        f"to wait as long as it takes"
                    )
                if not said or time.monotonic() - last_said >= self.remind:
                    limit = "" if math.isinf(self.timeout) else f" (at most {self.timeout:g} s)"
                    logger.info("%s is in use by run %s; waiting for it to end%s", self.folder, who, limit)
                    said, last_said = True, time.monotonic()
                time.sleep(min(self.poll, max(0.0, self.timeout - waited)))
            left = Holder.parse(os.pread(fd, 65536, 0).decode("utf-8", "replace"))
            if left is not None:  # released cleanly it would be empty: its process ended holding it
                logger.warning(
                    "%s: taking over the run lock left by %s (its process ended without releasing it: "
                    "killed or crashed)", self.folder, left.describe(),
                )  # fmt: skip
            me = Holder.this_process()
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(asdict(me)) + "\n").encode(), 0)
        except BaseException:
            os.close(fd)  # closing drops a lock taken above
            raise
        self.fd = fd
        return me

    def release(self) -> None:
        """Empty the lock file (a clean end) and drop the lock; nothing when not held."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class RunLockHook:
    """Holds the run lock on ``<project>/data`` from the start of a pipeline run to its end or failure."""

    def __init__(self) -> None:
        self.locks: dict[str, RunLock] = {}  # run id -> lock held for that run

    @hook_impl(trylast=True)  # after other hooks' set-up: one failing there leaves no lock behind
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        lock = RunLock(Path(run_params["project_path"]) / "data", timeout=timeout_from_env())
        for run_id, held in list(self.locks.items()):
            if held.path == lock.path:  # a run of this process that was never ended: it would block us
                logger.warning("releasing the run lock of run %s of this process, which never ended", run_id)
                self.locks.pop(run_id).release()
        lock.acquire()
        logger.info("run lock taken: %s", lock.path)
        self.locks[str(run_params.get("run_id"))] = lock

    @hook_impl(tryfirst=True)  # before other hooks' clean-up: one failing there leaves no lock behind
    def after_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._release(run_params)

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, run_params: dict[str, Any]) -> None:
        self._release(run_params)

    def _release(self, run_params: dict[str, Any]) -> None:
        lock = self.locks.pop(str(run_params.get("run_id")), None)
        if lock is not None:
            lock.release()


#: Lock file at the project root held while a session's context is set up (see SetupLockHook).
SETUP_LOCK_NAME = ".setup.lock"


class SetupLockHook:
    """Sessions of one project set up their context one at a time.

    kedro-mlflow creates and migrates the project's MLflow store (``sqlite:///mlflow.db``) when a
    context is created; two sessions doing it at once on a fresh project race in MLflow's migrations
    (``duplicate column name: creation_time``), and one of them fails. This hook wraps every other
    hook's ``after_context_created`` in an exclusive ``flock`` on ``<project>/.setup.lock`` (held for
    the set-up only, about a second; the run lock on the data folder is :class:`RunLockHook`'s).
    """

    @hook_impl(hookwrapper=True)
    def after_context_created(self, context: Any) -> Any:
        path = Path(context.project_path) / SETUP_LOCK_NAME
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
