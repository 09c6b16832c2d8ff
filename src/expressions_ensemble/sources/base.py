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

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A photo whose bytes could not be fetched or failed verification.

    ``reason`` is a short code for the manifest's outcome (``http_404``, ``wrong_content_type``,
    ``too_large``, ``truncated``, ``timeout`` …), so a caller records *why* without parsing messages.
    """

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason


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
    #: Whether a photo already stored under its id is reused instead of fetched again: a service's photo
    #: id names fixed content; a local folder's file may be replaced, so it is read again (cheap).
    reuse_stored: bool = True

    @abstractmethod
    def hits(self, plan: Iterable[Query]) -> Iterator[PhotoHit]:
        """Yield every hit of the plan, in a deterministic order."""

    def close(self) -> None:  # noqa: B027 - optional for sources that hold no resources
        """Release connections and log the run summary, if the source keeps one."""


class SearchSource(PhotoSource):
    """A keyword search service: the plan is walked query by query, page by page.

    ``min_new_fraction`` is the study's early-stop rule: a query stops after a page on which fewer than
    this fraction of the hits are new (not seen earlier in the walk, nor in ``seen_ids``). 0 turns it off.
    """

    def __init__(
        self, per_page: int, max_pages: int, *, min_new_fraction: float = 0.0, progress: bool = False
    ) -> None:
        if int(per_page) < 1:
            raise ValueError(f"per_page must be at least 1, got {per_page!r}")
        if int(max_pages) < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages!r}")
        if not 0.0 <= float(min_new_fraction) <= 1.0:
            raise ValueError(f"min_new_fraction must be within [0, 1], got {min_new_fraction!r}")
        self.per_page = int(per_page)
        self.max_pages = int(max_pages)
        self.min_new_fraction = float(min_new_fraction)
        self.progress = bool(progress)

    @abstractmethod
    def search(self, query: Query, page: int) -> SearchPage:
        """Return page ``page`` (1-based) of the results for ``query``."""

    def hits(self, plan: Iterable[Query], seen_ids: Iterable[str] | None = None) -> Iterator[PhotoHit]:
        """Yield every hit of the plan (repeats included: they tell which keywords share a photo).

        ``seen_ids`` are source ids known from earlier runs; they count as "not new" for the early stop.
        """
        seen = {str(source_id) for source_id in seen_ids or ()}
        for query in plan:
            reason, page = "max_pages", 0
            bar = tqdm(
                total=self.max_pages,
                desc=f"{self.name}: {query.query}",
                unit="page",
                leave=False,
                disable=None if self.progress else True,
            )
            with bar:
                for page in range(1, self.max_pages + 1):
                    result = self.search(query, page)
                    ids = {hit.source_id for hit in result.hits}
                    new = len(ids - seen)
                    seen |= ids
                    bar.update(1)
                    bar.set_postfix(hits=len(result.hits), new=new, refresh=False)
                    yield from result.hits
                    if not result.has_next:
                        reason = "end"
                        break
                    if self.min_new_fraction > 0 and new < self.min_new_fraction * max(1, len(result.hits)):
                        reason = "few_new"
                        break
            self.query_done(query, page, reason)

    def query_done(self, query: Query, pages: int, reason: str) -> None:
        """Called once per query with the pages walked and why the walk ended (end | few_new | max_pages)."""
        logger.info("%s: %r stopped after page %d (%s)", self.name, query.query, pages, reason)
