"""Helpers shared by tests (importable as ``support``): repository paths, real data, the kedro CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def conf_envs() -> list[str]:
    """The project's conf environments: every folder of ``conf/`` but ``base`` and ``local``."""
    return sorted(
        p.name for p in (REPO_ROOT / "conf").iterdir() if p.is_dir() and p.name not in {"base", "local"}
    )


def shared_data_dir() -> Path:
    """``$EXE_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("EXE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def copy_project(dest: Path) -> Path:
    """Copy the project's conf (without ``local``), source and settings into ``dest``, with empty data
    layers, so kedro runs there never touch the repository's ``data/``."""
    dest.mkdir(parents=True)
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
