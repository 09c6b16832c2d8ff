"""The photo-source interface shared by the simulator, the stock-photo APIs and labelled folders.

A source turns a *search plan* (queries with the weak label each stands for) into :class:`PhotoHit`s.
Every hit carries a ``fetch`` callable, so a caller can skip the download of what it already has.
Keyword search services (simulator, Pexels, Pixabay, Openverse) implement :meth:`SearchSource.search`;
:class:`SearchSource.hits` walks the plan page by page for all of them in one place.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Query:
    """One search of the plan: the text sent, the keyword it was made from and the label it stands for."""

    query: str
    keyword: str
    weak_label: str


@dataclass(frozen=True)
class PhotoHit:
    """One search result (or one file of a labelled folder), before its image is fetched."""

    source_id: str  # the id the service gives the photo (stable across searches)
    reference: str  # url-like reference to the photo's page (never with credentials)
    query: str
    keyword: str
    weak_label: str | None  # canonical emotion, or None where the label is not ours
    page: int
    rank: int
    fetch: Callable[[], bytes] = field(repr=False, compare=False)
    tags: tuple[str, ...] = ()
    attribution: str = ""
    license: str = ""
    raw_label: str = ""  # the label as the source gave it (before normalisation)


@dataclass(frozen=True)
class SearchPage:
    """One page of a keyword search."""

    hits: list[PhotoHit]
    has_next: bool


class PhotoSource(ABC):
    """Anything that yields weakly labelled photos for a search plan."""

    name: str = "source"

    @abstractmethod
    def hits(self, plan: Iterable[Query]) -> Iterator[PhotoHit]:
        """Yield every hit of the plan, in a deterministic order."""


class SearchSource(PhotoSource):
    """A keyword search service: the plan is walked query by query, page by page."""

    def __init__(self, per_page: int, max_pages: int) -> None:
        if int(per_page) < 1:
            raise ValueError(f"per_page must be at least 1, got {per_page!r}")
        if int(max_pages) < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages!r}")
        self.per_page = int(per_page)
        self.max_pages = int(max_pages)

    @abstractmethod
    def search(self, query: Query, page: int) -> SearchPage:
        """Return page ``page`` (1-based) of the results for ``query``."""

    def hits(self, plan: Iterable[Query]) -> Iterator[PhotoHit]:
        for query in plan:
            for page in range(1, self.max_pages + 1):
                result = self.search(query, page)
                yield from result.hits
                if not result.has_next:
                    logger.info("%s: %r ends at page %d", self.name, query.query, page)
                    break
