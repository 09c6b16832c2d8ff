import io

import numpy as np
import pytest
from PIL import Image

from expressions_ensemble.datasets import PhotoFolderDataset
from expressions_ensemble.pipelines.ingestion.nodes import (
    build_photo_manifest,
    fetch_photos,
    image_id_for,
    plan_searches,
)

INGESTION = {
    "keyword_variants": {
        "v1": {"template": "{keyword} face", "keywords": {"happy": ["happy"], "sad": ["sad"]}}
    },
}


def _jpeg(seed: int, size=(40, 30)) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    files = {
        "happy/a.jpg": _jpeg(1),
        "happy/a_copy.jpg": _jpeg(1),  # exact duplicate, same label
        "sad/a_sad.jpg": _jpeg(1),  # exact duplicate, other label
        "sad/b.jpg": _jpeg(2),
        "angry/truncated.jpg": _jpeg(3, (300, 300))[:4000],
        "angry/zero.jpg": b"",
        "neutral/page.jpg": b"<html>error</html>",
        "contempt/c.jpg": _jpeg(4),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _run(folder, existing=None, policy="first"):
    source = {"kind": "folder", "path": str(folder)}
    plan = plan_searches("mine", source, INGESTION)
    new, hits = fetch_photos("mine", plan, source, existing or {}, {})
    return new, build_photo_manifest(hits, {**INGESTION, "duplicate_label_policy": policy})


def test_every_hit_has_an_outcome(folder):
    new, manifest = _run(folder)
    outcome = dict(zip(manifest["image_id"], manifest["outcome"], strict=True))
    assert outcome == {
        "angry_truncated.jpg": "truncated",
        "angry_zero.jpg": "empty_file",
        "contempt_c.jpg": "unknown_label",
        "happy_a.jpg": "kept",
        "happy_a_copy.jpg": "duplicate",
        "neutral_page.jpg": "not_an_image",
        "sad_a_sad.jpg": "duplicate",
        "sad_b.jpg": "kept",
    }
    kept = manifest[manifest["outcome"] == "kept"]
    assert kept["sha256"].is_unique and set(kept["label"]) == {"happy", "sad"}
    assert manifest.set_index("image_id").at["happy_a_copy.jpg", "duplicate_of"] == "happy_a.jpg"
    assert manifest.set_index("image_id").at["happy_a.jpg", "width"] == 40
    # only decodable photos are stored, each under its image id
    assert sorted(new) == ["contempt_c.jpg", "happy_a.jpg", "happy_a_copy.jpg", "sad_a_sad.jpg", "sad_b.jpg"]


@pytest.mark.parametrize(
    ("policy", "label", "outcome"), [("first", "happy", "kept"), ("drop", None, "label_conflict")]
)
def test_conflicting_labels_policy(folder, policy, label, outcome):
    _, manifest = _run(folder, policy=policy)
    rows = manifest[manifest["sha256"] == manifest.set_index("image_id").at["happy_a.jpg", "sha256"]]
    assert rows.iloc[0]["outcome"] == outcome and rows.iloc[0]["label"] == label


def test_majority_policy(folder):
    (folder / "sad" / "a_sad2.jpg").write_bytes(_jpeg(1))  # now sad 2 : happy 2 -> tie -> first seen
    (folder / "sad" / "a_sad3.jpg").write_bytes(_jpeg(1))  # sad 3 : happy 2
    _, manifest = _run(folder, policy="majority")
    sha = manifest.set_index("image_id").at["happy_a.jpg", "sha256"]
    kept = manifest[(manifest["outcome"] == "kept") & (manifest["sha256"] == sha)]
    assert kept["label"].tolist() == ["sad"]


def test_bad_policy_names_key_and_values(folder):
    with pytest.raises(
        ValueError, match="duplicate_label_policy: unknown value 'vote'; allowed: first, majority, drop"
    ):
        _run(folder, policy="vote")


def test_rerun_skips_stored_photos(folder, tmp_path):
    store = PhotoFolderDataset(str(tmp_path / "raw"))
    new, _ = _run(folder)
    store.save(new)
    (folder / "happy" / "a.jpg").write_bytes(b"gone")  # a re-run does not fetch it again
    new2, manifest = _run(folder, existing=store.load())
    assert new2 == {}
    assert manifest.set_index("image_id").at["happy_a.jpg", "outcome"] == "kept"


def test_image_ids_are_file_safe():
    assert image_id_for("a/b c?.jpg") == "a_b_c_.jpg"
    assert image_id_for("..") != ""
