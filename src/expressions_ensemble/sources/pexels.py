"""Pexels photo search (https://www.pexels.com/api/documentation/) behind the :class:`SearchSource` API.

``GET {base_url}/search?query=&per_page=(1–80)&page=`` with the header ``Authorization: <key>``; the answer
lists ``photos`` (``id``, ``url``, ``photographer``, ``photographer_url``, ``alt``, ``src.{original,
large2x,large,medium,small,portrait,landscape,tiny}``) and a ``next_page`` link that is absent on the last
page. Every 200 carries ``X-Ratelimit-Limit/-Remaining/-Reset`` (reset = UNIX time) for the monthly quota;
the hourly limit (200 by default) shows only as a 429. Images come from Pexels' CDN, fetched without the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expressions_ensemble.sources.base import Query, SearchPage
from expressions_ensemble.sources.http import PARAMETER_KEYS as HTTP_PARAMETER_KEYS
from expressions_ensemble.sources.http import HttpPolicy, HttpSearchSource, resolve_api_key

#: Entry keys of ``kind: pexels`` (every stock-photo kind reads the same ones).
PARAMETER_KEYS = HTTP_PARAMETER_KEYS

ENV_VAR = "PEXELS_API_KEY"
CREDENTIAL_KEY = "pexels_api_key"
SIGNUP_URL = "https://www.pexels.com/api/"
LICENSE = "Pexels License (https://www.pexels.com/license/)"


class PexelsSource(HttpSearchSource):
    """Pexels keyword search; ``image_size`` picks one of the ``src`` renditions (default ``large``)."""

    service = "Pexels"
    default_base_url = "https://api.pexels.com/v1"
    per_page_range = (1, 80)
    image_sizes = ("large", "large2x", "original", "medium", "small", "portrait", "landscape", "tiny")
    filter_keys = frozenset({"orientation", "size", "color", "locale"})
    default_policy = HttpPolicy(min_remaining=20, pause_seconds=30.0)
    key_header = "Authorization"
    key_env_var = ENV_VAR
    key_credential = CREDENTIAL_KEY

    def search_request(self, query: Query, page: int) -> tuple[str, dict[str, Any]]:
        params = {"query": query.query, "per_page": self.per_page, "page": page, **self.filters}
        return f"{self.base_url}/search", params

    def parse_page(self, payload: Any, query: Query, page: int) -> SearchPage:
        photos = payload["photos"]
        if not isinstance(photos, list):
            raise TypeError(f"'photos' is a {type(photos).__name__}, not a list")
        hits = []
        for index, photo in enumerate(photos):
            try:
                photographer = str(photo.get("photographer") or "unknown photographer")
                profile = photo.get("photographer_url") or ""
                hits.append(
                    self.make_hit(
                        source_id=photo["id"],
                        reference=str(photo["url"]),
                        image_url=photo["src"][self.image_size],
                        query=query,
                        page=page,
                        index=index,
                        attribution=f"Photo by {photographer} on Pexels"
                        + (f" ({profile})" if profile else ""),
                        license=LICENSE,
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                self.summary.malformed_hits += 1
        # next_page is present on every page but the last (Pexels' documentation).
        return SearchPage(hits=hits, has_next=bool(photos) and bool(payload.get("next_page")))


def create_source(
    name: str, params: Mapping[str, Any], credentials: Mapping[str, Any], **options: Any
) -> PexelsSource:
    """Factory of ``kind: pexels``: key from credentials or ``PEXELS_API_KEY``, checked before any request."""
    key = resolve_api_key(
        name,
        credentials,
        credential_key=CREDENTIAL_KEY,
        env_var=ENV_VAR,
        service="Pexels",
        signup_url=SIGNUP_URL,
    )
    return PexelsSource(name, params, key, **options)
