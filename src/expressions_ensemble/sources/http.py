"""The HTTP layer the stock-photo clients (Pexels, Pixabay, Openverse) share.

A pull of thousands of photos runs for hours unattended, so the rules for talking to a photo API live in
one place: bounded retries with exponential backoff on timeouts, 429 and 5xx (``Retry-After`` honoured),
a pause when the rate-limit headers say the quota is nearly spent (the study paused 30 s below 20 requests
left), a cap on the requests of a run, verified image downloads, and a run summary. API keys are redacted
from every log line, exception text and URL this layer hands out — including urllib3's debug log, which
prints request URLs (Pixabay's key travels in the query string).
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import time
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import partial
from importlib import metadata
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, quote_plus

import requests

from expressions_ensemble.imaging import DEFAULT_MAX_PIXELS, ImageDecodeError, probe_image
from expressions_ensemble.sources import COMMON_SOURCE_KEYS
from expressions_ensemble.sources.base import FetchError, PhotoHit, Query, SearchPage, SearchSource

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses worth another try: the server is busy, throttling or briefly broken.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

MASK = "***"

# ---------------------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------------------

_SECRETS: set[str] = set()
_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&;\s])(?:key|api_key|apikey|access_token|token|client_secret)=)[^&#\s'\"]*"
)
_SECRET_HEADER = re.compile(r"(?i)('?authorization'?\s*[:=]\s*'?)(?:bearer\s+)?[^'\s,}]+")


#: Shorter strings are not registered: masking them would garble every log line (real keys are 30+ chars).
MIN_SECRET_LENGTH = 8


def register_secret(secret: str) -> None:
    """Remember a credential so that :func:`redact` masks it (and its URL-encoded forms) everywhere."""
    if len(secret) >= MIN_SECRET_LENGTH:
        _SECRETS.update({secret, quote(secret, safe=""), quote_plus(secret)})


def redact(text: object) -> str:
    """``text`` with every registered secret, ``key=…``-style query value and Authorization value masked."""
    out = str(text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        out = out.replace(secret, MASK)
    out = _SECRET_PARAM.sub(r"\1" + MASK, out)
    return _SECRET_HEADER.sub(r"\1" + MASK, out)


class RedactingFilter(logging.Filter):
    """Masks secrets in records of loggers we do not own (urllib3 logs full request URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()
for _name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "requests"):
    if _FILTER not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_FILTER)


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


class SourceError(RuntimeError):
    """A photo API failed; the text is redacted and ``reason`` is a short code for summaries."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.reason = reason
        self.status = status


class SourceRequestError(SourceError):
    """A request that failed for good: retries spent, or a status that retrying cannot mend."""


class SourceAuthError(SourceRequestError):
    """The service rejected the credentials (HTTP 401/403): a configuration error, never retried."""


class RateLimitExhausted(SourceRequestError):
    """The service keeps throttling, or asks for a longer wait than ``http.max_wait`` allows."""


class BudgetExhausted(SourceRequestError):
    """This run has sent ``http.max_requests`` (or ``max_downloads``) requests: the bound we promised."""


class MalformedResponse(SourceError):
    """A 200 answer that is not the JSON the service documents (truncated, HTML, another schema)."""


class MissingCredentialsError(RuntimeError):
    """A source that needs an API key was configured without one (raised before any request)."""


class _Retry(Exception):
    """Raised by a response handler: this answer is transient, try again (``reason`` for the summary)."""

    def __init__(self, reason: str, problem: str) -> None:
        super().__init__(problem)
        self.reason = reason
        self.problem = problem


# ---------------------------------------------------------------------------------------------------------
# Run summary
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What one source did in a run: requests, retries, pauses, pages, images kept and rejected (why)."""

    source: str
    api_requests: int = 0
    download_requests: int = 0
    retries: int = 0
    pauses: int = 0
    paused_seconds: float = 0.0
    pages: int = 0
    page_errors: int = 0
    hits: int = 0
    malformed_hits: int = 0
    early_stops: int = 0
    images_kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    stopped: str = ""  # why the walk ended before the plan did (rate limit, budget); "" when it did not

    @property
    def requests(self) -> int:
        return self.api_requests + self.download_requests

    def as_dict(self) -> dict[str, Any]:
        """Flat, JSON- and MLflow-friendly counts (``rejected.<reason>`` per rejection reason)."""
        out: dict[str, Any] = {"source": self.source, "requests": self.requests}
        for f in fields(self):
            if f.name not in ("source", "rejected"):
                value = getattr(self, f.name)
                out[f.name] = round(value, 3) if isinstance(value, float) else value
        out["rejected"] = sum(self.rejected.values())
        out.update({f"rejected.{reason}": n for reason, n in sorted(self.rejected.items())})
        return out

    def __str__(self) -> str:
        why = ", ".join(f"{reason}={n}" for reason, n in sorted(self.rejected.items())) or "none"
        text = (
            f"{self.source}: {self.requests} requests ({self.api_requests} api, {self.download_requests} "
            f"download), {self.retries} retries, {self.pauses} pauses ({self.paused_seconds:.0f} s), "
            f"{self.pages} pages, {self.hits} hits, {self.early_stops} early stops, "
            f"{self.images_kept} images kept, {sum(self.rejected.values())} rejected ({why})"
        )
        return text + (f"; stopped early: {self.stopped}" if self.stopped else "")


# ---------------------------------------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpPolicy:
    """How patiently and how much a source talks to its service; every field is a ``http.<field>`` param."""

    timeout: float = 30.0  # seconds to connect and between bytes read
    max_retries: int = 5  # extra attempts after a timeout, 429, 5xx or malformed answer
    backoff_base: float = 1.0  # first backoff (s); doubles each retry ...
    backoff_max: float = 120.0  # ... up to this
    max_wait: float = 900.0  # longest single wait accepted (Retry-After, quota reset); beyond: stop
    min_remaining: int = 20  # pause when the rate-limit headers show fewer requests left than this ...
    pause_seconds: float = 30.0  # ... for this long (or until the window resets, if sooner)
    min_interval: float = 0.0  # least time between two API requests (politeness)
    max_requests: int | None = 5000  # API requests per run (None: unbounded)
    max_downloads: int | None = 50_000  # image downloads per run (None: unbounded)
    max_image_bytes: int = 20_000_000  # larger downloads are rejected as too_large
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    user_agent: str = ""  # "" -> expressions-ensemble/<version> (some image hosts block anonymous agents)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff before retry number ``attempt + 1``."""
        return min(self.backoff_max, self.backoff_base * (2**attempt))

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any] | None, key: str, base: HttpPolicy | None = None
    ) -> HttpPolicy:
        """``base`` (the service's defaults) with ``params`` applied; errors name ``key.<field>``."""
        base = base or cls()
        params = dict(params or {})
        allowed = {f.name: f for f in fields(cls)}
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"{key}: unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        changes: dict[str, Any] = {}
        for name, value in params.items():
            default = getattr(cls(), name)
            if name == "user_agent":
                changes[name] = str(value or "")
                continue
            if value is None and name in ("max_requests", "max_downloads"):
                changes[name] = None
                continue
            kind = int if isinstance(default, int) or name in ("max_requests", "max_downloads") else float
            try:
                number = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"{key}.{name}: expected a number, got {value!r}") from None
            if number < 0 or (name == "timeout" and number == 0):
                raise ValueError(
                    f"{key}.{name}: must be {'> 0' if name == 'timeout' else '>= 0'}, got {value!r}"
                )
            changes[name] = number
        return replace(base, **changes)


def _user_agent(policy: HttpPolicy) -> str:
    if policy.user_agent:
        return policy.user_agent
    try:
        version = metadata.version("expressions-ensemble")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "dev"
    return f"expressions-ensemble/{version} (facial-emotion research; python-requests)"


# ---------------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------------


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class HttpClient:
    """GETs with retries, backoff, rate-limit pauses and a request budget; one per service and purpose.

    ``sleep`` and ``clock`` are injectable so tests run without waiting. ``kind`` ("api" or "download")
    chooses which counter of the summary and which budget a request is charged to.
    """

    def __init__(
        self,
        source: str,
        policy: HttpPolicy,
        summary: RunSummary,
        *,
        kind: str = "api",
        headers: Mapping[str, str] | None = None,
        auth_hint: str = "",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        if kind not in ("api", "download"):
            raise ValueError(f"kind must be 'api' or 'download', got {kind!r}")
        self.source = source
        self.policy = policy
        self.summary = summary
        self.kind = kind
        self.auth_hint = auth_hint
        self.sleep = sleep
        self.clock = clock
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = _user_agent(policy)
        self.session.headers.update(headers or {})
        self.max_requests = policy.max_requests if kind == "api" else policy.max_downloads
        self.sent = 0
        self._last_sent: float | None = None
        self._pause_until = 0.0
        self._reset_at: float | None = None  # when the service's rate-limit window resets (epoch seconds)

    def __repr__(self) -> str:  # never show headers: they may hold a key
        return f"HttpClient({self.source!r}, kind={self.kind!r}, sent={self.sent})"

    def close(self) -> None:
        self.session.close()

    # -- public -------------------------------------------------------------------------------------------

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON body of a 200 answer; malformed bodies are retried like a 5xx, then raised."""

        def handle(resp: requests.Response) -> Any:
            if resp.status_code in (401, 403):
                raise SourceAuthError(
                    "unauthorized",
                    f"{self.source}: the service refused the request (HTTP {resp.status_code}) for "
                    f"{self.describe(url, params)}: {self._snippet(resp)}. {self.auth_hint}".rstrip(". ")
                    + ".",
                    resp.status_code,
                )
            if resp.status_code != 200:
                raise SourceRequestError(
                    f"http_{resp.status_code}",
                    f"{self.source}: HTTP {resp.status_code} for {self.describe(url, params)}: "
                    f"{self._snippet(resp)}",
                    resp.status_code,
                )
            try:
                return resp.json()
            except ValueError:
                raise _Retry("malformed_json", f"malformed JSON ({self._snippet(resp)})") from None

        return self._call(url, params, handle, stream=False)

    def get_image(self, url: str) -> bytes:
        """Bytes of an image that passed every check: status 200, ``image/*``, size cap, decodes.

        Raises :class:`FetchError` whose ``reason`` says which check failed.
        """
        policy = self.policy

        def handle(resp: requests.Response) -> bytes:
            try:
                if resp.status_code != 200:
                    raise FetchError(f"http_{resp.status_code}", f"HTTP {resp.status_code} for {redact(url)}")
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if not ctype.startswith("image/"):
                    raise FetchError("wrong_content_type", f"{ctype or 'no content type'} for {redact(url)}")
                length = _number(resp.headers.get("Content-Length"))
                if length is not None and length > policy.max_image_bytes:
                    raise FetchError(
                        "too_large", f"{int(length)} bytes > {policy.max_image_bytes} for {redact(url)}"
                    )
                chunks, size = [], 0
                try:
                    for chunk in resp.iter_content(chunk_size=64 * 1024):
                        size += len(chunk)
                        if size > policy.max_image_bytes:
                            raise FetchError(
                                "too_large", f"more than {policy.max_image_bytes} bytes for {redact(url)}"
                            )
                        chunks.append(chunk)
                except requests.RequestException as exc:  # body cut short, or stalled past the timeout
                    reason = "timeout" if "timed out" in str(exc).lower() else "truncated"
                    raise _Retry(reason, f"body broken off ({type(exc).__name__})") from None
                data = b"".join(chunks)
            finally:
                resp.close()
            try:
                probe_image(data, policy.max_image_pixels)
            except ImageDecodeError as exc:
                raise FetchError(exc.reason, f"{redact(exc.detail)[:200]} for {redact(url)}") from None
            return data

        try:
            return self._call(url, None, handle, stream=True)
        except SourceError as exc:
            raise FetchError(exc.reason, str(exc)) from None

    def describe(self, url: str, params: Mapping[str, Any] | None = None) -> str:
        """The full URL of a request, redacted: safe for logs, errors and manifests."""
        try:
            full = requests.Request("GET", url, params=dict(params or {})).prepare().url or url
        except requests.RequestException:
            full = url
        return redact(full)

    # -- the retry loop -----------------------------------------------------------------------------------

    def _call(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        handle: Callable[[requests.Response], T],
        *,
        stream: bool,
    ) -> T:
        attempt = 0
        while True:
            self._before_request(url, params)
            wait: float | None = None
            status: int | None = None
            try:
                resp = self.session.get(url, params=params, timeout=self.policy.timeout, stream=stream)
            except (
                requests.exceptions.InvalidURL,
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema,
            ):
                raise SourceRequestError(
                    "invalid_url", f"{self.source}: invalid URL {self.describe(url, params)}"
                ) from None
            except requests.Timeout:
                reason, problem = "timeout", f"timed out after {self.policy.timeout:g} s"
            except requests.RequestException as exc:
                reason, problem = "network", f"connection failed ({type(exc).__name__}: {redact(exc)[:200]})"
            else:
                self._note_rate_limit(resp.headers)
                status = resp.status_code
                if status in RETRY_STATUSES:
                    reason, problem = (
                        ("rate_limited" if status == 429 else f"http_{status}"),
                        f"HTTP {status}",
                    )
                    wait = self._retry_after(resp.headers)
                    reset = self._until_reset() if wait is None and status == 429 else None
                    if reset is not None and reset <= self.policy.max_wait:
                        wait = reset  # no Retry-After: the window's last known reset, when near; else backoff
                    resp.close()
                else:
                    try:
                        return handle(resp)
                    except _Retry as exc:
                        reason, problem = exc.reason, exc.problem
            where = self.describe(url, params)
            error = (
                RateLimitExhausted
                if status == 429
                else (MalformedResponse if reason == "malformed_json" else SourceRequestError)
            )
            if attempt >= self.policy.max_retries:
                raise error(
                    reason,
                    f"{self.source}: GET {where}: {problem}; gave up after {attempt + 1} attempts",
                    status,
                )
            delay = wait if wait is not None else self.policy.backoff(attempt)
            if delay > self.policy.max_wait:
                raise RateLimitExhausted(
                    "rate_limited",
                    f"{self.source}: GET {where}: {problem}; the service asks to wait {delay:.0f} s, more "
                    f"than http.max_wait={self.policy.max_wait:g} s — run again later to resume",
                    status,
                )
            attempt += 1
            self.summary.retries += 1
            logger.warning(
                "%s: GET %s: %s; retry %d/%d in %.1f s",
                self.source, where, problem, attempt, self.policy.max_retries, delay,
            )  # fmt: skip
            self.sleep(delay)

    def _before_request(self, url: str, params: Mapping[str, Any] | None) -> None:
        """Enforce the request budget, a pending rate-limit pause and the least interval; then count."""
        if self.max_requests is not None and self.sent >= self.max_requests:
            setting = "max_requests" if self.kind == "api" else "max_downloads"
            raise BudgetExhausted(
                "budget_exhausted",
                f"{self.source}: {self.sent} {self.kind} requests sent, the run's bound http.{setting}="
                f"{self.max_requests}; not sending GET {self.describe(url, params)}",
            )
        now = self.clock()
        pause = self._pause_until - now
        if pause > self.policy.max_wait:
            raise RateLimitExhausted(
                "rate_limited",
                f"{self.source}: the rate-limit quota is spent until {time.ctime(self._pause_until)} "
                f"({pause:.0f} s, more than http.max_wait={self.policy.max_wait:g} s) — "
                "run again later to resume",
            )
        if pause > 0:
            self.summary.pauses += 1
            self.summary.paused_seconds += pause
            logger.info("%s: rate limit nearly spent; pausing %.1f s", self.source, pause)
            self.sleep(pause)
        elif self._last_sent is not None and self.policy.min_interval > 0:
            gap = self._last_sent + self.policy.min_interval - now
            if gap > 0:
                self.sleep(gap)
        self._pause_until = 0.0
        self._last_sent = self.clock()
        self.sent += 1
        if self.kind == "api":
            self.summary.api_requests += 1
        else:
            self.summary.download_requests += 1

    def _note_rate_limit(self, headers: Mapping[str, str]) -> None:
        """Read ``X-Ratelimit-Remaining``/``-Reset`` (Pexels, Pixabay) or ``X-RateLimit-Available-*``
        (Openverse) and schedule a pause before the next request when few requests remain."""
        remaining = _number(headers.get("X-Ratelimit-Remaining"))
        for name, value in headers.items():
            if name.lower().startswith("x-ratelimit-available"):
                available = _number(value)
                if available is not None:
                    remaining = available if remaining is None else min(remaining, available)
        reset = _number(headers.get("X-Ratelimit-Reset"))
        if reset is not None:
            # Pexels sends a UNIX timestamp, Pixabay the seconds left in the window.
            self._reset_at = reset if reset > 1e9 else self.clock() + reset
        if remaining is None or remaining >= self.policy.min_remaining:
            return
        until_reset = self._until_reset()
        if remaining <= 0:
            pause = until_reset if until_reset is not None else self.policy.pause_seconds
        else:
            pause = self.policy.pause_seconds
            if until_reset is not None:
                pause = min(pause, until_reset)
        self._pause_until = max(self._pause_until, self.clock() + pause)

    def _until_reset(self) -> float | None:
        if self._reset_at is None:
            return None
        return max(0.0, self._reset_at - self.clock())

    def _retry_after(self, headers: Mapping[str, str]) -> float | None:
        value = headers.get("Retry-After")
        if value is None:
            return None
        seconds = _number(value)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - self.clock())

    @staticmethod
    def _snippet(resp: requests.Response) -> str:
        try:
            text = resp.text
        except requests.RequestException:  # pragma: no cover - body broken off
            text = ""
        return redact(" ".join(text.split()))[:200] or "empty body"


# ---------------------------------------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------------------------------------


def resolve_api_key(
    source: str,
    credentials: Mapping[str, Any] | None,
    *,
    credential_key: str,
    env_var: str,
    service: str,
    signup_url: str,
) -> str:
    """The key from ``credentials[credential_key]`` (conf/local/credentials.yml) or the environment.

    Fails, before any request, with a message naming both places; the key is registered for redaction.
    """
    value = (credentials or {}).get(credential_key) or os.environ.get(env_var) or ""
    key = str(value).strip()
    if not key:
        raise MissingCredentialsError(
            f"ingestion.sources.{source}: no {service} API key. Set the environment variable {env_var}, "
            f"or add `{credential_key}: <your key>` to conf/local/credentials.yml (free key: {signup_url})."
        )
    register_secret(key)
    return key


# ---------------------------------------------------------------------------------------------------------
# The shared search-source base
# ---------------------------------------------------------------------------------------------------------

#: Parameter keys of every stock-photo source (``http`` holds the :class:`HttpPolicy` fields).
SOURCE_KEYS = frozenset(
    {
        "per_page",
        "max_pages",
        "min_new_fraction",
        "image_size",
        "base_url",
        "filters",
        "http",
        "progress",
        "on_limit",
    }
)

#: Entry keys of the stock-photo kinds: their own settings and the search plan's ``variant`` (the
#: common keys are :data:`expressions_ensemble.sources.COMMON_SOURCE_KEYS`).
PARAMETER_KEYS = SOURCE_KEYS | {"variant"}

#: Consecutive failed pages after which a problem is systematic (bad base_url, changed API): fail.
MAX_CONSECUTIVE_PAGE_ERRORS = 3

ON_LIMIT = ("stop", "fail")


class HttpSearchSource(SearchSource):
    """What the stock-photo clients share: parameters, an API and a download client, the run summary.

    A subclass names its service and implements :meth:`search_request` and :meth:`parse_page`. Searching
    never raises for one broken page (it is retried, then the query ends and ``page_errors`` counts it);
    when the rate limit or the request budget is spent the walk stops cleanly (``on_limit: stop``) so the
    photos found so far are kept and a later run resumes — or raises (``on_limit: fail``).
    """

    service: ClassVar[str] = "service"
    default_base_url: ClassVar[str] = ""
    per_page_range: ClassVar[tuple[int, int]] = (1, 100)
    max_pages_limit: ClassVar[int | None] = None
    image_sizes: ClassVar[tuple[str, ...]] = ("original",)
    filter_keys: ClassVar[frozenset[str]] = frozenset()
    default_policy: ClassVar[HttpPolicy] = HttpPolicy()
    #: Where the API key goes: a request header (Pexels: ``Authorization``) or, when None, the subclass
    #: puts ``self._key`` into its query (Pixabay); the names users set it under, for error hints.
    key_header: ClassVar[str | None] = None
    key_env_var: ClassVar[str] = ""
    key_credential: ClassVar[str] = ""

    def __init__(
        self,
        name: str,
        params: Mapping[str, Any],
        api_key: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = api_key
        api_headers = {self.key_header: api_key} if self.key_header and api_key else None
        auth_hint = (
            f"Check {self.key_env_var} or `{self.key_credential}` in conf/local/credentials.yml"
            if self.key_env_var
            else ""
        )
        self.name = name
        key = f"ingestion.sources.{name}"
        allowed = PARAMETER_KEYS | COMMON_SOURCE_KEYS
        if unknown := sorted(set(map(str, params)) - allowed):
            raise ValueError(
                f"{', '.join(f'{key}.{k}' for k in unknown)}: unknown key for kind {self.service}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        lo, hi = self.per_page_range
        super().__init__(
            _int_in(params.get("per_page", hi), f"{key}.per_page", lo, hi, self.service),
            _int_in(params.get("max_pages", 1), f"{key}.max_pages", 1, self.max_pages_limit, self.service),
            min_new_fraction=_fraction(params.get("min_new_fraction", 0.1), f"{key}.min_new_fraction"),
            progress=bool(params.get("progress", True)),
        )
        self.image_size = _choice(
            params.get("image_size", self.image_sizes[0]), f"{key}.image_size", self.image_sizes
        )
        self.on_limit = _choice(params.get("on_limit", "stop"), f"{key}.on_limit", ON_LIMIT)
        self.base_url = str(params.get("base_url") or self.default_base_url).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"{key}.base_url: expected an http(s) URL, got {self.base_url!r}")
        filters = params.get("filters") or {}
        allowed = ", ".join(sorted(self.filter_keys))
        if not isinstance(filters, Mapping):
            raise ValueError(f"{key}.filters: expected a mapping of filter to value (allowed: {allowed})")
        if unknown := sorted(set(filters) - self.filter_keys):
            raise ValueError(f"{key}.filters: unknown filter(s) {unknown!r}; allowed: {allowed}")
        self.filters = {k: _query_value(v) for k, v in filters.items()}
        self.policy = HttpPolicy.from_params(params.get("http"), f"{key}.http", self.default_policy)
        self.summary = RunSummary(name)
        common = {"sleep": sleep, "clock": clock}
        self.api = HttpClient(
            name, self.policy, self.summary, headers=api_headers, auth_hint=auth_hint, **common
        )
        self.downloads = HttpClient(name, self.policy, self.summary, kind="download", **common)
        self._consecutive_errors = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, per_page={self.per_page}, max_pages={self.max_pages})"

    # -- subclass interface -------------------------------------------------------------------------------

    @abstractmethod
    def search_request(self, query: Query, page: int) -> tuple[str, dict[str, Any]]:
        """URL and query parameters of one search page."""

    @abstractmethod
    def parse_page(self, payload: Any, query: Query, page: int) -> SearchPage:
        """Hits of one page (via :meth:`make_hit`); KeyError/TypeError/ValueError on a foreign schema."""

    # -- shared behaviour ---------------------------------------------------------------------------------

    def search(self, query: Query, page: int) -> SearchPage:
        if self.summary.stopped:
            return SearchPage(hits=[], has_next=False)
        url, params = self.search_request(query, page)
        try:
            payload = self.api.get_json(url, params)
            try:
                result = self.parse_page(payload, query, page)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise MalformedResponse(
                    "malformed_page",
                    f"{self.name}: unexpected answer to {self.api.describe(url, params)} ({exc!r})",
                ) from None
        except (RateLimitExhausted, BudgetExhausted) as exc:
            if self.on_limit == "fail":
                raise
            self.summary.stopped = f"{exc.reason}: {exc}"
            logger.warning("%s: stopping the search walk, photos found so far are kept: %s", self.name, exc)
            return SearchPage(hits=[], has_next=False)
        except SourceAuthError:
            raise
        except (MalformedResponse, SourceRequestError) as exc:
            self.summary.page_errors += 1
            self._consecutive_errors += 1
            if self._consecutive_errors >= MAX_CONSECUTIVE_PAGE_ERRORS:
                raise SourceRequestError(
                    exc.reason,
                    f"{self.name}: {self._consecutive_errors} pages in a row failed (check base_url "
                    f"{self.base_url!r} and the service's status); last: {exc}",
                    exc.status,
                ) from None
            logger.warning(
                "%s: page %d of %r failed, the query ends here: %s", self.name, page, query.query, exc
            )
            return SearchPage(hits=[], has_next=False)
        self._consecutive_errors = 0
        self.summary.pages += 1
        self.summary.hits += len(result.hits)
        return result

    def query_done(self, query: Query, pages: int, reason: str) -> None:
        if reason == "few_new":
            self.summary.early_stops += 1
        super().query_done(query, pages, reason)

    def make_hit(
        self,
        *,
        source_id: object,
        reference: str,
        image_url: str,
        query: Query,
        page: int,
        index: int,
        tags: Iterable[str] = (),
        attribution: str = "",
        license: str = "",
    ) -> PhotoHit:
        """A hit whose ``fetch`` downloads and verifies ``image_url``; ``index`` counts from 0 in the page."""
        if not image_url:
            raise ValueError(f"no image URL for {source_id!r}")
        return PhotoHit(
            source_id=str(source_id),
            reference=redact(reference),
            query=query.query,
            keyword=query.keyword,
            weak_label=query.weak_label,
            page=page,
            rank=(page - 1) * self.per_page + index,  # 0-based position in the search, as the simulator
            fetch=partial(self.fetch_image, str(image_url)),
            tags=tuple(t for t in (str(t).strip() for t in tags) if t),
            attribution=redact(attribution),
            license=license,
            raw_label=query.weak_label,
        )

    def fetch_image(self, url: str) -> bytes:
        """Download and verify one image; count it as kept or rejected (with the reason) in the summary."""
        try:
            data = self.downloads.get_image(url)
        except FetchError as exc:
            self.summary.rejected[exc.reason] += 1
            logger.info("%s: rejected %s", self.name, exc)
            raise
        self.summary.images_kept += 1
        return data

    def close(self) -> None:
        """Release the HTTP connections and log the run summary."""
        logger.info("%s", self.summary)
        self.api.close()
        self.downloads.close()


def _int_in(value: Any, key: str, lo: int, hi: int | None, service: str) -> int:
    """An integer within [lo, hi]; the error names the key, the allowed range and whose limit it is."""
    try:
        number = int(value)
        ok = number == float(value) and number >= lo and (hi is None or number <= hi)
    except (TypeError, ValueError):
        number, ok = 0, False
    if not ok:
        allowed = (
            f"an integer from {lo} to {hi} ({service}'s limit)" if hi is not None else f"an integer >= {lo}"
        )
        raise ValueError(f"{key}: expected {allowed}, got {value!r}")
    return number


def _fraction(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{key}: expected a number from 0 to 1 (0 = never stop early), got {value!r}")
    return number


def _choice(value: Any, key: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{key}: unknown value {value!r}; allowed: {', '.join(allowed)}")
    return str(value)


def _query_value(value: Any) -> str:
    """Query-string form of a filter value (booleans as the APIs spell them, lists comma-joined)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
