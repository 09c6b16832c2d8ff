"""The Openverse client against a local fake of its API: anonymous, licences and attribution per photo."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from expressions_ensemble.sources import build_source
from expressions_ensemble.sources.base import Query
from expressions_ensemble.sources.openverse import OpenverseSource, create_source, license_name
from support import REPO_ROOT

from .fake_apis import FakeApis, FakeTime, Reply

SEARCH = "/openverse/v1/images/"
ANGRY = Query("angry face", "angry", "angry")


def openverse(apis: FakeApis, fake_time: FakeTime, **params: Any) -> OpenverseSource:
    base = {"kind": "openverse", "base_url": f"{apis.url}/openverse/v1", "per_page": 10, "max_pages": 5}
    base["http"] = {"max_retries": 2, "timeout": 2, "min_interval": 0}
    return create_source("openverse_v1", base | params, {}, sleep=fake_time.sleep, clock=fake_time.time)


def test_needs_no_key_and_pages_to_the_end(apis: FakeApis, fake_time: FakeTime) -> None:
    source = build_source("openverse_v1", {"kind": "openverse", "base_url": f"{apis.url}/openverse/v1"})
    assert isinstance(source, OpenverseSource) and source.per_page == 20
    source.api.sleep = fake_time.sleep  # keep the politeness interval from costing real time
    source.max_pages = 5
    hits = list(source.hits([ANGRY]))
    assert len(hits) == 25
    sent = apis.requests_to(SEARCH)
    assert [s.query["page"] for s in sent] == ["1", "2"]  # page_count 2
    assert sent[0].query == {"q": "angry face", "page_size": "20", "page": "1"}
    assert all("Authorization" not in s.headers for s in sent)


def test_hits_carry_licence_attribution_and_landing_page(apis: FakeApis, fake_time: FakeTime) -> None:
    hit = next(iter(openverse(apis, fake_time, max_pages=1).hits([ANGRY])))
    assert hit.source_id == str(uuid.UUID(int=1))
    assert hit.license == "CC BY-SA 2.0"
    assert hit.attribution == '"Face 1" by Creator 1 is licensed under CC BY-SA 2.0.'
    assert hit.reference == "https://www.flickr.com/photos/c1/1"
    assert hit.tags == ("face", "portrait")
    assert hit.fetch() == apis.photo(1)


def test_attribution_is_built_when_the_api_gives_none(apis: FakeApis, fake_time: FakeTime) -> None:
    item = {
        "id": "abc",
        "url": "http://127.0.0.1:1/x.jpg",
        "title": "Smile",
        "creator": "Ann",
        "license": "by",
        "license_version": "4.0",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
    }
    page = openverse(apis, fake_time).parse_page({"results": [item], "page_count": 1}, ANGRY, 1)
    (hit,) = page.hits
    assert hit.attribution == '"Smile" by Ann, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)'
    assert hit.reference == "http://127.0.0.1:1/x.jpg" and not page.has_next


@pytest.mark.parametrize(
    ("code", "version", "name"),
    [("by-nc-sa", "3.0", "CC BY-NC-SA 3.0"), ("cc0", "1.0", "CC0 1.0"), ("pdm", "", "Public Domain Mark")],
)
def test_license_names(code: str, version: str, name: str) -> None:
    assert license_name(code, version) == name


def test_thumbnail_size_and_filters(apis: FakeApis, fake_time: FakeTime) -> None:
    source = openverse(
        apis, fake_time, max_pages=1, image_size="thumbnail", filters={"license_type": "commercial"}
    )
    hit = next(iter(source.hits([ANGRY])))
    assert hit.fetch() == apis.photo(1)
    assert (
        apis.requests_to("/thumb/1.jpg") and apis.requests_to(SEARCH)[0].query["license_type"] == "commercial"
    )


def test_anonymous_limits_are_checked_before_any_request(apis: FakeApis) -> None:
    with pytest.raises(ValueError, match=r"openverse_v1\.per_page: expected an integer from 1 to 20"):
        create_source("openverse_v1", {"kind": "openverse", "per_page": 50}, {})
    with pytest.raises(ValueError, match=r"openverse_v1\.max_pages: expected an integer from 1 to 20"):
        create_source("openverse_v1", {"kind": "openverse", "max_pages": 21}, {})
    assert apis.log == []


def test_burst_quota_pauses_and_throttling_is_honoured(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.extra_headers[SEARCH] = {"X-RateLimit-Available-anon_burst": "1"}
    apis.queue(
        SEARCH, Reply(passthrough=True), Reply(429, b'{"detail": "throttled"}', headers={"Retry-After": "17"})
    )
    source = openverse(apis, fake_time)
    assert len(list(source.hits([ANGRY]))) == 25
    # Pause before page 2; its 429 says wait 17 s (and, with 1 request left, pause: 43 s more); page 3.
    assert fake_time.sleeps == [60.0, 17.0, 43.0, 60.0]
    assert source.summary.pauses == 3 and source.summary.retries == 1


def test_politeness_interval_between_requests(apis: FakeApis, fake_time: FakeTime) -> None:
    source = openverse(apis, fake_time, http={"min_interval": 1.0})
    list(source.hits([ANGRY]))
    assert fake_time.sleeps == [1.0, 1.0]


def test_a_search_timeout_is_retried(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue(SEARCH, Reply(body=b"{}", delay=0.5))
    source = openverse(apis, fake_time, http={"timeout": 0.1, "max_retries": 2, "min_interval": 0})
    assert len(list(source.hits([ANGRY]))) == 25
    assert source.summary.retries == 1


def test_openverse_env_builds_its_sources() -> None:
    from kedro.config import OmegaConfigLoader

    loader = OmegaConfigLoader(
        str(REPO_ROOT / "conf"),
        base_env="base",
        default_run_env="openverse",
        merge_strategy={"parameters": "soft"},
    )
    sources = loader["parameters"]["ingestion"]["sources"]
    enabled = sorted(n for n, s in sources.items() if s.get("enabled", True))
    assert enabled == ["openverse_v1", "openverse_v2"]
    for name in enabled:
        source = build_source(name, sources[name])  # no credentials needed
        assert isinstance(source, OpenverseSource) and (source.per_page, source.max_pages) == (20, 5)
