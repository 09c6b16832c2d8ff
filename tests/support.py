"""Helpers shared by tests (importable as ``support``): repository paths, real data, the kedro CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$EXE_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("EXE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def run_kedro(
    project: Path, *args: str, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``kedro`` CLI of this environment inside ``project``; fail the test with its output."""
    kedro = Path(sys.executable).with_name("kedro")
    full_env = {k: v for k, v in os.environ.items() if k != "KEDRO_ENV"}
    full_env |= {"COLUMNS": "200", "PYTHONWARNINGS": "ignore", **(env or {})}
    proc = subprocess.run(
        [str(kedro), *args], cwd=project, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        output = f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        pytest.fail(f"kedro {' '.join(args)} failed ({proc.returncode}):\n{output}")
    return proc
