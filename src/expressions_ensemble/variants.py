"""Which variants (Kedro namespaces) the active conf env enables: photo sources and comparison datasets.

The pipelines are instantiated once per enabled source (``sim_v1``, ``pexels_v2``, …) and once per
comparison dataset (``lab``, ``fer2013``, …), so their shape depends on configuration: ``kedro run
--env paper`` must build the paper's namespaces. A hook records the parameters of the session's
environment before the pipelines are registered; commands that register pipelines without a session
(``kedro registry list``) fall back to reading the configuration of ``KEDRO_ENV`` themselves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: variant kind -> (top-level parameter key, nested key holding the named entries)
KINDS = {"sources": ("ingestion", "sources"), "baselines": ("baselines", "datasets")}

_recorded: dict[str, list[str]] | None = None


def _enabled(parameters: Mapping[str, Any], kind: str) -> list[str]:
    top, nested = KINDS[kind]
    entries = (parameters.get(top) or {}).get(nested) or {}
    where = f"{top}.{nested}"
    if not isinstance(entries, Mapping):
        raise ValueError(f"{where} must be a mapping of name to its parameters")
    names = []
    for name, spec in entries.items():
        if not _NAME.match(str(name)):
            raise ValueError(f"{where}: {name!r} is not a valid namespace (lower-case letters, digits, '_')")
        if isinstance(spec, Mapping) and spec.get("enabled", True):
            names.append(str(name))
    return sorted(names)


def enabled_sources(parameters: Mapping[str, Any]) -> list[str]:
    """Names of the enabled sources in ``ingestion.sources``, validated as namespaces."""
    return _enabled(parameters, "sources")


def enabled_baselines(parameters: Mapping[str, Any]) -> list[str]:
    """Names of the enabled comparison datasets in ``baselines.datasets``; none may clash with a source."""
    names = _enabled(parameters, "baselines")
    if clash := sorted(set(names) & set(enabled_sources(parameters))):
        raise ValueError(f"baselines.datasets: {clash} are also source names; namespaces must be unique")
    return names


def record_parameters(parameters: Mapping[str, Any]) -> bool:
    """Remember the session's variants; True when they differ from what was recorded before."""
    global _recorded
    found = {"sources": enabled_sources(parameters), "baselines": enabled_baselines(parameters)}
    changed = found != _recorded
    _recorded = found
    return changed


def _active(kind: str) -> list[str]:
    if _recorded is not None:
        return list(_recorded[kind])
    from kedro.config import OmegaConfigLoader
    from kedro.utils import find_kedro_project

    project = find_kedro_project(Path.cwd()) or Path(__file__).resolve().parents[2]
    loader = OmegaConfigLoader(
        conf_source=str(Path(project) / "conf"),
        env=os.environ.get("KEDRO_ENV"),
        base_env="base",
        default_run_env="local",
    )
    parameters = loader["parameters"]
    return enabled_sources(parameters) if kind == "sources" else enabled_baselines(parameters)


def active_sources() -> list[str]:
    """Enabled sources of the current session (or of ``KEDRO_ENV`` when no session recorded any)."""
    return _active("sources")


def active_baselines() -> list[str]:
    """Enabled comparison datasets of the current session (or of ``KEDRO_ENV``)."""
    return _active("baselines")
