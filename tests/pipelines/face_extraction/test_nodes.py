import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from expressions_ensemble.datasets import PhotoFolderDataset
from expressions_ensemble.imaging import CropGeometry, decode_image
from expressions_ensemble.pipelines.face_extraction import nodes
from expressions_ensemble.pipelines.face_extraction.nodes import (
    FaceParams,
    combine_counts,
    count_faces,
    extract_faces,
)

PARAMS = {"detector": "mediapipe", "min_confidence": 0.5, "face_policy": "largest",
          "margin": 0.2, "crop_size": 64, "workers": 1, "min_face_size": 150}  # fmt: skip


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _manifest(rows):
    df = pd.DataFrame(rows, columns=["image_id", "path", "label", "outcome", "weak_label"])
    df["source"] = "src"
    return df


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("detector", "dlib", "face_extraction.detector: got 'dlib'; allowed: one of mediapipe, haar"),
        (
            "face_policy",
            "all",
            "face_extraction.face_policy: got 'all'; allowed: one of largest, single_only",
        ),
        ("crop_size", 4, "face_extraction.crop_size"),
        ("min_confidence", 1.5, "face_extraction.min_confidence"),
        ("workers", 0, "face_extraction.workers: expected a positive integer or 'auto'"),
        ("colour", "red", r"face_extraction: unknown keys \['colour'\]"),
    ],
)
def test_bad_parameters_name_key_and_allowed(key, value, message):
    with pytest.raises(ValueError, match=message):
        FaceParams.from_params({**PARAMS, key: value})


@pytest.fixture
def photos(tmp_path, shared_data):
    """Two real faces, a blank image, a two-face collage, a tiny face and a truncated file."""
    mux = sorted((shared_data / "muxspace" / "images").glob("*.jpg"))
    faces = [decode_image(p.read_bytes()) for p in mux[:40]]
    faces = [f for f in faces if f.shape[:2] == (350, 350)][:2]
    store = PhotoFolderDataset(str(tmp_path / "raw"))
    tiny = np.full((400, 400, 3), 200, np.uint8)  # a detectable face below min_face_size
    tiny[100:220, 100:220] = np.asarray(Image.fromarray(faces[0]).resize((120, 120)))
    store.save(
        {
            "a.png": _png(faces[0]),
            "b.png": _png(faces[1]),
            "blank.png": _png(np.full((300, 300, 3), 90, np.uint8)),
            "two.png": _png(np.concatenate(faces, axis=1)),
            "tiny.png": _png(tiny),
            "trunc.png": _png(faces[0])[:3000],
        }
    )
    rows = [(n, f"{n}.png", "happy", "kept", "happy") for n in ("a", "b", "blank", "two", "tiny", "trunc")]
    rows.append(("dup", "a.png", None, "duplicate", "sad"))
    return _manifest(rows), store.load()


@pytest.mark.shared_data
@pytest.mark.parametrize("workers", [1, 2])
def test_every_kept_photo_gets_an_outcome(photos, workers):
    manifest, folder = photos
    crops, faces = extract_faces("src", manifest, folder, {**PARAMS, "workers": workers})
    outcome = dict(zip(faces["image_id"], faces["reject_reason"].fillna("kept"), strict=True))
    assert outcome == {
        "a": "kept", "b": "kept", "two": "kept",
        "blank": "no_face", "tiny": "face_too_small", "trunc": "truncated",
    }  # fmt: skip
    assert faces.set_index("image_id").at["two", "n_faces"] == 2
    assert sorted(crops) == ["happy/a.jpg", "happy/b.jpg", "happy/two.jpg"]
    assert all(decode_image(c).shape == (64, 64, 3) for c in crops.values())
    # every crop records the geometry it was made with; photos without a crop record none
    made = faces.set_index("image_id")["crop_geometry"]
    assert made[["blank", "tiny", "trunc"]].isna().all()
    recorded = {CropGeometry.from_dict(json.loads(g)) for g in made.dropna()}
    assert recorded == {FaceParams.from_params(PARAMS).geometry()} and len(made.dropna()) == 3


@pytest.mark.shared_data
def test_single_only_policy_and_counts(photos):
    manifest, folder = photos
    _, faces = extract_faces("src", manifest, folder, {**PARAMS, "face_policy": "single_only"})
    assert faces.set_index("image_id").at["two", "reject_reason"] == "multiple_faces"
    counts = count_faces("src", manifest, faces).set_index("label")
    assert counts.at["happy", "photos"] == 6 and counts.at["happy", "faces"] == 2
    assert counts.at["happy", "multiple_faces"] == 1 and counts.at["happy", "no_face"] == 1
    assert counts.at["all", "hits"] == 7 and counts.at["all", "face_share"] == pytest.approx(2 / 6, abs=1e-3)
    both = combine_counts(counts.reset_index(), counts.reset_index().drop(columns=["no_face"]))
    assert both["no_face"].tolist()[-1] == 0 and len(both) == 2 * len(counts)


def test_an_empty_source_gives_empty_tables(tmp_path):
    manifest = _manifest([])
    crops, faces = extract_faces("empty", manifest, PhotoFolderDataset(str(tmp_path)).load(), PARAMS)
    assert crops == {} and faces.empty and list(faces.columns)[:3] == ["image_id", "source", "label"]
    counts = count_faces("empty", manifest, faces)
    assert counts[["source", "label", "hits", "photos", "faces"]].values.tolist() == [
        ["empty", "all", 0, 0, 0]
    ]


def test_a_detector_built_in_this_process_is_closed_when_the_node_ends(tmp_path, monkeypatch):
    """One worker detects inline: the node closes its detector (mediapipe's finaliser, left for the
    interpreter's exit, prints a traceback after the run), and the next call builds a fresh one."""
    built: list[_FakeDetector] = []

    def create_detector(*args: object, **kwargs: object) -> _FakeDetector:
        built.append(_FakeDetector())
        return built[-1]

    monkeypatch.setattr(nodes, "create_detector", create_detector)
    store = PhotoFolderDataset(str(tmp_path))
    store.save({"blank.png": _png(np.full((64, 64, 3), 90, np.uint8))})
    manifest = _manifest([("blank", "blank.png", "happy", "kept", "happy")])
    for _ in range(2):
        _, faces = extract_faces("src", manifest, store.load(), PARAMS)
        assert faces["reject_reason"].tolist() == ["no_face"]
    assert [d.detected for d in built] == [1, 1] and all(d.closed for d in built)


class _FakeDetector:
    """Finds no face; records its calls."""

    name = "fake"

    def __init__(self) -> None:
        self.detected, self.closed = 0, False

    def detect(self, rgb: np.ndarray) -> list:
        self.detected += 1
        return []

    def close(self) -> None:
        self.closed = True
