"""A local stand-in for the Pexels, Pixabay and Openverse APIs: stdlib ``http.server`` on 127.0.0.1.

The server answers the three search endpoints as their documentation describes (fields, paging, key
checks, limits) and serves real photos from ``../shared/data/muxspace/images`` (``EXE_SHARED_DATA``
overrides ``../shared/data``), or generated JPEGs where that folder is absent. Tests script faults per
path (429 with ``Retry-After``, 500, slow answers, truncated bodies, HTML pages …) with ``FakeApis.queue``.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from support import shared_data_dir  # $EXE_SHARED_DATA or ../shared/data

KEY_PEXELS = "pexels-SECRET-0123456789abcdef"
# Characters that URL-encoding changes: redaction must also catch the encoded forms.
KEY_PIXABAY = "pixabay+SECRET/0123=456789"

N_PHOTOS = 60

#: What each query finds (photo ids, in result order), shared by the three fake services.
CATALOGUE: dict[str, list[int]] = {
    "angry face": list(range(1, 26)),  # 25 results: pages of 10, 10, 5
    "happy face": list(range(21, 41)),  # shares 21..25 with "angry face"
    # the bare keywords of the v2 template (tests/test_env_runs.py searches angry and happy only)
    "angry": list(range(41, 56)),
    "happy": list(range(1, 16)),
    "stale": [*range(1, 11), *range(1, 11), *range(41, 51)],  # page 2 brings nothing new
    "repeats": [*range(1, 11), *range(1, 10), 51, *range(52, 56)],  # page 2 brings exactly 10 % new
    "many": list(range(1000, 1900)),  # 900 results (Pixabay pages through 500 of them)
}


def load_photos(n: int = N_PHOTOS) -> tuple[list[bytes], str]:
    """``n`` JPEGs: real photos when the shared folder has enough of them, otherwise generated ones."""
    folder = shared_data_dir() / "muxspace" / "images"
    files = sorted(folder.glob("*.jpg"))[:n] if folder.is_dir() else []
    if len(files) == n:
        return [f.read_bytes() for f in files], "muxspace"
    photos = []
    for i in range(n):
        img = Image.new("RGB", (96, 96), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
        img.paste((255 - i * 4 % 256, 128, i * 4 % 256), (i % 48, i % 48, 48 + i % 48, 48 + i % 48))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        photos.append(buf.getvalue())
    return photos, "generated"


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a client with a shorter timeout times out)
    truncate_at: int | None = None  # send only this many bytes, though Content-Length says all
    send_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    passthrough: bool = False  # answer as the service normally would (to script "fine, then broken")


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class FakeApis:
    """State of the fake services; the handler below reads it."""

    def __init__(self) -> None:
        self.photos, self.photo_origin = load_photos()
        self.lock = threading.Lock()
        self.reset()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # clients that hung up early
        self.httpd.apis = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def reset(self) -> None:
        with self.lock:
            self.scripts: dict[str, deque[Reply]] = {}
            self.extra_headers: dict[str, dict[str, str]] = {}
            self.log: list[Seen] = []

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies`` (then normally again)."""
        with self.lock:
            self.scripts.setdefault(path, deque()).extend(replies)

    def requests_to(self, prefix: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.log if seen.path.startswith(prefix)]

    def photo(self, photo_id: int) -> bytes:
        return self.photos[(photo_id - 1) % len(self.photos)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeApis/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    @property
    def apis(self) -> FakeApis:
        return self.server.apis  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.apis.lock:
            self.apis.log.append(Seen(parts.path, query, dict(self.headers.items())))
            script = self.apis.scripts.get(parts.path)
            reply = script.popleft() if script else None
            extra = dict(self.apis.extra_headers.get(parts.path, {}))
        if reply is None or reply.passthrough:
            reply = self.route(parts.path, query)
        reply.headers = {**reply.headers, **extra}  # a test's extra headers override the service's
        self.answer(reply)

    def answer(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        if reply.send_length:
            self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        body = reply.body if reply.truncate_at is None else reply.body[: reply.truncate_at]
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    # -- the three services -----------------------------------------------------------------------------

    def route(self, path: str, q: dict[str, str]) -> Reply:
        if path == "/pexels/v1/search":
            return self.pexels(q)
        if path == "/pixabay/api/":
            return self.pixabay(q)
        if path == "/openverse/v1/images/":
            return self.openverse(q)
        if path.startswith(("/img/", "/thumb/")) and path.endswith(".jpg"):
            stem = path.rsplit("/", 1)[1][: -len(".jpg")]
            if stem.isdigit():
                return Reply(body=self.apis.photo(int(stem)), content_type="image/jpeg")
        if path == "/echo.json":
            return Reply(body=json.dumps({"ok": True, "query": q}).encode())
        return Reply(404, b"<html><body>Not found</body></html>", "text/html")

    @staticmethod
    def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return Reply(status, json.dumps(payload).encode(), "application/json", headers or {})

    def _page(self, q: dict[str, str], query_key: str, size_key: str) -> tuple[list[int], int, int, int]:
        ids = CATALOGUE.get(q.get(query_key, ""), [])
        page, size = int(q.get("page", 1)), int(q.get(size_key, 15))
        return ids[(page - 1) * size : page * size], len(ids), page, size

    def pexels(self, q: dict[str, str]) -> Reply:
        if self.headers.get("Authorization") != KEY_PEXELS:
            return self._json({"error": "Unauthorized"}, 401)
        if not 1 <= int(q.get("per_page", 15)) <= 80:
            return self._json({"error": "per_page out of range"}, 400)
        ids, total, page, size = self._page(q, "query", "per_page")
        base = self.apis.url
        photos = [
            {
                "id": i,
                "width": 350,
                "height": 350,
                "url": f"https://www.pexels.com/photo/photo-{i}/",
                "photographer": f"Photographer {i}",
                "photographer_url": f"https://www.pexels.com/@p{i}",
                "alt": f"Person {i}",
                "src": {
                    s: f"{base}/img/{i}.jpg" for s in ("original", "large2x", "large", "medium", "small")
                },
            }
            for i in ids
        ]
        payload: dict[str, Any] = {"page": page, "per_page": size, "photos": photos, "total_results": total}
        if page * size < total:
            payload["next_page"] = f"{base}/pexels/v1/search/?page={page + 1}&per_page={size}"
        if page > 1:
            payload["prev_page"] = f"{base}/pexels/v1/search/?page={page - 1}&per_page={size}"
        limits = {"X-Ratelimit-Limit": "20000", "X-Ratelimit-Remaining": "19000"}
        limits["X-Ratelimit-Reset"] = str(int(time.time()) + 86400)
        return self._json(payload, headers=limits)

    def pixabay(self, q: dict[str, str]) -> Reply:
        def error(text: str, status: int = 400) -> Reply:
            return Reply(status, f"[ERROR {status}] {text}".encode(), "text/plain")

        if q.get("key") != KEY_PIXABAY:
            return error("Invalid or missing API key.")
        if not 3 <= int(q.get("per_page", 20)) <= 200:
            return error('"per_page" is out of valid range.')
        if q.get("image_type") != "photo":
            return error("this fake serves image_type=photo only")
        ids, total, page, size = self._page(q, "q", "per_page")
        total_hits = min(total, 500)
        if (page - 1) * size >= max(total_hits, 1) and page > 1:
            return error('"page" is out of valid range.')
        base = self.apis.url
        hits = [
            {
                "id": i,
                "pageURL": f"https://pixabay.com/photos/face-{i}/",
                "type": "photo",
                "tags": "face, emotion, portrait",
                "previewURL": f"{base}/thumb/{i}.jpg",
                "webformatURL": f"{base}/img/{i}.jpg",
                "largeImageURL": f"{base}/img/{i}.jpg",
                "imageWidth": 350,
                "imageHeight": 350,
                "user_id": 1000 + i,
                "user": f"user{i}",
            }
            for i in ids[: max(0, total_hits - (page - 1) * size)]  # only the first totalHits are served
        ]
        limits = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "60"}
        return self._json({"total": total, "totalHits": total_hits, "hits": hits}, headers=limits)

    def openverse(self, q: dict[str, str]) -> Reply:
        size = int(q.get("page_size", 20))
        if size > 20 and "Authorization" not in self.headers:
            return self._json({"detail": "Ensure this value is less than or equal to 20."}, 401)
        if int(q.get("page", 1)) > 20:
            return self._json({"detail": "Invalid page."}, 400)
        ids, total, page, size = self._page(q, "q", "page_size")
        base = self.apis.url
        results = [
            {
                "id": str(uuid.UUID(int=i)),
                "title": f"Face {i}",
                "url": f"{base}/img/{i}.jpg",
                "thumbnail": f"{base}/thumb/{i}.jpg",
                "creator": f"Creator {i}",
                "creator_url": f"https://www.flickr.com/photos/c{i}",
                "license": "by-sa",
                "license_version": "2.0",
                "license_url": "https://creativecommons.org/licenses/by-sa/2.0/",
                "provider": "flickr",
                "source": "flickr",
                "foreign_landing_url": f"https://www.flickr.com/photos/c{i}/{i}",
                "attribution": f'"Face {i}" by Creator {i} is licensed under CC BY-SA 2.0.',
                "tags": [{"name": "face", "accuracy": None}, {"name": "portrait", "accuracy": 0.9}],
            }
            for i in ids
        ]
        payload = {
            "result_count": total,
            "page_count": math.ceil(total / size) if total else 0,
            "page_size": size,
            "page": page,
            "results": results,
        }
        limits = {
            "X-RateLimit-Limit-anon_burst": "20/min",
            "X-RateLimit-Available-anon_burst": "19",
            "X-RateLimit-Limit-anon_sustained": "200/day",
            "X-RateLimit-Available-anon_sustained": "199",
        }
        return self._json(payload, headers=limits)


class FakeTime:
    """A clock that moves only when slept on, so backoffs and pauses cost no real time."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds

    def time(self) -> float:
        return self.now


def secret_forms(secret: str) -> set[str]:
    """The ways a key can appear in text: as is, and URL-encoded."""
    from urllib.parse import quote, quote_plus

    return {secret, quote(secret, safe=""), quote_plus(secret)}


def assert_no_secret(secret: str, texts: list[str]) -> None:
    """No text (log line, exception, reference …) holds the key in any form."""
    for text in texts:
        for form in secret_forms(secret):
            assert form not in text, f"key leaked into: {text[:300]!r}"
