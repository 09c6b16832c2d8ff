"""Openverse image search (https://api.openverse.org/v1/), behind the :class:`SearchSource` interface.

Openly licensed photos with no key at all: ``GET {base_url}/images/?q=&page_size=&page=``. Anonymous
callers get at most 20 results per page (a larger ``page_size`` is answered with 401), pages up to 20
deep, and a small quota (``X-RateLimit-Available-anon_burst`` / ``-anon_sustained`` headers; 429 with
``Retry-After`` beyond it). The answer has ``result_count``, ``page_count`` and ``results`` with ``id``,
``url`` (the file at its provider), ``thumbnail``, ``creator``, ``license``, ``license_version``,
``license_url``, ``foreign_landing_url``, ``attribution`` and ``tags``. Licences vary per photo (CC BY,
BY-SA, BY-NC, CC0 …): each hit stores its own, and ``filters: {license_type: commercial}`` narrows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expressions_ensemble.sources.base import Query, SearchPage
from expressions_ensemble.sources.http import PARAMETER_KEYS as HTTP_PARAMETER_KEYS
from expressions_ensemble.sources.http import HttpPolicy, HttpSearchSource

#: Entry keys of ``kind: openverse`` (every stock-photo kind reads the same ones).
PARAMETER_KEYS = HTTP_PARAMETER_KEYS

#: ``image_size`` -> the result field holding that rendition.
IMAGE_FIELDS = {"original": "url", "thumbnail": "thumbnail"}


def license_name(code: str, version: str) -> str:
    """Readable licence of an Openverse result: ``by-sa`` + ``2.0`` -> ``CC BY-SA 2.0``."""
    code = (code or "").strip().lower()
    name = {"cc0": "CC0", "pdm": "Public Domain Mark"}.get(code, f"CC {code.upper()}" if code else "unknown")
    return f"{name} {version}".strip() if version else name


class OpenverseSource(HttpSearchSource):
    """Openverse keyword search, anonymous; ``image_size`` original (provider's file) or thumbnail."""

    service = "Openverse (anonymous)"
    default_base_url = "https://api.openverse.org/v1"
    per_page_range = (1, 20)
    max_pages_limit = 20
    image_sizes = tuple(IMAGE_FIELDS)
    filter_keys = frozenset(
        {
            "license",
            "license_type",
            "source",
            "excluded_source",
            "extension",
            "category",
            "aspect_ratio",
            "size",
        }
    )
    # Anonymous quota is small (about 20 a minute): pause a minute when it is nearly spent; be polite.
    default_policy = HttpPolicy(min_remaining=2, pause_seconds=60.0, min_interval=1.0, max_requests=1000)

    def search_request(self, query: Query, page: int) -> tuple[str, dict[str, Any]]:
        params = {"q": query.query, "page_size": self.per_page, "page": page, **self.filters}
        return f"{self.base_url}/images/", params

    def parse_page(self, payload: Any, query: Query, page: int) -> SearchPage:
        results = payload["results"]
        if not isinstance(results, list):
            raise TypeError(f"'results' is a {type(results).__name__}, not a list")
        hits = []
        for index, item in enumerate(results):
            try:
                licence = license_name(str(item.get("license") or ""), str(item.get("license_version") or ""))
                landing = str(item.get("foreign_landing_url") or item["url"])
                attribution = str(item.get("attribution") or "") or (
                    f'"{item.get("title") or "Untitled"}" by {item.get("creator") or "unknown creator"}, '
                    f"{licence}" + (f" ({item['license_url']})" if item.get("license_url") else "")
                )
                hits.append(
                    self.make_hit(
                        source_id=item["id"],
                        reference=landing,
                        image_url=item[IMAGE_FIELDS[self.image_size]],
                        query=query,
                        page=page,
                        index=index,
                        tags=[
                            tag.get("name", "") for tag in item.get("tags") or [] if isinstance(tag, Mapping)
                        ],
                        attribution=attribution,
                        license=licence,
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                self.summary.malformed_hits += 1
        return SearchPage(hits=hits, has_next=bool(results) and page < int(payload["page_count"]))


def create_source(
    name: str, params: Mapping[str, Any], credentials: Mapping[str, Any], **options: Any
) -> OpenverseSource:
    """Factory for ``kind: openverse``: anonymous, so ``credentials`` are not used."""
    return OpenverseSource(name, params, **options)
