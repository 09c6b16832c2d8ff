"""The Pixabay client against a local fake of its API: the key in the query string must leak nowhere."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from expressions_ensemble.sources import build_source
from expressions_ensemble.sources.base import FetchError, Query
from expressions_ensemble.sources.http import MissingCredentialsError, SourceError
from expressions_ensemble.sources.pixabay import PixabaySource, create_source

from .fake_apis import KEY_PIXABAY, FakeApis, FakeTime, Reply, assert_no_secret

SEARCH = "/pixabay/api/"
ANGRY = Query("angry face", "angry", "angry")
HAPPY = Query("happy face", "happy", "happy")


def pixabay(apis: FakeApis, fake_time: FakeTime, key: str = KEY_PIXABAY, **params: Any) -> PixabaySource:
    base = {"kind": "pixabay", "base_url": f"{apis.url}/pixabay/api", "per_page": 10, "max_pages": 4}
    base["http"] = {"max_retries": 2, "timeout": 2}
    creds = {"pixabay_api_key": key}
    return create_source("pixabay_v1", base | params, creds, sleep=fake_time.sleep, clock=fake_time.time)


def test_missing_key_fails_before_any_request(apis: FakeApis) -> None:
    params = {"kind": "pixabay", "base_url": f"{apis.url}/pixabay/api"}
    with pytest.raises(MissingCredentialsError, match=r"PIXABAY_API_KEY.*pixabay_api_key"):
        build_source("pixabay_v1", params, {})
    assert apis.log == []


def test_search_parameters_and_pagination_to_the_end(apis: FakeApis, fake_time: FakeTime) -> None:
    source = pixabay(apis, fake_time, filters={"safesearch": True, "orientation": "vertical"})
    hits = list(source.hits([ANGRY]))
    assert [h.source_id for h in hits] == [str(i) for i in range(1, 26)]
    sent = apis.requests_to(SEARCH)
    assert [s.query["page"] for s in sent] == ["1", "2", "3"]
    assert sent[0].query | {"key": "-"} == {
        "key": "-", "q": "angry face", "image_type": "photo", "per_page": "10", "page": "1",
        "safesearch": "true", "orientation": "vertical",
    }  # fmt: skip
    assert sent[0].query["key"] == KEY_PIXABAY  # sent, and sent intact (URL-encoded on the way)


def test_never_pages_past_total_hits(apis: FakeApis, fake_time: FakeTime) -> None:
    """900 results, 500 reachable: with the study's 200 x 4 the 4th page (HTTP 400) is never asked for."""
    source = pixabay(apis, fake_time, per_page=200, max_pages=4)
    hits = list(source.hits([Query("many", "many", "happy")]))
    assert len(hits) == 500
    assert [s.query["page"] for s in apis.requests_to(SEARCH)] == ["1", "2", "3"]


def test_hits_tags_attribution_licence_and_fetch(apis: FakeApis, fake_time: FakeTime) -> None:
    source = pixabay(apis, fake_time, max_pages=1, image_size="webformat")
    hit = next(iter(source.hits([ANGRY])))
    assert hit.tags == ("face", "emotion", "portrait")
    assert hit.attribution == "Image by user1 from Pixabay"
    assert hit.license.startswith("Pixabay Content License")
    assert hit.reference == "https://pixabay.com/photos/face-1/"
    assert hit.fetch() == apis.photo(1)  # downloaded and verified, to be stored (no hot-linking)


def test_per_page_outside_pixabay_range(apis: FakeApis) -> None:
    with pytest.raises(ValueError, match=r"pixabay_v1\.per_page: expected an integer from 3 to 200"):
        create_source("pixabay_v1", {"kind": "pixabay", "per_page": 2}, {"pixabay_api_key": KEY_PIXABAY})
    with pytest.raises(
        ValueError, match=r"pixabay_v1\.image_size: unknown value 'huge'; allowed: large, webformat"
    ):
        create_source(
            "pixabay_v1", {"kind": "pixabay", "image_size": "huge"}, {"pixabay_api_key": KEY_PIXABAY}
        )


def test_429_with_retry_after_during_a_walk(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue(
        SEARCH,
        Reply(passthrough=True),
        Reply(429, b"[ERROR 429] Too Many Requests", "text/plain", {"Retry-After": "9"}),
    )
    source = pixabay(apis, fake_time)
    assert len(list(source.hits([ANGRY]))) == 25
    assert fake_time.sleeps == [9.0] and source.summary.retries == 1


def test_pause_when_the_window_is_nearly_spent(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.extra_headers[SEARCH] = {"X-RateLimit-Remaining": "15", "X-RateLimit-Reset": "42"}
    list(pixabay(apis, fake_time).hits([ANGRY]))
    assert fake_time.sleeps == [30.0, 30.0]  # the study's 30 s (the window resets later, in 42 s)


def test_malformed_json_page_is_retried_then_the_query_skipped(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue(SEARCH, *[Reply(body=b'{"totalHits": 25, "hits": [')] * 3)
    source = pixabay(apis, fake_time)
    hits = list(source.hits([ANGRY, HAPPY]))
    assert {h.query for h in hits} == {"happy face"} and len(hits) == 20
    assert source.summary.page_errors == 1 and fake_time.sleeps == [1.0, 2.0]


def test_the_key_leaks_nowhere(apis: FakeApis, fake_time: FakeTime, caplog) -> None:
    """Logs (ours and urllib3's debug lines), exception texts, tracebacks, hits, summaries: no key."""
    caplog.set_level(logging.DEBUG)
    # A 503, a malformed page and a wrong-key answer that echoes the key back, on the way.
    apis.queue(
        SEARCH,
        Reply(503, b"busy", "text/plain"),
        Reply(passthrough=True),
        Reply(body=b"<html>not json</html>", content_type="text/html"),
        *[Reply(500, f"[ERROR 500] internal error for key={KEY_PIXABAY}".encode(), "text/plain")] * 2,
        Reply(400, f"[ERROR 400] Invalid API key {KEY_PIXABAY}".encode(), "text/plain"),
    )
    apis.queue("/img/2.jpg", Reply(200, b"<html>quota</html>", "text/html"))
    source = pixabay(apis, fake_time)
    hits = list(source.hits([ANGRY, HAPPY, Query("sad face", "sad", "sad")]))
    errors: list[BaseException] = []
    for hit in hits[:2]:
        try:
            hit.fetch()
        except FetchError as exc:
            errors.append(exc)
    broken = pixabay(apis, fake_time, base_url="http://127.0.0.1:9/api", http={"max_retries": 1})
    for _ in range(3):
        try:
            broken.api.get_json(*broken.search_request(ANGRY, 1))
        except SourceError as exc:
            errors.append(exc)
    assert source.summary.page_errors >= 2 and len(errors) == 4
    texts = [caplog.text, *(r.getMessage() for r in caplog.records)]
    texts += ["".join(traceback.format_exception(e)) + repr(e) for e in errors]
    texts += [repr(h) + h.reference + h.attribution + h.license + ",".join(h.tags) for h in hits]
    texts += [repr(source), str(source.summary), str(source.summary.as_dict()), repr(source.api)]
    texts += [source.api.describe(*source.search_request(ANGRY, 1))]
    assert any("key=***" in t for t in texts)  # the lines are there, masked
    assert_no_secret(KEY_PIXABAY, texts)
