"""The ingestion nodes with a real client against the fake Pexels: keys, reasons and a re-run."""

from __future__ import annotations

import logging

import pytest

from expressions_ensemble.datasets import PhotoFolderDataset
from expressions_ensemble.pipelines.ingestion.nodes import build_photo_manifest, fetch_photos, plan_searches

from .fake_apis import KEY_PEXELS, FakeApis, Reply, assert_no_secret

INGESTION = {
    "keyword_variants": {
        "v1": {"template": "{keyword} face", "keywords": {"angry": ["angry"], "happy": ["happy"]}}
    }
}


def test_pexels_through_the_ingestion_nodes(
    apis: FakeApis, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    source = {
        "kind": "pexels",
        "variant": "v1",
        "per_page": 10,
        "max_pages": 3,
        "base_url": f"{apis.url}/pexels/v1",
    }
    source["http"] = {"max_retries": 0, "timeout": 2}
    credentials = {"pexels_api_key": KEY_PEXELS}
    apis.queue("/img/3.jpg", Reply(404, b"gone", "text/plain"))
    caplog.set_level(logging.DEBUG)
    plan = plan_searches("pexels_v1", source, INGESTION)
    new, hits = fetch_photos("pexels_v1", plan, source, {}, credentials)
    manifest = build_photo_manifest("pexels_v1", hits, source, INGESTION)

    # "angry face" finds 25 photos, "happy face" 20 of which 5 were already found under "angry face"
    assert len(manifest) == 45
    outcomes = manifest["outcome"].value_counts().to_dict()
    assert outcomes == {"kept": 39, "duplicate": 5, "http_404": 1}
    assert manifest.loc[manifest["outcome"] == "http_404", "reference"].str.contains("pexels").all()
    assert set(manifest.loc[manifest["outcome"] == "kept", "label"]) == {"angry", "happy"}
    assert manifest["attribution"].str.contains("Pexels").all()
    assert_no_secret(KEY_PEXELS, [manifest.to_csv(), caplog.text, *map(str, new)])

    # a re-run with the photos stored downloads no image again
    store = PhotoFolderDataset(str(tmp_path / "raw"))
    store.save(new)
    n_downloads = len(apis.requests_to("/img/"))
    _, hits2 = fetch_photos("pexels_v1", plan, source, store.load(), credentials)
    assert len(apis.requests_to("/img/")) == n_downloads + 1  # only the photo that failed is tried again
    assert len(hits2) == 45
