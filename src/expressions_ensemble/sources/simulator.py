"""The offline simulator as a photo source: the default run's stand-in for a stock-photo service."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from expressions_ensemble.simulation import SimulatedStockService
from expressions_ensemble.sources.base import PhotoHit, Query, SearchPage, SearchSource

#: Entry keys of ``kind: simulator`` (besides the common ones, see :mod:`expressions_ensemble.sources`).
PARAMETER_KEYS = frozenset({"variant", "seed", "per_page", "max_pages", "service"})


class SimulatorSource(SearchSource):
    """Keyword search against :class:`SimulatedStockService`, paged like a real service."""

    def __init__(self, name: str, seed: int, per_page: int, max_pages: int, **service_options: Any) -> None:
        super().__init__(per_page, max_pages)
        self.name = name
        self.service = SimulatedStockService(seed=int(seed), **service_options)

    def search(self, query: Query, page: int) -> SearchPage:
        result = self.service.search(query.query, page=page, per_page=self.per_page)
        hits = [
            PhotoHit(
                source_id=photo.id,
                reference=photo.url,
                query=query.query,
                keyword=query.keyword,
                weak_label=query.weak_label,
                page=page,
                rank=(page - 1) * self.per_page + i,
                fetch=photo.fetch,
                tags=tuple(photo.tags),
                attribution=f"{photo.photographer} (simulated)",
                license="simulated",
                raw_label=query.weak_label,
            )
            for i, photo in enumerate(result.results)
        ]
        return SearchPage(hits=hits, has_next=result.has_next)


def create_source(name: str, params: Mapping[str, Any], credentials: Mapping[str, Any]) -> SimulatorSource:
    """Factory for ``kind: simulator``: ``seed``, ``per_page``, ``max_pages`` and ``service`` options."""
    missing = [k for k in ("seed", "per_page", "max_pages") if k not in params]
    if missing:
        raise ValueError(f"ingestion.sources.{name}: missing {missing} for kind 'simulator'")
    service = params.get("service") or {}
    allowed = [p for p in inspect.signature(SimulatedStockService).parameters if p != "seed"]
    if not isinstance(service, Mapping) or (unknown := sorted(set(map(str, service)) - set(allowed))):
        what = (
            f"unknown key(s) {unknown}"
            if isinstance(service, Mapping)
            else f"expected a mapping, got {service!r}"
        )
        raise ValueError(f"ingestion.sources.{name}.service: {what}; allowed: {', '.join(allowed)}")
    return SimulatorSource(name, params["seed"], params["per_page"], params["max_pages"], **service)
