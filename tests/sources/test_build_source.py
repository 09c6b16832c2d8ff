"""The source registry: kinds, and entry keys checked before a source is built."""

from __future__ import annotations

import re

import pytest

from expressions_ensemble.sources import (
    COMMON_SOURCE_KEYS,
    allowed_source_keys,
    build_source,
    check_source_keys,
)
from expressions_ensemble.sources.pexels import create_source as create_pexels

ENTRIES = {
    "folder": {"path": "."},
    "simulator": {"variant": "v1", "seed": 1, "per_page": 2, "max_pages": 1},
    "pexels": {"variant": "v1", "per_page": 10},
    "pixabay": {"variant": "v1", "per_page": 10},
    "openverse": {"variant": "v1", "per_page": 10},
}


@pytest.mark.parametrize("kind", sorted(ENTRIES))
def test_every_kind_rejects_an_unknown_key_naming_its_path_and_the_allowed_keys(kind: str) -> None:
    entry = {"kind": kind, **ENTRIES[kind]}
    check_source_keys("my_photos", entry)  # the entry as written is fine
    allowed = allowed_source_keys("my_photos", entry)
    assert allowed >= COMMON_SOURCE_KEYS and set(entry) <= allowed
    message = rf"^ingestion\.sources\.my_photos\.labels_cvs: unknown key for kind '{kind}'; allowed: "
    with pytest.raises(ValueError, match=message + re.escape(", ".join(sorted(allowed))) + "$"):
        check_source_keys("my_photos", {**entry, "labels_cvs": "labels.csv"})
    # build_source checks before it builds (no key, no folder needed to fail)
    with pytest.raises(ValueError, match=message):
        build_source("my_photos", {**entry, "labels_cvs": "labels.csv"}, {})


def test_every_unknown_key_is_named_and_kind_is_checked_first() -> None:
    with pytest.raises(ValueError, match=r"^ingestion\.sources\.m\.a, ingestion\.sources\.m\.b: unknown key"):
        check_source_keys("m", {"kind": "folder", "path": ".", "b": 1, "a": 2})
    with pytest.raises(
        ValueError, match=r"^ingestion\.sources\.m\.kind: unknown source kind 'flickr'; allowed"
    ):
        check_source_keys("m", {"kind": "flickr", "path": "."})
    with pytest.raises(ValueError, match=r"^ingestion\.sources\.m: expected a mapping"):
        check_source_keys("m", ["kind", "folder"])


def test_a_stock_photo_client_built_directly_rejects_unknown_keys() -> None:
    with pytest.raises(
        ValueError, match=r"^ingestion\.sources\.pexels_v1\.per_pag: unknown key for kind Pexels"
    ):
        create_pexels("pexels_v1", {"kind": "pexels", "per_pag": 10}, {"pexels_api_key": "test-key-123456"})


def test_simulator_service_options_are_checked() -> None:
    entry = {"kind": "simulator", **ENTRIES["simulator"]}
    with pytest.raises(
        ValueError, match=r"^ingestion\.sources\.s\.service: unknown key\(s\) \['dup_share'\]; allowed: "
    ):
        build_source("s", {**entry, "service": {"dup_share": 0.1}})
    assert build_source("s", {**entry, "service": {"duplicate_share": 0.1}}).name == "s"
