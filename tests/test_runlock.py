"""The run lock on a data folder: a second process waits or refuses naming the holder; a dead one's
lock is taken over; the Kedro hook takes and releases it around a run."""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from expressions_ensemble import settings
from expressions_ensemble.runlock import (
    LOCK_NAME,
    TIMEOUT_ENV,
    RunLock,
    RunLockError,
    RunLockHook,
    timeout_from_env,
)

HOLD = (
    "import sys; from pathlib import Path; from expressions_ensemble.runlock import RunLock\n"
    "lock = RunLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True)\n"
    "sys.stdin.read(); lock.release()\n"
)


@pytest.fixture
def holder(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Another process holding the run lock on ``tmp_path / 'data'`` until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "data"), "--the-other-run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_a_second_process_refuses_naming_the_run_that_holds_the_folder(tmp_path: Path, holder) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    with pytest.raises(RunLockError) as caught:
        RunLock(tmp_path / "data", timeout=0.3, poll=0.05).acquire()
    message = str(caught.value)
    assert f"pid {holder.pid}" in message and os.uname().nodename in message
    assert "--the-other-run" in message and TIMEOUT_ENV in message
    assert 0.3 <= time.monotonic() - start < 10


def test_a_second_process_waits_for_the_first_to_end(
    tmp_path: Path,
    holder,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    ends = threading.Timer(1.0, holder.stdin.close)  # the first run ends after a second
    ends.start()
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="expressions_ensemble.runlock"):
        lock = RunLock(tmp_path / "data", timeout=60, poll=0.05)
        me = lock.acquire()
    waited = time.monotonic() - start
    ends.join()
    try:
        assert waited >= 0.9
        assert me.pid == os.getpid()
        waiting = [r.getMessage() for r in caplog.records if "waiting for it to end" in r.getMessage()]
        assert len(waiting) == 1 and f"pid {holder.pid}" in waiting[0] and "--the-other-run" in waiting[0]
        assert not any("taking over" in r.getMessage() for r in caplog.records)  # it released cleanly
        assert lock.holder() == me
    finally:
        lock.release()
    assert (tmp_path / "data" / LOCK_NAME).read_text() == ""


def test_the_lock_of_a_killed_run_is_taken_over(
    tmp_path: Path,
    holder,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    lock = RunLock(tmp_path / "data", timeout=0)
    assert lock.holder() is not None and lock.holder().pid == holder.pid  # it never released
    with caplog.at_level(logging.WARNING, logger="expressions_ensemble.runlock"):
        lock.acquire()
    lock.release()
    (message,) = [r.getMessage() for r in caplog.records if "taking over" in r.getMessage()]
    assert f"pid {holder.pid}" in message and "ended without releasing it" in message


def test_one_process_cannot_take_its_own_lock_twice(tmp_path: Path) -> None:
    lock = RunLock(tmp_path)
    lock.acquire()
    try:
        with pytest.raises(RunLockError, match="holds the run lock already"):
            lock.acquire()
    finally:
        lock.release()
    lock.release()  # releasing twice is nothing


@pytest.mark.parametrize(
    ("value", "expected"), [(None, math.inf), ("", math.inf), ("0", 0.0), ("2.5", 2.5), (" 30 ", 30.0)]
)
def test_timeout_setting(value: str | None, expected: float) -> None:
    env = {} if value is None else {TIMEOUT_ENV: value}
    assert timeout_from_env(env) == expected


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_bad_timeout_setting_names_the_variable_and_what_is_allowed(value: str) -> None:
    with pytest.raises(RunLockError, match=rf"{TIMEOUT_ENV}='{value}': allowed: a number of seconds >= 0"):
        timeout_from_env({TIMEOUT_ENV: value})


def test_the_hook_holds_the_lock_during_a_run_and_refuses_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert any(isinstance(h, RunLockHook) for h in settings.HOOKS)
    monkeypatch.setenv(TIMEOUT_ENV, "0")
    first, second = RunLockHook(), RunLockHook()
    params = {"project_path": str(tmp_path), "run_id": "first"}
    first.before_pipeline_run(run_params=params)
    lock_file = tmp_path / "data" / LOCK_NAME
    assert f'"pid": {os.getpid()}' in lock_file.read_text()
    # another hook instance opens the file anew, as another process would: the lock is not shared
    with pytest.raises(RunLockError, match="is in use by another run"):
        second.before_pipeline_run(run_params={**params, "run_id": "second"})
    first.on_pipeline_error(run_params=params)
    assert lock_file.read_text() == ""
    second.before_pipeline_run(run_params={**params, "run_id": "second"})
    second.after_pipeline_run(run_params={**params, "run_id": "second"})
    assert lock_file.read_text() == ""


def test_context_set_up_is_wrapped_in_an_exclusive_lock_on_the_project(tmp_path) -> None:
    import fcntl
    import types

    from expressions_ensemble.runlock import SETUP_LOCK_NAME, SetupLockHook

    def try_lock() -> bool:
        with open(tmp_path / SETUP_LOCK_NAME, "a+") as other:  # another open file: flock is per open
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other, fcntl.LOCK_UN)
            return True

    wrapper = SetupLockHook().after_context_created(types.SimpleNamespace(project_path=tmp_path))
    next(wrapper)  # the other hooks' after_context_created run here
    assert not try_lock()
    with pytest.raises(StopIteration):
        next(wrapper)
    assert try_lock()


def test_the_project_registers_the_set_up_lock() -> None:
    from expressions_ensemble import settings
    from expressions_ensemble.runlock import SetupLockHook

    # a hook wrapper: it wraps kedro-mlflow's set-up wherever it stands in HOOKS
    assert any(isinstance(hook, SetupLockHook) for hook in settings.HOOKS)
