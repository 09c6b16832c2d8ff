"""Errors a user can fix end a run with one clear line; the full traceback goes to the log file only."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from expressions_ensemble import errors, settings
from expressions_ensemble.errors import (
    ParameterError,
    ShortErrorReport,
    ShortErrorsHook,
    is_user_fixable,
    one_line,
)
from expressions_ensemble.imaging import validate_preprocessing
from expressions_ensemble.models.artifact import read_artifact
from support import run_kedro


def _caught(call) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


def _missing_file() -> None:
    try:
        Path("/nonexistent/photo_manifest.parquet").read_bytes()
    except FileNotFoundError as exc:
        raise DatasetError("sim_v1.photo_manifest: Failed while loading data") from exc


def test_which_errors_a_user_can_fix() -> None:
    assert is_user_fixable(ParameterError("training.epochs: got 0; allowed: a positive integer"))
    assert is_user_fixable(_caught(lambda: validate_preprocessing("sepia", key="training.preprocessing")))
    assert is_user_fixable(_caught(lambda: read_artifact(b"PK\x03\x04 damaged", "lab.pt")))
    assert is_user_fixable(_caught(_missing_file))  # the cause inside Kedro's DatasetError
    # a ValueError raised outside this package (numpy here) or any other error is a bug: full traceback
    assert not is_user_fixable(_caught(lambda: np.zeros(2).reshape(3)))
    assert not is_user_fixable(_caught(lambda: {}["key"]))
    assert not is_user_fixable(DatasetError("failed"))


def test_one_line_joins_a_message_over_several_lines() -> None:
    assert one_line(DatasetError("Failed while loading x.\n  [Errno 2] missing\n")) == (
        "DatasetError: Failed while loading x. [Errno 2] missing"
    )
    assert one_line(KeyError()) == "KeyError"


class _Previous:
    def __init__(self) -> None:
        self.calls: list[BaseException] = []

    def __call__(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        self.calls.append(error)


@pytest.fixture
def error_log(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The errors logger writing to a file, as conf/logging.yml sets it up."""
    handler = logging.FileHandler(tmp_path / "info.log", delay=True)
    errors.logger.addHandler(handler)
    yield tmp_path / "info.log"
    errors.logger.removeHandler(handler)
    handler.close()


def _report(error: BaseException) -> tuple[str, _Previous]:
    previous, out = _Previous(), io.StringIO()
    ShortErrorReport(previous, out)(type(error), error, error.__traceback__)
    return out.getvalue(), previous


def test_a_user_error_is_shown_in_a_few_lines_and_logged_in_full(error_log: Path) -> None:
    error = _caught(lambda: validate_preprocessing("sepia", key="training.preprocessing"))
    shown, previous = _report(error)
    lines = shown.splitlines()
    assert previous.calls == []
    assert len(lines) <= 4 and str(error_log) in lines[0]
    assert "imaging.py" in lines[1]  # the frame that refused it
    assert (
        lines[-1]
        == "ValueError: training.preprocessing: unknown preprocessing 'sepia'; allowed: "
        + (lines[-1].split("allowed: ")[1])
    )
    logged = error_log.read_text()
    assert "Traceback (most recent call last)" in logged and "validate_preprocessing" in logged


def test_other_errors_keep_the_full_traceback(error_log: Path) -> None:
    error = _caught(lambda: np.zeros(2).reshape(3))
    shown, previous = _report(error)
    assert shown == "" and previous.calls == [error]
    assert "Traceback (most recent call last)" in error_log.read_text()


def test_without_a_log_file_a_user_error_keeps_its_traceback_on_screen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(errors, "log_files", lambda log: [])
    error = ParameterError("training.epochs: got 0")
    shown, previous = _report(error)
    assert shown == "" and previous.calls == [error]


def test_the_hook_installs_the_report_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert any(isinstance(h, ShortErrorsHook) for h in settings.HOOKS)
    original = _Previous()
    monkeypatch.setattr(sys, "excepthook", original)
    hook = ShortErrorsHook()
    hook.after_context_created(context=None)  # type: ignore[arg-type]
    installed = sys.excepthook
    assert isinstance(installed, ShortErrorReport) and installed.previous is original
    hook.after_context_created(context=None)  # type: ignore[arg-type]
    assert sys.excepthook is installed


@pytest.mark.slow
def test_kedro_run_with_a_bad_parameter_ends_with_one_line_naming_the_key(project_copy: Path) -> None:
    """``kedro run`` as a user types it: a short output whose last line names the key; rc 1."""
    manifest = project_copy / "data" / "02_intermediate" / "sim_v1" / "photo_manifest.parquet"
    manifest.parent.mkdir(parents=True)
    pd.DataFrame(
        {"image_id": ["a"], "path": ["happy/a.jpg"], "label": ["happy"], "outcome": ["kept"]}
    ).to_parquet(manifest)
    with pytest.raises(pytest.fail.Exception) as failed:
        run_kedro(
            project_copy, "run", "--pipelines", "face_extraction", "--params", "face_extraction.crop_size=0"
        )
    output = str(failed.value).split("failed (1):\n", 1)[1]
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith("ValueError: face_extraction.crop_size: got 0; allowed:"), lines[-5:]
    assert len(lines) < 40, "\n".join(lines)
    assert "Traceback" not in output
    assert "face_extraction.crop_size" in (project_copy / "info.log").read_text()
