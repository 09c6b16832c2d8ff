"""Which source variants (Kedro namespaces such as ``sim_v1`` or ``pexels_v2``) the active conf env enables.

The pipelines are instantiated once per enabled source, so their shape depends on configuration:
``kedro run --env paper`` must build the paper's namespaces. A hook records the parameters of the
session's environment before the pipelines are registered; commands that register pipelines without a
session (``kedro registry list``) fall back to reading the configuration of ``KEDRO_ENV`` themselves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_recorded: list[str] | None = None


def enabled_sources(parameters: Mapping[str, Any]) -> list[str]:
    """Names of the enabled sources in ``parameters['ingestion']['sources']``, validated as namespaces."""
    sources = (parameters.get("ingestion") or {}).get("sources") or {}
    if not isinstance(sources, Mapping):
        raise ValueError("ingestion.sources must be a mapping of source name to its parameters")
    names = []
    for name, spec in sources.items():
        if not _NAME.match(str(name)):
            raise ValueError(
                f"ingestion.sources: {name!r} is not a valid namespace (lower-case letters, digits, '_')"
            )
        if isinstance(spec, Mapping) and spec.get("enabled", True):
            names.append(str(name))
    return sorted(names)


def record_parameters(parameters: Mapping[str, Any]) -> bool:
    """Remember the session's enabled sources; True when they differ from what was recorded before."""
    global _recorded
    names = enabled_sources(parameters)
    changed = names != _recorded
    _recorded = names
    return changed


def active_sources() -> list[str]:
    """Enabled sources of the current session (or of ``KEDRO_ENV`` when no session recorded any)."""
    if _recorded is not None:
        return list(_recorded)
    from kedro.config import OmegaConfigLoader
    from kedro.utils import find_kedro_project

    project = find_kedro_project(Path.cwd()) or Path(__file__).resolve().parents[2]
    loader = OmegaConfigLoader(
        conf_source=str(Path(project) / "conf"),
        env=os.environ.get("KEDRO_ENV"),
        base_env="base",
        default_run_env="local",
    )
    return enabled_sources(loader["parameters"])
