"""Shared fixtures: where the read-only real data lives, and a throw-away copy of the Kedro project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import REPO_ROOT, shared_data_dir

# Reporting fixtures (synthetic prediction tables, headless Chromium) live in tests/reporting_support.py.
pytest_plugins = ["reporting_support"]


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
    shutil.copytree(
        REPO_ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for layer in ("01_raw", "02_intermediate", "03_primary", "08_reporting"):
        (dest / "data" / layer).mkdir(parents=True)
    return dest
