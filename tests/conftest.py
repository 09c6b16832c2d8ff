"""Shared fixtures: where the read-only real data lives, and a throw-away copy of the Kedro project."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import copy_project, shared_data_dir

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
    return copy_project(tmp_path / "project")
