"""Shared fixtures: where the read-only real data lives, and a throw-away copy of the Kedro project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import copy_project, shared_data_dir

# Reporting fixtures (synthetic prediction tables, headless Chromium) live in tests/reporting_support.py.
pytest_plugins = ["reporting_support"]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``scripts/test.sh`` runs ``-n auto``) each worker is pinned to a core of
    its own, and everything it starts inherits the pin: torch, the project's ``auto`` worker counts
    (``parallel.available_cores``) and the ``kedro run`` subprocesses then use that one core instead of
    every worker spinning OpenMP threads on all of them, which slows two busy workers several times."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) > 1:
            os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})


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
