"""The shared HTTP layer: retries, backoff, rate-limit pauses, budgets, verified downloads, redaction."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from expressions_ensemble.sources.base import FetchError
from expressions_ensemble.sources.http import (
    BudgetExhausted,
    HttpClient,
    HttpPolicy,
    MalformedResponse,
    RateLimitExhausted,
    RedactingFilter,
    RunSummary,
    SourceAuthError,
    SourceRequestError,
    redact,
    register_secret,
)

from .fake_apis import FakeApis, FakeTime, Reply

FAST = HttpPolicy(timeout=2.0, max_retries=3, backoff_base=1.0, backoff_max=8.0)


def client(fake_time: FakeTime, policy: HttpPolicy = FAST, kind: str = "api", **kw: object) -> HttpClient:
    return HttpClient(
        "test", policy, RunSummary("test"), kind=kind, sleep=fake_time.sleep, clock=fake_time.time, **kw
    )


# -- redaction ---------------------------------------------------------------------------------------------


def test_redact_masks_registered_secrets_encoded_forms_and_key_params() -> None:
    register_secret("s3cr3t+key/=x")
    text = "GET https://x/api/?key=s3cr3t%2Bkey%2F%3Dx&q=a and s3cr3t+key/=x and s3cr3t%2Bkey%2F%3Dx"
    out = redact(text)
    assert "s3cr3t" not in out
    assert redact("https://h/p?q=a&api_key=abc123&page=2") == "https://h/p?q=a&api_key=***&page=2"
    assert "tok" not in redact("{'Authorization': 'tok-123'}")
    assert (
        redact("https://www.pexels.com/photo/smiling-1/?page=2")
        == "https://www.pexels.com/photo/smiling-1/?page=2"
    )
    register_secret("k")  # too short to be a key: masking it would garble every line
    assert redact("keep kites") == "keep kites"


def test_redacting_filter_rewrites_foreign_log_records() -> None:
    register_secret("filter-secret-42")
    record = logging.LogRecord(
        "urllib3.connectionpool", logging.DEBUG, "", 0, '"GET /?key=%s" %s', ("filter-secret-42", 200), None
    )
    assert RedactingFilter().filter(record)
    assert "filter-secret-42" not in record.getMessage()


# -- retries -----------------------------------------------------------------------------------------------


def test_429_with_retry_after_waits_as_told(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", Reply(429, b"slow down", "text/plain", {"Retry-After": "7"}))
    http = client(fake_time)
    assert http.get_json(f"{apis.url}/echo.json")["ok"] is True
    assert fake_time.sleeps == [7.0]
    assert http.summary.retries == 1 and http.summary.api_requests == 2


def test_retry_after_as_http_date(apis: FakeApis, fake_time: FakeTime) -> None:
    from email.utils import formatdate

    apis.queue(
        "/echo.json",
        Reply(503, b"", "text/plain", {"Retry-After": formatdate(fake_time.now + 12, usegmt=True)}),
    )
    client(fake_time).get_json(f"{apis.url}/echo.json")
    assert len(fake_time.sleeps) == 1 and 10.5 <= fake_time.sleeps[0] <= 12.0


def test_500_then_success_backs_off_exponentially(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", Reply(500, b"oops"), Reply(502, b"oops"), Reply(503, b"oops"))
    http = client(fake_time)
    assert http.get_json(f"{apis.url}/echo.json")["ok"] is True
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert http.summary.retries == 3


def test_5xx_forever_gives_up_after_max_retries(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", *[Reply(500, b"down")] * 4)
    with pytest.raises(SourceRequestError, match="gave up after 4 attempts") as err:
        client(fake_time).get_json(f"{apis.url}/echo.json")
    assert err.value.reason == "http_500"
    assert len(apis.requests_to("/echo.json")) == 4


def test_timeout_is_retried_then_succeeds(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", Reply(body=b"{}", delay=0.5))
    http = client(fake_time, HttpPolicy(timeout=0.1, max_retries=2))
    assert http.get_json(f"{apis.url}/echo.json")["ok"] is True
    assert http.summary.retries == 1


def test_timeout_every_time_raises_with_reason(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", *[Reply(body=b"{}", delay=0.4)] * 2)
    with pytest.raises(SourceRequestError, match="timed out") as err:
        client(fake_time, HttpPolicy(timeout=0.1, max_retries=1)).get_json(f"{apis.url}/echo.json")
    assert err.value.reason == "timeout"


def test_malformed_json_is_retried_then_raised(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", Reply(body=b'{"photos": [1, 2'), Reply(body=b"<html>busy</html>"))
    assert client(fake_time, HttpPolicy(max_retries=2)).get_json(f"{apis.url}/echo.json")["ok"] is True
    apis.queue("/echo.json", *[Reply(body=b'{"photos": [')] * 3)
    with pytest.raises(MalformedResponse) as err:
        client(fake_time, HttpPolicy(max_retries=2)).get_json(f"{apis.url}/echo.json")
    assert err.value.reason == "malformed_json"


def test_4xx_is_not_retried(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", Reply(400, b'[ERROR 400] "page" is out of valid range.', "text/plain"))
    with pytest.raises(SourceRequestError, match="out of valid range") as err:
        client(fake_time).get_json(f"{apis.url}/echo.json")
    assert err.value.status == 400 and fake_time.sleeps == []


def test_401_is_an_auth_error_with_the_hint(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", Reply(401, b'{"error": "bad key"}'))
    with pytest.raises(SourceAuthError, match="Check MY_KEY_VAR"):
        client(fake_time, auth_hint="Check MY_KEY_VAR").get_json(f"{apis.url}/echo.json")


def test_connection_refused_is_retried_and_reported(fake_time: FakeTime) -> None:
    with socket_closed_port() as port, pytest.raises(SourceRequestError) as err:
        client(fake_time, HttpPolicy(max_retries=1)).get_json(
            f"http://127.0.0.1:{port}/x", {"key": "zz-top-secret"}
        )
    assert err.value.reason == "network"
    assert "zz-top-secret" not in str(err.value)


# -- rate limits and budgets -------------------------------------------------------------------------------


def test_few_remaining_requests_pause_before_the_next_one(apis: FakeApis, fake_time: FakeTime) -> None:
    """The study's rule: fewer than 20 requests left -> pause 30 s."""
    far = str(int(fake_time.now) + 7 * 86400)  # Pexels: the monthly quota resets in a week
    apis.extra_headers["/echo.json"] = {"X-Ratelimit-Remaining": "19", "X-Ratelimit-Reset": far}
    http = client(fake_time)
    http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == []  # the pause comes before the *next* request
    http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == [30.0]
    assert http.summary.pauses == 1 and http.summary.paused_seconds == 30.0


def test_pause_threshold_and_length_are_parameters(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.extra_headers["/echo.json"] = {"X-Ratelimit-Remaining": "19"}
    http = client(fake_time, HttpPolicy(min_remaining=5, pause_seconds=3))
    for _ in range(3):
        http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == []
    apis.extra_headers["/echo.json"] = {"X-Ratelimit-Remaining": "4"}
    http.get_json(f"{apis.url}/echo.json")
    http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == [3.0]


def test_pause_ends_when_the_window_resets_sooner(apis: FakeApis, fake_time: FakeTime) -> None:
    """Pixabay sends the seconds left in its 60 s window: no need to wait the full 30 s."""
    apis.extra_headers["/echo.json"] = {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "12"}
    http = client(fake_time)
    http.get_json(f"{apis.url}/echo.json")
    http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == [12.0]


def test_openverse_available_headers_count_as_remaining(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.extra_headers["/echo.json"] = {
        "X-RateLimit-Available-anon_burst": "1",
        "X-RateLimit-Available-anon_sustained": "150",
    }
    http = client(fake_time, HttpPolicy(min_remaining=2, pause_seconds=60))
    http.get_json(f"{apis.url}/echo.json")
    http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == [60.0]


def test_spent_quota_with_a_far_reset_stops_instead_of_sleeping(apis: FakeApis, fake_time: FakeTime) -> None:
    far = str(int(fake_time.now) + 86400)
    apis.extra_headers["/echo.json"] = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": far}
    http = client(fake_time)
    http.get_json(f"{apis.url}/echo.json")
    with pytest.raises(RateLimitExhausted, match="run again later"):
        http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == [] and len(apis.requests_to("/echo.json")) == 1


def test_retry_after_beyond_max_wait_stops(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/echo.json", Reply(429, b"", "text/plain", {"Retry-After": "3600"}))
    with pytest.raises(RateLimitExhausted, match="max_wait=900"):
        client(fake_time).get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == []


def test_429_without_retry_after_waits_for_the_last_known_reset(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.extra_headers["/echo.json"] = {
        "X-Ratelimit-Remaining": "50",
        "X-Ratelimit-Reset": str(int(fake_time.now) + 40),
    }
    http = client(fake_time)
    http.get_json(f"{apis.url}/echo.json")
    apis.queue("/echo.json", Reply(429, b"Too Many Requests", "text/plain"))
    http.get_json(f"{apis.url}/echo.json")
    assert len(fake_time.sleeps) == 1 and 39 <= fake_time.sleeps[0] <= 40


def test_request_budget_bounds_a_run(apis: FakeApis, fake_time: FakeTime) -> None:
    http = client(fake_time, HttpPolicy(max_requests=2))
    http.get_json(f"{apis.url}/echo.json")
    http.get_json(f"{apis.url}/echo.json")
    with pytest.raises(BudgetExhausted, match="max_requests=2"):
        http.get_json(f"{apis.url}/echo.json")
    assert len(apis.requests_to("/echo.json")) == 2


def test_min_interval_spaces_requests(apis: FakeApis, fake_time: FakeTime) -> None:
    http = client(fake_time, HttpPolicy(min_interval=1.5))
    for _ in range(3):
        http.get_json(f"{apis.url}/echo.json")
    assert fake_time.sleeps == [1.5, 1.5]


def test_policy_from_params_validates_with_the_key() -> None:
    policy = HttpPolicy.from_params({"max_retries": 2, "pause_seconds": 5, "max_requests": None}, "k.http")
    assert (policy.max_retries, policy.pause_seconds, policy.max_requests) == (2, 5.0, None)
    with pytest.raises(ValueError, match=r"k\.http: unknown setting\(s\) retries; allowed: timeout"):
        HttpPolicy.from_params({"retries": 2}, "k.http")
    with pytest.raises(ValueError, match=r"k\.http\.timeout: must be > 0"):
        HttpPolicy.from_params({"timeout": 0}, "k.http")
    with pytest.raises(ValueError, match=r"k\.http\.pause_seconds: expected a number"):
        HttpPolicy.from_params({"pause_seconds": "soon"}, "k.http")


# -- verified downloads ------------------------------------------------------------------------------------


def test_download_returns_the_verified_bytes(apis: FakeApis, fake_time: FakeTime) -> None:
    http = client(fake_time, kind="download")
    assert http.get_image(f"{apis.url}/img/3.jpg") == apis.photo(3)
    assert http.summary.download_requests == 1 and http.summary.api_requests == 0


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(404, b"<html>gone</html>", "text/html"), "http_404"),
        (Reply(200, b"<html><body>Error: quota</body></html>", "text/html"), "wrong_content_type"),
        (Reply(200, b"<html><body>Error</body></html>", "image/jpeg"), "not_an_image"),
        (Reply(200, b'{"error": "nope"}', "application/json"), "wrong_content_type"),
        (Reply(200, b"", "image/jpeg"), "empty_file"),
    ],
    ids=["404", "html-200", "html-as-jpeg", "json", "empty"],
)
def test_download_rejections_have_a_reason(
    apis: FakeApis, fake_time: FakeTime, reply: Reply, reason: str
) -> None:
    apis.queue("/img/fault.jpg", reply)
    with pytest.raises(FetchError) as err:
        client(fake_time, kind="download").get_image(f"{apis.url}/img/fault.jpg")
    assert err.value.reason == reason
    assert len(apis.requests_to("/img/fault.jpg")) == 1  # a definite answer is not retried


def test_truncated_body_is_retried_then_rejected(apis: FakeApis, fake_time: FakeTime) -> None:
    photo = apis.photo(5)
    apis.queue(
        "/img/fault.jpg", *[Reply(body=photo, content_type="image/jpeg", truncate_at=len(photo) // 2)] * 3
    )
    with pytest.raises(FetchError) as err:
        client(fake_time, HttpPolicy(max_retries=2), kind="download").get_image(f"{apis.url}/img/fault.jpg")
    assert err.value.reason == "truncated"
    assert len(apis.requests_to("/img/fault.jpg")) == 3


def test_truncated_body_without_length_fails_decoding(apis: FakeApis, fake_time: FakeTime) -> None:
    photo = apis.photo(5)
    apis.queue(
        "/img/fault.jpg", Reply(body=photo[: len(photo) // 2], content_type="image/jpeg", send_length=False)
    )
    with pytest.raises(FetchError) as err:
        client(fake_time, kind="download").get_image(f"{apis.url}/img/fault.jpg")
    assert err.value.reason == "truncated"


def test_truncated_once_then_whole(apis: FakeApis, fake_time: FakeTime) -> None:
    photo = apis.photo(7)
    apis.queue("/img/7.jpg", Reply(body=photo, content_type="image/jpeg", truncate_at=100))
    assert client(fake_time, kind="download").get_image(f"{apis.url}/img/7.jpg") == photo


def test_oversized_image_is_rejected_from_its_header(apis: FakeApis, fake_time: FakeTime) -> None:
    http = client(fake_time, HttpPolicy(max_image_bytes=len(apis.photo(1)) - 1), kind="download")
    with pytest.raises(FetchError, match="bytes >") as err:  # refused from Content-Length, unread
        http.get_image(f"{apis.url}/img/1.jpg")
    assert err.value.reason == "too_large"


def test_oversized_image_without_length_is_cut_off(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue(
        "/img/fault.jpg",
        Reply(body=b"\xff\xd8" + b"\0" * 200_000, content_type="image/jpeg", send_length=False),
    )
    with pytest.raises(FetchError) as err:
        client(fake_time, HttpPolicy(max_image_bytes=50_000), kind="download").get_image(
            f"{apis.url}/img/fault.jpg"
        )
    assert err.value.reason == "too_large"


def test_image_over_the_pixel_cap_is_rejected(apis: FakeApis, fake_time: FakeTime) -> None:
    with pytest.raises(FetchError) as err:
        client(fake_time, HttpPolicy(max_image_pixels=1000), kind="download").get_image(
            f"{apis.url}/img/2.jpg"
        )
    assert err.value.reason == "too_large"


def test_image_timeout_and_server_errors(apis: FakeApis, fake_time: FakeTime) -> None:
    apis.queue("/img/fault.jpg", *[Reply(body=b"", content_type="image/jpeg", delay=0.4)] * 2)
    with pytest.raises(FetchError) as err:
        client(fake_time, HttpPolicy(timeout=0.1, max_retries=1), kind="download").get_image(
            f"{apis.url}/img/fault.jpg"
        )
    assert err.value.reason == "timeout"
    apis.queue("/img/4.jpg", Reply(503, b"busy", "text/plain"))
    assert client(fake_time, kind="download").get_image(f"{apis.url}/img/4.jpg") == apis.photo(4)


def test_download_budget(apis: FakeApis, fake_time: FakeTime) -> None:
    http = client(fake_time, HttpPolicy(max_downloads=1), kind="download")
    http.get_image(f"{apis.url}/img/1.jpg")
    with pytest.raises(FetchError) as err:
        http.get_image(f"{apis.url}/img/2.jpg")
    assert err.value.reason == "budget_exhausted"


def test_summary_as_dict_is_flat() -> None:
    summary = RunSummary("s", api_requests=3, download_requests=4, images_kept=2)
    summary.rejected.update({"http_404": 1, "truncated": 2})
    flat = summary.as_dict()
    assert flat["requests"] == 7 and flat["rejected"] == 3 and flat["rejected.truncated"] == 2
    json.dumps(flat)
    assert "2 images kept, 3 rejected (http_404=1, truncated=2)" in str(summary)


class socket_closed_port:
    """A loopback port with nothing listening (connection refused)."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        pass


def test_requests_is_the_transport() -> None:
    """The layer builds on requests (declared dependency); a session is reused per client."""
    http = HttpClient("t", HttpPolicy(), RunSummary("t"))
    assert isinstance(http.session, requests.Session)
    assert "expressions-ensemble/" in http.session.headers["User-Agent"]
    assert "Authorization" not in repr(http)
