"""Pixabay image search (https://pixabay.com/api/docs/), behind the :class:`SearchSource` interface.

``GET {base_url}/?key=&q=&image_type=photo&per_page=(3–200)&page=``; the answer has ``total``,
``totalHits`` (what the API will page through: at most 500 per query by default) and ``hits`` (``id``,
``pageURL``, ``tags``, ``user``, ``user_id``, ``webformatURL`` (640 px, valid 24 h), ``largeImageURL``
(1280 px)). Errors are plain text with a status (429 over the limit: 100 requests / 60 s per key, told by
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` = seconds left in the window). The key travels in the
query string, so every URL we log or store is redacted. Pixabay forbids hot-linking: images are downloaded
and stored (the ingestion pipeline does), never referenced by their CDN URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expressions_ensemble.sources.base import Query, SearchPage
from expressions_ensemble.sources.http import PARAMETER_KEYS as HTTP_PARAMETER_KEYS
from expressions_ensemble.sources.http import HttpPolicy, HttpSearchSource, resolve_api_key

#: Entry keys of ``kind: pixabay`` (every stock-photo kind reads the same ones).
PARAMETER_KEYS = HTTP_PARAMETER_KEYS

ENV_VAR = "PIXABAY_API_KEY"
CREDENTIAL_KEY = "pixabay_api_key"
SIGNUP_URL = "https://pixabay.com/api/docs/"
LICENSE = "Pixabay Content License (https://pixabay.com/service/license-summary/)"

#: ``image_size`` -> the hit field holding that rendition.
IMAGE_FIELDS = {"large": "largeImageURL", "webformat": "webformatURL", "preview": "previewURL"}


class PixabaySource(HttpSearchSource):
    """Pixabay keyword search of photos (``image_type=photo``); ``image_size`` large (1280 px) by default."""

    service = "Pixabay"
    default_base_url = "https://pixabay.com/api"
    per_page_range = (3, 200)
    image_sizes = tuple(IMAGE_FIELDS)
    filter_keys = frozenset(
        {
            "lang",
            "orientation",
            "category",
            "min_width",
            "min_height",
            "colors",
            "editors_choice",
            "safesearch",
            "order",
        }
    )
    default_policy = HttpPolicy(min_remaining=20, pause_seconds=30.0)
    key_env_var = ENV_VAR  # the key travels in the query (``key=``), added by search_request
    key_credential = CREDENTIAL_KEY

    def search_request(self, query: Query, page: int) -> tuple[str, dict[str, Any]]:
        if len(query.query) > 100:
            raise ValueError(f"{self.name}: Pixabay queries may not exceed 100 characters: {query.query!r}")
        params = {
            "key": self._key,
            "q": query.query,
            "image_type": "photo",
            "per_page": self.per_page,
            "page": page,
            **self.filters,
        }
        return f"{self.base_url}/", params

    def parse_page(self, payload: Any, query: Query, page: int) -> SearchPage:
        items = payload["hits"]
        if not isinstance(items, list):
            raise TypeError(f"'hits' is a {type(items).__name__}, not a list")
        hits = []
        for index, item in enumerate(items):
            try:
                user = str(item.get("user") or "unknown user")
                hits.append(
                    self.make_hit(
                        source_id=item["id"],
                        reference=str(item["pageURL"]),
                        image_url=item[IMAGE_FIELDS[self.image_size]],
                        query=query,
                        page=page,
                        index=index,
                        tags=str(item.get("tags") or "").split(","),
                        attribution=f"Image by {user} from Pixabay",
                        license=LICENSE,
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                self.summary.malformed_hits += 1
        # Asking past totalHits is an HTTP 400 ("page is out of valid range"): stop at the last full page.
        return SearchPage(
            hits=hits, has_next=bool(items) and page * self.per_page < int(payload["totalHits"])
        )


def create_source(
    name: str, params: Mapping[str, Any], credentials: Mapping[str, Any], **options: Any
) -> PixabaySource:
    """Factory of ``kind: pixabay``: key from credentials or ``PIXABAY_API_KEY``, checked before requests."""
    key = resolve_api_key(
        name,
        credentials,
        credential_key=CREDENTIAL_KEY,
        env_var=ENV_VAR,
        service="Pixabay",
        signup_url=SIGNUP_URL,
    )
    return PixabaySource(name, params, key, **options)
