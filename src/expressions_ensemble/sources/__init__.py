"""Photo sources behind one interface (see :mod:`.base`), built by kind from parameters.

``build_source(name, params, credentials)`` is the one place a source kind name becomes an object;
each kind registers a factory in :data:`SOURCE_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from expressions_ensemble.sources.base import PhotoHit, PhotoSource, Query, SearchPage, SearchSource

SourceFactory = Callable[[str, Mapping[str, Any], Mapping[str, Any]], PhotoSource]

#: kind name -> "module:factory"; a factory(name, params, credentials) returns the source. Modules are
#: imported only when their kind is used, so optional clients cost nothing otherwise.
SOURCE_KINDS: dict[str, str] = {
    "simulator": "expressions_ensemble.sources.simulator:create_source",
    "folder": "expressions_ensemble.sources.folder:create_source",
    "pexels": "expressions_ensemble.sources.pexels:create_source",
    "pixabay": "expressions_ensemble.sources.pixabay:create_source",
    "openverse": "expressions_ensemble.sources.openverse:create_source",
}


def build_source(
    name: str, params: Mapping[str, Any], credentials: Mapping[str, Any] | None = None
) -> PhotoSource:
    """Create the source ``name`` from its parameters; fail naming ``kind`` and the allowed kinds."""
    kind = params.get("kind")
    if kind not in SOURCE_KINDS:
        raise ValueError(
            f"ingestion.sources.{name}.kind: unknown source kind {kind!r}; "
            f"allowed: {', '.join(sorted(SOURCE_KINDS))}"
        )
    module_name, _, attr = SOURCE_KINDS[kind].partition(":")
    module = __import__(module_name, fromlist=[attr])
    factory: SourceFactory = getattr(module, attr)
    return factory(name, params, credentials or {})


__all__ = ["SOURCE_KINDS", "PhotoHit", "PhotoSource", "Query", "SearchPage", "SearchSource", "build_source"]
