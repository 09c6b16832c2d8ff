"""Fixtures of the stock-photo client tests: the fake APIs on 127.0.0.1, a fake clock, a loopback guard."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from .fake_apis import FakeApis, FakeTime

# -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_apis() -> Iterator[FakeApis]:
    apis = FakeApis()
    yield apis
    apis.close()


@pytest.fixture
def apis(fake_apis: FakeApis) -> FakeApis:
    """The fake services with an empty script and request log."""
    fake_apis.reset()
    return fake_apis


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test whose code connects anywhere but 127.0.0.1 / ::1; and keep real keys out."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
            raise AssertionError(f"a test tried to reach {address!r}; only the loopback address is allowed")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    for var in (
        "PEXELS_API_KEY",
        "PIXABAY_API_KEY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ):
        monkeypatch.delenv(var, raising=False)
