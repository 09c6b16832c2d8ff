"""A curated dataset's images through the films' detector: boxes recorded, faceless rows kept with
their outcome, crops made by the films' crop function."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from expressions_ensemble.faces import FaceBox
from expressions_ensemble.imaging import CropGeometry, crop_face, encode_jpeg
from expressions_ensemble.sources.curated import read_curated
from expressions_ensemble.sources.curated.faces import (
    FACE_COLUMNS,
    detect_table_faces,
    face_reader,
    reader_for,
    scoring_readers,
)
from expressions_ensemble.training.splits import split_table

GEOMETRY = CropGeometry(margin=0.0, crop_size=32, min_face_size=10)


class BrightSquareDetector:
    """Finds the bright square of a test image (a stand-in for a face), in the framed image's pixels."""

    name = "mediapipe"

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        self.seen.append(rgb.shape[:2])
        ys, xs = np.nonzero(rgb[:, :, 0] > 200)
        if not len(xs):
            return []
        x, y = int(xs.min()), int(ys.min())
        w, h = int(xs.max()) - x + 1, int(ys.max()) - y + 1
        return [FaceBox(x, y, w, h, 0.9, ((x + w * 0.3, y + h * 0.4), (x + w * 0.7, y + h * 0.4)))]

    def close(self) -> None:
        raise AssertionError("a detector handed in is the caller's to close")


def _image(square: bool) -> bytes:
    rgb = np.full((48, 48, 3), 60, np.uint8)
    if square:
        rgb[8:40, 12:44] = 250
    return encode_jpeg(rgb)


def _table() -> pd.DataFrame:
    rows = [
        {"image_id": "t/face", "data": _image(True), "split": "train", "outcome": "ok", "label": "happy"},
        {"image_id": "t/blank", "data": _image(False), "split": "train", "outcome": "ok", "label": "sad"},
        {"image_id": "t/broken", "data": b"not an image", "split": "test", "outcome": "ok", "label": "sad"},
        {"image_id": "t/unused", "data": _image(True), "split": None, "outcome": "class_not_used",
         "label": "fear"},
    ]  # fmt: skip
    return pd.DataFrame(rows).assign(path=None)


def test_every_row_keeps_its_outcome_and_the_face_box_is_in_the_enlarged_images_pixels():
    detector = BrightSquareDetector()
    out = detect_table_faces(_table(), GEOMETRY, "baselines.datasets.t", detector=detector)
    by_id = out.set_index("image_id")
    assert len(out) == 4  # nothing dropped
    assert by_id.loc["t/blank", "outcome"] == "no_face" and pd.isna(by_id.loc["t/blank", "split"])
    assert by_id.loc["t/broken", "outcome"] == "not_an_image" and pd.isna(by_id.loc["t/broken", "split"])
    assert by_id.loc["t/unused", "outcome"] == "class_not_used"  # never searched: it has no split
    assert by_id.loc["t/face", "outcome"] == "ok" and by_id.loc["t/face", "split"] == "train"
    # 48 px enlarged x3 to 144, searched inside a black frame of a quarter of the side (36 px)
    assert detector.seen == [(216, 216), (216, 216)]
    box = tuple(by_id.loc["t/face", list(FACE_COLUMNS[:4])])
    assert box == pytest.approx((36, 24, 96, 96), abs=3)
    assert by_id.loc["t/face", "eye_rx"] == pytest.approx(36 + 96 * 0.3, abs=3)
    assert by_id[list(FACE_COLUMNS)].loc[["t/blank", "t/broken", "t/unused"]].isna().all().all()


def test_the_reader_crops_the_recorded_box_with_the_films_crop_function():
    out = detect_table_faces(_table(), GEOMETRY, "t", detector=BrightSquareDetector())
    row = out.set_index("image_id").loc["t/face"]
    crop = face_reader(GEOMETRY)(row)
    assert crop.shape == (32, 32, 3)
    assert crop[2:-2, 2:-2, 0].min() > 200  # margin 0: the crop is the square, nothing around it
    big = cv2.resize(cv2.imdecode(np.frombuffer(row["data"], np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1],
                     (144, 144), interpolation=cv2.INTER_LINEAR)  # fmt: skip
    box = tuple(int(row[c]) for c in FACE_COLUMNS[:4])
    np.testing.assert_array_equal(crop, crop_face(big, box, margin=0.0, size=32))


def test_a_model_of_detected_faces_cannot_read_a_table_nobody_searched():
    framed = CropGeometry.dataset_framing(margin=0.08)
    assert reader_for(framed, _table(), "t").__name__ == "load_image"
    with pytest.raises(ValueError, match="never searched for faces"):
        reader_for(GEOMETRY, _table(), "baselines.datasets.t")
    with pytest.raises(ValueError, match="own framing detects no face"):
        detect_table_faces(_table(), framed, "t")


@pytest.mark.shared_data
def test_real_fer2013_faces_are_found_by_the_films_detector(shared_data):
    """FER2013's 48-px faces: the detector finds nearly all of them once they are enlarged and framed."""
    table = read_curated("fer2013_folders", {"root": shared_data / "fer2013"})
    split = split_table(table, ("angry", "happy", "sad"), 0.05, 0)
    sample = split[split["split"] == "test"].sample(300, random_state=0)
    out = detect_table_faces(sample, CropGeometry(margin=0.0, crop_size=48), "fer2013")
    found = out["outcome"].eq("ok").mean()
    print(f"FER2013 test sample: a face in {found:.3f}; {out['outcome'].value_counts().to_dict()}")
    assert found >= 0.97
    kept = out[out["outcome"] == "ok"]
    assert kept["face_w"].median() == pytest.approx(0.87 * 144, rel=0.1)  # the face fills the image
    assert face_reader(CropGeometry(margin=0.0, crop_size=48))(kept.iloc[0]).shape == (48, 48, 3)


def test_each_model_reads_a_searched_table_as_it_reads_a_films_face():
    from expressions_ensemble.models import ModelSpec

    out = detect_table_faces(_table(), GEOMETRY, "t", detector=BrightSquareDetector())
    row = out.set_index("image_id").loc["t/face"].copy()
    row["image_id"] = "t/face"
    framed = CropGeometry.dataset_framing(margin=0.08)
    specs = [
        ModelSpec("tf_efficientnet_lite0", ("happy", "sad"), 32, (0.5,) * 3, (0.5,) * 3, crop=c)
        for c in (GEOMETRY, framed, GEOMETRY)
    ]
    read, raw = scoring_readers(out, specs, "evaluation of t")
    crops = read(row)
    assert set(crops) == {GEOMETRY.framing, framed.framing}  # one crop per framing
    np.testing.assert_array_equal(crops[GEOMETRY.framing], face_reader(GEOMETRY)(row))
    assert crops[framed.framing].shape == (48, 48, 3)  # the image as the dataset framed it
    moved = row.copy()
    moved["face_x"] += 1
    assert raw(moved) != raw(row)  # a box found otherwise is scored again
    assert scoring_readers(_table(), specs, "t")[0].__name__ == "load_image"  # nobody searched it
