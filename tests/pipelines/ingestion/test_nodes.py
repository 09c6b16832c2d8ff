import hashlib
import io
import re

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from PIL import Image

from expressions_ensemble.datasets import PhotoFolderDataset
from expressions_ensemble.pipelines.ingestion import nodes
from expressions_ensemble.pipelines.ingestion.nodes import (
    build_photo_manifest,
    check_ingestion_parameters,
    drop_classes,
    fetch_photos,
    image_id_for,
    plan_searches,
)
from support import REPO_ROOT

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


def _run(folder, existing=None, policy="first", **extra):
    source = {"kind": "folder", "path": str(folder), **extra}
    ingestion = {**INGESTION, "duplicate_label_policy": policy}
    plan = plan_searches("mine", source, {**ingestion, "sources": {"mine": source}})
    new, hits = fetch_photos("mine", plan, source, existing or {}, {})
    return new, build_photo_manifest("mine", hits, source, ingestion)


def _by_file(manifest, column="outcome"):
    """``column`` per source file (the folder reference ends with the file's path)."""
    files = manifest["reference"].str.removeprefix("folder://mine/")
    return dict(zip(files, manifest[column], strict=True))


def test_every_hit_has_an_outcome(folder):
    new, manifest = _run(folder)
    assert _by_file(manifest) == {
        "angry/truncated.jpg": "truncated",
        "angry/zero.jpg": "empty_file",
        "contempt/c.jpg": "unknown_label",
        "happy/a.jpg": "kept",
        "happy/a_copy.jpg": "duplicate",
        "neutral/page.jpg": "not_an_image",
        "sad/a_sad.jpg": "duplicate",
        "sad/b.jpg": "kept",
    }
    ids = _by_file(manifest, "image_id")
    kept = manifest[manifest["outcome"] == "kept"]
    assert kept["sha256"].is_unique and set(kept["label"]) == {"happy", "sad"}
    rows = manifest.set_index("image_id")
    assert rows.at[ids["happy/a_copy.jpg"], "duplicate_of"] == ids["happy/a.jpg"]
    assert rows.at[ids["happy/a.jpg"], "width"] == 40
    # only decodable photos are stored, each under its image id
    stored = [
        ids[f] for f in ("contempt/c.jpg", "happy/a.jpg", "happy/a_copy.jpg", "sad/a_sad.jpg", "sad/b.jpg")
    ]
    assert sorted(new) == sorted(stored)


@pytest.mark.parametrize(
    ("policy", "label", "outcome"), [("first", "happy", "kept"), ("drop", None, "label_conflict")]
)
def test_conflicting_labels_policy(folder, policy, label, outcome):
    _, manifest = _run(folder, policy=policy)
    rows = manifest[manifest["sha256"] == _by_file(manifest, "sha256")["happy/a.jpg"]]
    assert rows.iloc[0]["outcome"] == outcome and rows.iloc[0]["label"] == label


def test_majority_policy(folder):
    (folder / "sad" / "a_sad2.jpg").write_bytes(_jpeg(1))  # now sad 2 : happy 2 -> tie -> first seen
    (folder / "sad" / "a_sad3.jpg").write_bytes(_jpeg(1))  # sad 3 : happy 2
    _, manifest = _run(folder, policy="majority")
    sha = _by_file(manifest, "sha256")["happy/a.jpg"]
    kept = manifest[(manifest["outcome"] == "kept") & (manifest["sha256"] == sha)]
    assert kept["label"].tolist() == ["sad"]


def test_bad_policy_names_key_and_values(folder):
    with pytest.raises(
        ValueError, match="duplicate_label_policy: unknown value 'vote'; allowed: first, majority, drop"
    ):
        _run(folder, policy="vote")


def test_rerun_reads_a_folder_again_and_writes_only_what_changed(folder, tmp_path):
    store = PhotoFolderDataset(str(tmp_path / "raw"))
    new, _ = _run(folder)
    store.save(new)
    assert _run(folder, existing=store.load())[0] == {}  # nothing changed: nothing to write
    (folder / "happy" / "a.jpg").write_bytes(_jpeg(9))  # replaced: read again, never the stale copy
    new2, manifest = _run(folder, existing=store.load())
    image_id = _by_file(manifest, "image_id")["happy/a.jpg"]
    assert list(new2) == [image_id] and new2[image_id] == _jpeg(9)
    assert _by_file(manifest)["happy/a.jpg"] == "kept"


def test_a_folder_run_after_the_old_ids_reads_every_file(folder, tmp_path):
    """Photos stored under the ids of earlier releases (names stripped to ASCII) do not stand in for
    the files: each file is read and stored under its new id."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "happy_a.jpg").write_bytes(_jpeg(7))  # the old id of happy/a.jpg, with other bytes
    (raw / "t_1.jpg").write_bytes(_jpeg(7))  # what an old run stored for "été 1.jpg" ...
    (folder / "t_1.jpg").write_bytes(_jpeg(8))  # ... where a file now has that very (safe) name
    new, manifest = _run(folder, existing=PhotoFolderDataset(str(raw)).load())
    image_id = _by_file(manifest, "image_id")["happy/a.jpg"]
    assert new[image_id] == _jpeg(1)
    assert manifest.set_index("image_id").at[image_id, "sha256"] == hashlib.sha256(_jpeg(1)).hexdigest()
    assert new["t_1.jpg"] == _jpeg(8)  # read from the folder, and the stale copy rewritten


def test_image_ids_are_file_safe_unique_and_stable():
    names = [
        "été 1.jpg",
        "ütü 1.jpg",
        "a b.jpg",
        "a_b.jpg",
        "笑顔.jpg",
        "怒り.jpg",
        "悲しみ.jpg",
        "a/b c?.jpg",
        "..",
    ]
    ids = [image_id_for(n) for n in names]
    assert len(set(ids)) == len(names)
    assert ids == [image_id_for(n) for n in names]  # stable
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", i) for i in ids)
    assert image_id_for("a_b.jpg") == "a_b.jpg"  # a safe id (a service's, or stored earlier) is kept
    assert image_id_for("12345") == "12345"
    assert re.fullmatch(r"ete_1-[0-9a-f]{12}\.jpg", ids[0])
    assert re.fullmatch(r"[0-9a-f]{12}\.jpg", ids[4])
    assert image_id_for("x" * 500).startswith("x" * 80 + "-")


def test_a_folder_of_names_that_strip_alike_keeps_every_photo(tmp_path):
    root = tmp_path / "photos"
    names = ["été 1.jpg", "ütü 1.jpg", "t_1.jpg", "a b.jpg", "a_b.jpg", "笑顔.jpg", "怒り.jpg", "悲しみ.jpg"]
    for i, name in enumerate(names):
        (root / "happy").mkdir(parents=True, exist_ok=True)
        (root / "happy" / name).write_bytes(_jpeg(100 + i))
    new, manifest = _run(root)
    assert len(manifest) == len(names) and manifest["image_id"].is_unique
    assert _by_file(manifest) == {f"happy/{n}": "kept" for n in names}
    # every file was read: its own bytes, under its own id
    sha = _by_file(manifest, "sha256")
    assert all(sha[f"happy/{n}"] == hashlib.sha256(_jpeg(100 + i)).hexdigest() for i, n in enumerate(names))
    assert sorted(new) == sorted(manifest["path"])


def test_two_source_ids_on_one_image_id_fail(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    for name in ("a.jpg", "b.jpg"):
        (root / "happy").mkdir(parents=True, exist_ok=True)
        (root / "happy" / name).write_bytes(_jpeg(1))
    monkeypatch.setattr(nodes, "image_id_for", lambda source_id: "same.jpg")
    with pytest.raises(ValueError, match=r"'happy/a.jpg' and 'happy/b.jpg' get the same image id 'same.jpg'"):
        _run(root)


def test_dropped_classes_stay_in_the_manifest(folder):
    (folder / "neutral" / "n.jpg").write_bytes(_jpeg(5))
    (folder / "neutral" / "a_neutral.jpg").write_bytes(_jpeg(2))  # a copy of sad/b.jpg
    _, manifest = _run(folder, drop_classes=["neutral", "sadness"])
    outcome = _by_file(manifest)
    assert outcome["neutral/n.jpg"] == "class_dropped"
    assert outcome["sad/b.jpg"] == "class_dropped" and outcome["neutral/a_neutral.jpg"] == "class_dropped"
    assert outcome["neutral/page.jpg"] == "not_an_image"  # a broken file keeps its own outcome
    assert outcome["happy/a.jpg"] == "kept" and outcome["happy/a_copy.jpg"] == "duplicate"
    assert outcome["sad/a_sad.jpg"] == "class_dropped"  # a copy of the kept happy/a.jpg, under sad
    assert set(manifest.loc[manifest["outcome"] == "kept", "label"]) == {"happy"}


def test_drop_classes_ingestion_wide_with_a_source_override(folder):
    source = {"kind": "folder", "path": str(folder)}
    ingestion = {**INGESTION, "drop_classes": ["happy"], "sources": {"mine": source}}
    assert drop_classes("mine", source, ingestion) == {"happy"}
    assert drop_classes("mine", {**source, "drop_classes": []}, ingestion) == frozenset()
    assert drop_classes("mine", source, INGESTION) == frozenset()
    with pytest.raises(ValueError, match=r"^ingestion.sources.mine.drop_classes: unknown emotion 'bored'"):
        drop_classes("mine", {**source, "drop_classes": ["bored"]}, ingestion)
    with pytest.raises(
        ValueError, match=r"^ingestion.drop_classes: expected a list of emotions, got 'happy'"
    ):
        plan_searches("mine", source, {**ingestion, "drop_classes": "happy"})


def test_unknown_ingestion_keys_fail_before_anything_is_read(folder):
    source = {"kind": "folder", "path": str(folder)}
    with pytest.raises(ValueError, match=r"^ingestion.keyword_variant: unknown key; allowed: drop_classes, "):
        plan_searches("mine", source, {"keyword_variant": {}, "sources": {"mine": source}})
    typo = {"kind": "folder", "path": str(folder), "labels_cvs": "labels.csv"}
    with pytest.raises(
        ValueError, match=r"^ingestion.sources.mine.labels_cvs: unknown key for kind 'folder'"
    ):
        plan_searches("mine", typo, {**INGESTION, "sources": {"mine": typo}})
    # a typo in another source's entry fails this source's run too; a disabled entry needs no kind
    other = {"kind": "simulator", "variant": "v1", "seed": 1, "per_page": 2, "max_pages": 1, "sed": 2}
    sources = {"mine": source, "other": other, "off": {"enabled": False}}
    with pytest.raises(ValueError, match=r"^ingestion.sources.other.sed: unknown key"):
        plan_searches("mine", source, {**INGESTION, "sources": sources})
    del other["sed"]
    assert plan_searches("mine", source, {**INGESTION, "sources": sources}).empty


@pytest.mark.parametrize(
    "env", sorted(p.name for p in (REPO_ROOT / "conf").iterdir() if p.is_dir() and p.name != "local")
)
def test_every_shipped_env_has_valid_ingestion_parameters(env):
    loader = OmegaConfigLoader(
        str(REPO_ROOT / "conf"), base_env="base", default_run_env=env, merge_strategy={"parameters": "soft"}
    )
    check_ingestion_parameters(loader["parameters"]["ingestion"])


WEB_SEARCHES = ["bing_multi", "google_a", "google_b", "google_c1", "google_c2", "stock_thumbs"]


def _web_ingestion():
    loader = OmegaConfigLoader(
        str(REPO_ROOT / "conf"), base_env="base", default_run_env="web", merge_strategy={"parameters": "soft"}
    )
    return loader["parameters"]["ingestion"]


def test_web_env_is_one_folder_source_per_search():
    ingestion = _web_ingestion()
    enabled = {n: s for n, s in ingestion["sources"].items() if s.get("enabled", True)}
    assert enabled.pop("muxspace")["role"] == "test"  # the in-the-wild test set, never trained
    assert sorted(enabled) == WEB_SEARCHES
    paths = {n: s["path"] for n, s in enabled.items() if s["kind"] == "folder"}
    assert paths == {n: f"../shared/data/web_search/{n}" for n in WEB_SEARCHES}
    assert drop_classes("google_b", enabled["google_b"], ingestion) == {"neutral", "disgust"}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["google_b", "stock_thumbs"])
def test_web_searches_every_photo_has_an_outcome(shared_data, name):
    ingestion = _web_ingestion()
    source = {**ingestion["sources"][name], "path": str(shared_data / "web_search" / name)}
    plan = plan_searches(name, source, ingestion)
    _, hits = fetch_photos(name, plan, source, {}, {})
    manifest = build_photo_manifest(name, hits, source, ingestion)
    published = pd.read_csv(shared_data / "web_search" / "manifest.csv").query("source == @name")
    files = manifest["reference"].str.removeprefix(f"folder://{name}/")
    assert sorted(files) == sorted(published["path"].str.removeprefix(f"{name}/"))
    assert manifest["image_id"].is_unique
    words = manifest.groupby("raw_label")["weak_label"].first().to_dict()
    if name == "google_b":
        assert words["surpirse"] == "surprise" and words["fearful"] == "fear"
        assert set(words.values()) == {"angry", "fear", "happy", "sad", "surprise"}
    else:
        assert words["surprised"] == "surprise"
        assert set(manifest.loc[manifest["raw_label"] == "neutral", "outcome"]) == {"class_dropped"}
    assert set(manifest["outcome"]) <= {"kept", "duplicate", "class_dropped"}
