"""Shared fixtures: where the read-only real data lives, and a throw-away copy of the Kedro project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$EXE_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("EXE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder; tests using it skip with a reason where it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (set EXE_SHARED_DATA or place it at ../shared/data)")
    return path


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's conf and layout in a temporary folder, so runs never touch ``data/``."""
    dest = tmp_path / "project"
    dest.mkdir()
    shutil.copytree(REPO_ROOT / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", dest / "pyproject.toml")
    shutil.copy(REPO_ROOT / ".telemetry", dest / ".telemetry")
    (dest / "src").symlink_to(REPO_ROOT / "src")
    return dest
