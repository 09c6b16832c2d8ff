"""Photo sources behind one interface (see :mod:`.base`), built by kind from parameters.

``build_source(name, params, credentials)`` is the one place a source kind name becomes an object;
each kind registers a factory in :data:`SOURCE_KINDS`, and its module lists the entry keys it reads in
``PARAMETER_KEYS``, so :func:`check_source_keys` can reject a typo before any data is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from types import ModuleType
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

#: Entry keys of every kind that the pipelines read themselves: ``enabled`` (variants), ``role`` and
#: ``bagging`` (training), ``drop_classes`` (the photo manifest).
COMMON_SOURCE_KEYS = frozenset({"kind", "enabled", "role", "bagging", "drop_classes"})


def _kind_module(name: str, params: Mapping[str, Any]) -> tuple[ModuleType, str]:
    kind = params.get("kind")
    if kind not in SOURCE_KINDS:
        raise ValueError(
            f"ingestion.sources.{name}.kind: unknown source kind {kind!r}; "
            f"allowed: {', '.join(sorted(SOURCE_KINDS))}"
        )
    module_name, _, attr = SOURCE_KINDS[kind].partition(":")
    return import_module(module_name), attr


def allowed_source_keys(name: str, params: Mapping[str, Any]) -> frozenset[str]:
    """Every key an entry of this entry's ``kind`` may have (fails naming ``kind`` when it is unknown)."""
    module, _ = _kind_module(name, params)
    return COMMON_SOURCE_KEYS | frozenset(module.PARAMETER_KEYS)


def check_source_keys(name: str, params: Mapping[str, Any]) -> None:
    """Fail on a key the entry's kind does not read, naming its full path and the allowed keys.

    A typo must not be ignored: ``labels_cvs`` made a folder be read as class sub-folders and the good
    manifest be overwritten with nothing kept.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"ingestion.sources.{name}: expected a mapping of parameters, got {params!r}")
    allowed = allowed_source_keys(name, params)
    if unknown := sorted(set(map(str, params)) - allowed):
        paths = ", ".join(f"ingestion.sources.{name}.{key}" for key in unknown)
        raise ValueError(
            f"{paths}: unknown key for kind {params['kind']!r}; allowed: {', '.join(sorted(allowed))}"
        )


def build_source(
    name: str, params: Mapping[str, Any], credentials: Mapping[str, Any] | None = None
) -> PhotoSource:
    """Create the source ``name`` from its parameters; fail naming an unknown ``kind`` or key."""
    check_source_keys(name, params)
    module, attr = _kind_module(name, params)
    factory: SourceFactory = getattr(module, attr)
    return factory(name, params, credentials or {})


__all__ = [
    "COMMON_SOURCE_KEYS",
    "SOURCE_KINDS",
    "PhotoHit",
    "PhotoSource",
    "Query",
    "SearchPage",
    "SearchSource",
    "allowed_source_keys",
    "build_source",
    "check_source_keys",
]
