"""The Pexels client against a local fake of its API: keys, paging, early stop, limits, leaks, conf."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from expressions_ensemble.sources import build_source
from expressions_ensemble.sources.base import FetchError, Query
from expressions_ensemble.sources.http import (
    MissingCredentialsError,
    RateLimitExhausted,
    SourceAuthError,
    SourceRequestError,
)
from expressions_ensemble.sources.pexels import PexelsSource, create_source
from support import REPO_ROOT

from .fake_apis import KEY_PEXELS, FakeApis, FakeTime, Reply, assert_no_secret

SEARCH = "/pexels/v1/search"
ANGRY = Query("angry face", "angry", "angry")
HAPPY = Query("happy face", "happy", "happy")


def pexels(apis: FakeApis, fake_time: FakeTime, key: str = KEY_PEXELS, **params: Any) -> PexelsSource:
    base = {"kind": "pexels", "base_url": f"{apis.url}/pexels/v1", "per_page": 10, "max_pages": 10}
    base["http"] = {"max_retries": 2, "timeout": 2}
    return create_source(
        "pexels_v1", base | params, {"pexels_api_key": key}, sleep=fake_time.sleep, clock=fake_time.time
    )


def searched_pages(apis: FakeApis, query: str) -> list[int]:
    return [int(seen.query["page"]) for seen in apis.requests_to(SEARCH) if seen.query.get("query") == query]


# -- keys ------------------------------------------------------------------------------------------------


def test_missing_key_fails_before_any_request(apis: FakeApis) -> None:
    params = {"kind": "pexels", "base_url": f"{apis.url}/pexels/v1", "variant": "v1"}
    with pytest.raises(MissingCredentialsError, match=r"PEXELS_API_KEY.*pexels_api_key.*credentials\.yml"):
        build_source("pexels_v1", params, {})
    with pytest.raises(MissingCredentialsError, match=r"ingestion\.sources\.pexels_v1"):
        create_source("pexels_v1", params, {"pexels_api_key": "  "})
    assert apis.log == []


def test_key_from_the_environment_or_credentials(apis: FakeApis, fake_time: FakeTime, monkeypatch) -> None:
    params = {"kind": "pexels", "base_url": f"{apis.url}/pexels/v1", "per_page": 5}
    monkeypatch.setenv("PEXELS_API_KEY", KEY_PEXELS)
    assert len(list(build_source("pexels_v1", params, {}).hits([ANGRY]))) == 5
    monkeypatch.setenv("PEXELS_API_KEY", "stale-env-key")  # credentials.yml wins over the environment
    assert len(list(build_source("pexels_v1", params, {"pexels_api_key": KEY_PEXELS}).hits([ANGRY]))) == 5


def test_wrong_key_is_an_auth_error_naming_where_keys_come_from(apis: FakeApis, fake_time: FakeTime) -> None:
    source = pexels(apis, fake_time, key="wrong-key-9876")
    with pytest.raises(SourceAuthError, match=r"HTTP 401.*PEXELS_API_KEY") as err:
        list(source.hits([ANGRY]))
    assert "wrong-key-9876" not in str(err.value)
    assert len(apis.requests_to(SEARCH)) == 1  # never retried


# -- paging and early stop ---------------------------------------------------------------------------------


def test_pagination_to_the_end(apis: FakeApis, fake_time: FakeTime, caplog) -> None:
    caplog.set_level(logging.INFO)
    hits = list(pexels(apis, fake_time).hits([ANGRY]))
    assert [h.source_id for h in hits] == [str(i) for i in range(1, 26)]
    assert [h.page for h in hits] == [1] * 10 + [2] * 10 + [3] * 5
    assert [h.rank for h in hits] == list(range(25))
    assert searched_pages(apis, "angry face") == [1, 2, 3]
    assert "'angry face' stopped after page 3 (end)" in caplog.text


def test_max_pages_bounds_the_walk(apis: FakeApis, fake_time: FakeTime) -> None:
    hits = list(pexels(apis, fake_time, max_pages=2).hits([ANGRY]))
    assert len(hits) == 20 and searched_pages(apis, "angry face") == [1, 2]


def test_duplicates_across_keywords_are_yielded_for_the_manifest(apis: FakeApis, fake_time: FakeTime) -> None:
    hits = list(pexels(apis, fake_time).hits([ANGRY, HAPPY]))
    ids = [h.source_id for h in hits]
    assert len(ids) == 45 and len(set(ids)) == 40  # 21..25 found by both keywords
    assert {h.weak_label for h in hits if h.source_id == "21"} == {"angry", "happy"}


def test_a_page_with_nothing_new_stops_the_query(apis: FakeApis, fake_time: FakeTime) -> None:
    source = pexels(apis, fake_time)
    hits = list(source.hits([Query("stale", "stale", "sad"), ANGRY]))
    assert searched_pages(apis, "stale") == [1, 2]  # page 2 repeated page 1: page 3 is never asked for
    assert len([h for h in hits if h.query == "stale"]) == 20
    # "angry face" 1..10 were seen on "stale": its page 1 brings nothing new either.
    assert searched_pages(apis, "angry face") == [1]
    assert source.summary.early_stops == 2


def test_exactly_ten_percent_new_keeps_going(apis: FakeApis, fake_time: FakeTime) -> None:
    list(pexels(apis, fake_time).hits([Query("repeats", "repeats", "sad")]))
    assert searched_pages(apis, "repeats") == [1, 2, 3]


def test_seen_ids_of_earlier_runs_count_as_not_new(apis: FakeApis, fake_time: FakeTime) -> None:
    hits = list(pexels(apis, fake_time).hits([ANGRY], seen_ids=[str(i) for i in range(1, 11)]))
    assert len(hits) == 10 and searched_pages(apis, "angry face") == [1]


def test_early_stop_can_be_turned_off(apis: FakeApis, fake_time: FakeTime) -> None:
    list(pexels(apis, fake_time, min_new_fraction=0).hits([Query("stale", "stale", "sad")]))
    assert searched_pages(apis, "stale") == [1, 2, 3]


# -- hits and downloads ------------------------------------------------------------------------------------


def test_hits_carry_attribution_licence_and_a_verified_fetch(apis: FakeApis, fake_time: FakeTime) -> None:
    source = pexels(apis, fake_time, max_pages=1)
    hit = next(iter(source.hits([ANGRY])))
    assert hit.reference == "https://www.pexels.com/photo/photo-1/"
    assert hit.attribution == "Photo by Photographer 1 on Pexels (https://www.pexels.com/@p1)"
    assert hit.license.startswith("Pexels License")
    assert (hit.query, hit.keyword, hit.weak_label) == ("angry face", "angry", "angry")
    assert hit.fetch() == apis.photo(1)
    assert apis.requests_to(SEARCH)[0].headers["Authorization"] == KEY_PEXELS
    assert "Authorization" not in apis.requests_to("/img/")[0].headers  # the CDN never sees the key
    assert source.summary.images_kept == 1


def test_image_size_picks_the_rendition(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/img/1.jpg", Reply(404, b"gone", "text/plain"))
    source = pexels(apis, fake_time, max_pages=1, image_size="original")
    hit = next(iter(source.hits([ANGRY])))
    with pytest.raises(FetchError) as err:
        hit.fetch()
    assert err.value.reason == "http_404" and source.summary.rejected == {"http_404": 1}


def test_a_500_during_search_is_retried(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue(SEARCH, Reply(500, b"oops", "text/plain"))
    source = pexels(apis, fake_time)
    assert len(list(source.hits([ANGRY]))) == 25
    assert fake_time.sleeps == [1.0] and source.summary.retries == 1


def test_malformed_page_ends_its_query_and_the_walk_goes_on(
    apis: FakeApis, fake_time: FakeTime, caplog
) -> None:
    apis.queue(SEARCH, Reply(passthrough=True), *[Reply(body=b'{"photos": [{"id": 1')] * 3)
    source = pexels(apis, fake_time)
    hits = list(source.hits([ANGRY, HAPPY]))
    assert len([h for h in hits if h.query == "angry face"]) == 10
    assert len([h for h in hits if h.query == "happy face"]) == 20
    assert source.summary.page_errors == 1 and source.summary.retries == 2
    assert "page 2 of 'angry face' failed" in caplog.text


def test_a_photo_missing_fields_is_skipped_not_the_page(apis: FakeApis, fake_time: FakeTime) -> None:
    photos = b'[{"id": 7}, {"id": 8, "url": "https://p/8", "src": {"large": "x"}}]'
    body = b'{"page": 1, "per_page": 2, "photos": ' + photos + b"}"
    apis.queue(SEARCH, Reply(body=body))
    source = pexels(apis, fake_time, max_pages=1)
    assert [h.source_id for h in source.hits([ANGRY])] == ["8"]
    assert source.summary.malformed_hits == 1


def test_repeated_page_failures_mean_a_broken_setup(apis: FakeApis, fake_time: FakeTime) -> None:
    source = pexels(apis, fake_time, base_url=f"{apis.url}/not-pexels")
    with pytest.raises(SourceRequestError, match=r"3 pages in a row failed.*base_url"):
        list(source.hits([ANGRY, HAPPY, Query("sad face", "sad", "sad")]))


def test_hourly_limit_stops_the_walk_cleanly(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue(SEARCH, Reply(passthrough=True), *[Reply(429, b"Too Many Requests", "text/plain")] * 3)
    source = pexels(apis, fake_time)
    hits = list(source.hits([ANGRY, HAPPY]))
    assert len(hits) == 10  # page 1 of the first query, then the quota ran out
    assert source.summary.stopped.startswith("rate_limited")
    assert len(apis.requests_to(SEARCH)) == 4  # no request for "happy face" after the stop
    assert hits[0].fetch() == apis.photo(1)  # downloads (from the CDN) still work


def test_hourly_limit_can_fail_the_run(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue(SEARCH, *[Reply(429, b"Too Many Requests", "text/plain")] * 3)
    with pytest.raises(RateLimitExhausted):
        list(pexels(apis, fake_time, on_limit="fail").hits([ANGRY]))


def test_few_remaining_requests_pause_the_walk(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.extra_headers[SEARCH] = {
        "X-Ratelimit-Remaining": "12",
        "X-Ratelimit-Reset": str(int(fake_time.now) + 86400),
    }
    source = pexels(apis, fake_time)
    list(source.hits([ANGRY]))
    assert fake_time.sleeps == [30.0, 30.0]  # before pages 2 and 3
    assert source.summary.pauses == 2


# -- the key leaks nowhere ---------------------------------------------------------------------------------


def test_the_key_leaks_nowhere(apis: FakeApis, fake_time: FakeTime, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    apis.queue(SEARCH, Reply(503, b"busy", "text/plain"))
    apis.queue("/img/2.jpg", Reply(200, b"<html>error</html>", "text/html"))
    source = pexels(apis, fake_time)
    hits = list(source.hits([ANGRY]))
    errors: list[BaseException] = []
    for hit in hits[:3]:
        try:
            hit.fetch()
        except FetchError as exc:
            errors.append(exc)
    unreachable = pexels(apis, fake_time, base_url="http://127.0.0.1:9/v1", http={"max_retries": 0})
    try:
        list(unreachable.hits([ANGRY, HAPPY, Query("sad face", "sad", "sad")]))
    except SourceRequestError as exc:
        errors.append(exc)
    assert len(errors) == 2
    texts = [caplog.text, *(r.getMessage() for r in caplog.records), str(source.summary), repr(source)]
    texts += ["".join(traceback.format_exception(e)) + repr(e) for e in errors]
    texts += [repr(h) + h.reference + h.attribution + h.license for h in hits]
    texts += [repr(vars(source.api)), str(source.summary.as_dict())]
    assert_no_secret(KEY_PEXELS, texts)


# -- parameters and conf -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"per_page": 81},
            r"pexels_v1\.per_page: expected an integer from 1 to 80 \(Pexels's limit\), got 81",
        ),
        ({"max_pages": 0}, r"pexels_v1\.max_pages: expected an integer >= 1, got 0"),
        (
            {"image_size": "huge"},
            r"pexels_v1\.image_size: unknown value 'huge'; allowed: large, large2x, original",
        ),
        ({"min_new_fraction": 1.5}, r"pexels_v1\.min_new_fraction: expected a number from 0 to 1"),
        (
            {"filters": {"colour": "red"}},
            r"pexels_v1\.filters: unknown filter\(s\) \['colour'\]; allowed: color",
        ),
        ({"http": {"retries": 1}}, r"pexels_v1\.http: unknown setting\(s\) retries"),
        ({"on_limit": "wait"}, r"pexels_v1\.on_limit: unknown value 'wait'; allowed: stop, fail"),
        ({"base_url": "api.pexels.com"}, r"pexels_v1\.base_url: expected an http\(s\) URL"),
    ],
)
def test_parameter_errors_name_the_key_and_allowed_values(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_source("pexels_v1", {"kind": "pexels"} | params, {"pexels_api_key": "test-key-123456"})


def test_paper_env_builds_the_study_sources(monkeypatch) -> None:
    from kedro.config import OmegaConfigLoader

    from expressions_ensemble.sources.pixabay import PixabaySource
    from expressions_ensemble.sources.plan import build_search_plan

    monkeypatch.setenv("PEXELS_API_KEY", "pexels-test-key-0000")
    monkeypatch.setenv("PIXABAY_API_KEY", "pixabay-test-key-0000")
    loader = OmegaConfigLoader(
        str(REPO_ROOT / "conf"),
        base_env="base",
        default_run_env="paper",
        merge_strategy={"parameters": "soft"},
    )
    ingestion = loader["parameters"]["ingestion"]
    sources = ingestion["sources"]
    assert not sources["sim_v1"]["enabled"] and not sources["sim_v2"]["enabled"]
    assert sources["sim_v1"]["kind"] == "simulator"  # soft merge: only `enabled` was overridden
    enabled = sorted(n for n, s in sources.items() if s.get("enabled", True))
    assert enabled == ["pexels_v1", "pexels_v2", "pixabay_v1", "pixabay_v2"]
    built = {
        name: build_source(name, spec)
        for name, spec in sources.items()
        if spec["kind"] in ("pexels", "pixabay")
    }
    assert {n: (s.per_page, s.max_pages) for n, s in built.items()} == {
        "pexels_v1": (80, 10), "pexels_v2": (80, 10), "pexels_v3": (80, 10),
        "pixabay_v1": (200, 4), "pixabay_v2": (200, 4),
    }  # fmt: skip
    assert isinstance(built["pexels_v1"], PexelsSource) and isinstance(built["pixabay_v2"], PixabaySource)
    assert all(s.min_new_fraction == 0.1 for s in built.values())
    variants = ingestion["keyword_variants"]
    v3 = build_search_plan("pexels_v3", sources["pexels_v3"], variants)
    v1 = build_search_plan("pexels_v1", sources["pexels_v1"], variants)
    v2 = build_search_plan("pexels_v2", sources["pexels_v2"], variants)
    assert [q.query for q in v3] == [q.query for q in v1] + [q.query for q in v2 if q not in v1]
