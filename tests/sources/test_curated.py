"""Curated dataset readers: each published layout as a tiny fixture, bad input as rows with outcomes."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from expressions_ensemble.imaging import ImageDecodeError
from expressions_ensemble.labels import EMOTIONS, FER2013_INDEX, STUDY_CLASSES
from expressions_ensemble.sources.curated import (
    COLUMNS,
    CURATED_KINDS,
    EmptyClassError,
    ParamError,
    load_image,
    outcome_counts,
    pixels_to_image,
    read_curated,
    restrict_classes,
    split_by_group,
    validate_table,
)

PIXELS = " ".join(str(i % 256) for i in range(48 * 48))


def _jpg(path: Path, value: int = 128, size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", np.full((size, size, 3), value, np.uint8))
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def _by_id(table: pd.DataFrame) -> dict[str, dict]:
    return {r["image_id"]: r for r in table.to_dict("records")}


# --------------------------------------------------------------------------------------------- FER2013


@pytest.fixture
def fer_csv(tmp_path: Path) -> Path:
    lines = [
        "emotion,pixels,Usage",
        f"3,{PIXELS},Training",  # 2
        f"0,{PIXELS},PublicTest",  # 3
        f"6,{PIXELS},PrivateTest",  # 4
        f"2,{' '.join(['7'] * 2303)},Training",  # 5: one pixel short
        f"x,{PIXELS},Training",  # 6: non-integer emotion
        f"7,{PIXELS},Training",  # 7: outside 0–6
        "4,1 2 3",  # 8: wrong field count
        f"1,{PIXELS},Validation",  # 9: unknown Usage
        f"5,{PIXELS[:-3]}abc,Training",  # 10: not integers
    ]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fer_csv_rows_outcomes_and_splits(fer_csv: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        table = read_curated("fer2013_csv", {"csv_path": str(fer_csv)}, where="baselines.datasets.fer")
    validate_table(table)
    assert list(table.columns) == [*COLUMNS, "usage"]
    assert table["line"].tolist() == list(range(2, 11))  # every line is a row, none dropped
    assert table["outcome"].tolist() == [
        "ok",
        "ok",
        "ok",
        "malformed_line",
        "malformed_line",
        "unknown_label",
        "malformed_line",
        "malformed_line",
        "malformed_line",
    ]
    ok = table[table["outcome"] == "ok"]
    assert ok["label"].tolist() == ["happy", "angry", "neutral"]
    assert ok["split"].tolist() == ["train", "test", "test"]
    assert ok["usage"].tolist() == ["Training", "PublicTest", "PrivateTest"]
    assert ok["path"].isna().all() and table["group"].isna().all()
    assert table.loc[table["line"] == 5, "detail"].item() == "pixels: 2303 values, expected 2304"
    assert table.loc[table["line"] == 7, "raw_label"].item() == "7"
    assert table["label"][table["outcome"] != "ok"].isna().all()
    assert "6 of 9 rows usable" not in caplog.text and "3 of 9 rows usable" in caplog.text
    assert "line 5" in caplog.text  # the warning points at the lines

    image = load_image(ok.iloc[0])
    assert image.shape == (48, 48, 3) and image.dtype == np.uint8
    assert np.array_equal(image[:, :, 0], pixels_to_image(PIXELS))  # lossless round trip
    assert np.array_equal(image[:, :, 0], image[:, :, 2])


def test_fer_csv_public_test_as_validation(fer_csv: Path) -> None:
    table = read_curated("fer2013_csv", {"csv_path": fer_csv, "public_test": "val"})
    ok = table[table["outcome"] == "ok"]
    assert dict(zip(ok["usage"], ok["split"], strict=True)) == {
        "Training": "train",
        "PublicTest": "val",
        "PrivateTest": "test",
    }


def test_fer_csv_icml_variant_and_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "icml_face_data.csv"
    path.write_text(f"emotion, Usage, pixels\n5,Training,{PIXELS}\n")
    table = read_curated("fer2013_csv", {"csv_path": path})
    assert table[["label", "split", "outcome"]].values.tolist() == [["surprise", "train", "ok"]]
    table.to_parquet(tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back.drop(columns="data").equals(table.drop(columns="data"))
    assert np.array_equal(load_image(back.iloc[0]), load_image(table.iloc[0]))


def test_pixels_to_image_rejects_bad_strings() -> None:
    assert pixels_to_image(PIXELS).shape == (48, 48)
    for bad, message in [
        ("1 2 3", "3 values"),
        (PIXELS + " x", "not space-separated"),
        ("300 " * 2304, "0–255"),
    ]:
        with pytest.raises(ValueError, match=message):
            pixels_to_image(bad)


def test_fer_csv_without_emotion_column(tmp_path: Path) -> None:
    path = tmp_path / "test.csv"
    path.write_text(f"pixels\n{PIXELS}\n")
    with pytest.raises(ValueError, match=r"columns \['emotion'\] missing"):
        read_curated("fer2013_csv", {"csv_path": path})


def test_fer_folders_layout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "fer"
    _jpg(root / "train" / "angry" / "Training_1.jpg", 10)
    _jpg(root / "train" / "contempt" / "Training_2.jpg")
    _jpg(root / "test" / "happy" / "PublicTest_3.jpg")
    _jpg(root / "test" / "happy" / "PrivateTest_4.jpg")
    (root / "test" / "happy" / "notes.txt").write_text("not an image")
    (root / "README").write_text("x")
    with caplog.at_level(logging.WARNING):
        table = read_curated("fer2013_folders", {"root": root})
    rows = _by_id(table)
    assert set(rows) == {
        "fer2013/train/angry/Training_1.jpg",
        "fer2013/train/contempt/Training_2.jpg",
        "fer2013/test/happy/PublicTest_3.jpg",
        "fer2013/test/happy/PrivateTest_4.jpg",
    }
    assert rows["fer2013/train/contempt/Training_2.jpg"]["outcome"] == "unknown_label"
    assert rows["fer2013/test/happy/PublicTest_3.jpg"]["split"] == "test"
    assert rows["fer2013/test/happy/PublicTest_3.jpg"]["usage"] == "PublicTest"
    assert "1 files that are not images" in caplog.text and "README" in caplog.text
    angry = table[table["label"] == "angry"].iloc[0]
    assert Path(angry["path"]).is_absolute()
    assert load_image(angry).shape == (8, 8, 3)

    val = read_curated("fer2013_folders", {"root": root, "public_test": "val"})
    assert _by_id(val)["fer2013/test/happy/PublicTest_3.jpg"]["split"] == "val"
    assert _by_id(val)["fer2013/test/happy/PrivateTest_4.jpg"]["split"] == "test"


def test_fer_folders_bad_layouts(tmp_path: Path) -> None:
    _jpg(tmp_path / "a" / "test" / "happy" / "1.jpg")
    with pytest.raises(ParamError, match=r"^x\.public_test: 'val' needs the Kaggle file-name prefixes"):
        read_curated("fer2013_folders", {"root": tmp_path / "a", "public_test": "val"}, where="x")
    _jpg(tmp_path / "b" / "happy" / "1.jpg")
    with pytest.raises(
        ValueError, match=r"has no split folder \(train, test, val, validation\); found \['happy'\]"
    ):
        read_curated("fer2013_folders", {"root": tmp_path / "b"})


# ---------------------------------------------------------------------------------------------- RAF-DB


def test_rafdb_layout_and_bad_lines(tmp_path: Path) -> None:
    root = tmp_path / "RAF-DB" / "basic"
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text(
        "train_00001.jpg 5\n"  # 1 sadness
        "test_0001.jpg 1\n"  # 2 surprise
        "train_00002.jpg 9\n"  # 3 outside 1–7
        "garbage\n"  # 4
        "train_00003.jpg x\n"  # 5
        "val_00001.jpg 3\n"  # 6 no split prefix
        "train_00004.jpg 4\n"  # 7 image absent
        "train_00001.jpg 5\n"  # 8 listed twice
        "\n"
    )
    for stem in ("train_00001", "test_0001", "train_00002", "train_00003", "val_00001"):
        _jpg(root / "Image" / "aligned" / f"{stem}_aligned.jpg")
    table = read_curated("rafdb", {"root": root})
    validate_table(table)
    assert table["line"].tolist() == list(range(1, 9))
    assert table["outcome"].tolist() == [
        "ok",
        "ok",
        "unknown_label",
        "malformed_line",
        "malformed_line",
        "malformed_line",
        "missing_file",
        "duplicate",
    ]
    rows = _by_id(table)
    assert rows["rafdb/train_00001"]["label"] == "sad" and rows["rafdb/train_00001"]["split"] == "train"
    assert rows["rafdb/test_0001"]["label"] == "surprise" and rows["rafdb/test_0001"]["split"] == "test"
    assert rows["rafdb/train_00001#1"]["line"] == 8
    assert rows["rafdb/line-4"]["detail"].startswith("1 fields")
    assert rows["rafdb/train_00001"]["path"].endswith("Image/aligned/train_00001_aligned.jpg")
    assert load_image(rows["rafdb/train_00001"]).shape == (8, 8, 3)
    with pytest.raises(ImageDecodeError, match="missing_file"):
        load_image(rows["rafdb/train_00004"])

    with pytest.raises(ParamError, match=r"^rafdb\.aligned: .*Image/original not found; set aligned: true"):
        read_curated("rafdb", {"root": root, "aligned": False}, where="rafdb")
    with pytest.raises(ParamError, match=r"^root: .*list_patition_label.txt not found"):
        read_curated("rafdb", {"root": tmp_path})


# ------------------------------------------------------------------------------------------- Aff-Wild2

HEADER_8 = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
HEADER_7 = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise"


@pytest.fixture
def affwild2(tmp_path: Path) -> tuple[Path, Path]:
    ann, crop = tmp_path / "annotations" / "EXPR_Set", tmp_path / "cropped_aligned"

    def video(split: str, name: str, text: str, frames: list[int]) -> None:
        (ann / split).mkdir(parents=True, exist_ok=True)
        (ann / split / f"{name}.txt").write_text(text)
        for f in frames:
            (crop / name).mkdir(parents=True, exist_ok=True)
            (crop / name / f"{f:05d}.jpg").write_bytes(b"")

    # frames:   1  2   3  4  5  6  7  8
    video("Train_Set", "vidA", f"{HEADER_8}\n0\n-1\n7\n4\nx\n6\n3\n1\n", [1, 2, 3, 4, 5, 6, 8])
    video("Validation_Set", "vidB_left", f"{HEADER_7}\n1\n7\n-1\n2\n", [1, 2, 3, 4])  # older header
    video("Train_Set", "vidC", "1\n2\n", [])  # no header
    video("Train_Set", "vidD", f"{HEADER_8}\n5\n5\n", [])  # no frame folder
    return ann, crop


def test_affwild2_outcomes_per_frame(affwild2: tuple[Path, Path]) -> None:
    ann, crop = affwild2
    table = read_curated("affwild2", {"annotations": ann, "cropped_root": crop})
    validate_table(table)
    assert list(table.columns) == [*COLUMNS, "frame"]
    rows = _by_id(table)
    vid_a = table[table["group"] == "vidA"]
    assert vid_a["frame"].tolist() == list(range(1, 9))
    assert vid_a["line"].tolist() == list(range(2, 10))
    assert vid_a["outcome"].tolist() == [
        "ok",
        "not_annotated",
        "unknown_label",  # Other
        "ok",
        "malformed_line",
        "ok",
        "missing_file",  # 00007.jpg absent
        "ok",
    ]
    assert vid_a["label"].tolist()[:1] + vid_a["label"].tolist()[3:4] == ["neutral", "happy"]
    assert rows["affwild2/vidA/00003"]["raw_label"] == "Other"
    assert rows["affwild2/vidA/00001"]["path"] == str(crop.resolve() / "vidA" / "00001.jpg")
    assert set(vid_a["split"]) == {"train"}

    vid_b = table[table["group"] == "vidB_left"]
    assert vid_b["outcome"].tolist() == ["ok", "unknown_label", "not_annotated", "ok"]  # 7 outside 0–6
    assert vid_b["label"].tolist()[::3] == ["angry", "disgust"] and set(vid_b["split"]) == {"val"}
    assert rows["affwild2/vidB_left/00002"]["detail"] == "label outside 0–6"

    vid_c = table[table["group"] == "vidC"]
    assert vid_c["outcome"].tolist() == ["malformed_header"] * 2 and vid_c["frame"].isna().all()
    vid_d = table[table["group"] == "vidD"]
    assert vid_d["outcome"].tolist() == ["missing_file"] * 2
    assert vid_d["detail"].tolist() == ["no frame folder"] * 2


def test_affwild2_frame_step_keeps_every_nth_annotated_frame(affwild2: tuple[Path, Path]) -> None:
    ann, crop = affwild2
    table = read_curated("affwild2", {"annotations": ann, "cropped_root": crop, "frame_step": 2})
    vid_a = table[table["group"] == "vidA"]
    # annotated frames 1, 3, 4, 6, 7, 8 -> kept 1, 4, 7; -1 and malformed lines keep their own outcome
    assert vid_a["outcome"].tolist() == [
        "ok",
        "not_annotated",
        "subsampled",
        "ok",
        "malformed_line",
        "subsampled",
        "missing_file",
        "subsampled",
    ]
    assert len(table) == len(read_curated("affwild2", {"annotations": ann, "cropped_root": crop}))


def test_affwild2_unexpected_header_is_read_by_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "ann" / "Training_Set").mkdir(parents=True)
    (tmp_path / "ann" / "Training_Set" / "v.txt").write_text("happiness, Neutral ,Contempt\n0\n1\n2\n")
    for f in (1, 2, 3):
        _jpg(tmp_path / "crop" / "v" / f"{f:05d}.jpg")
    with caplog.at_level(logging.WARNING):
        table = read_curated("affwild2", {"annotations": tmp_path / "ann", "cropped_root": tmp_path / "crop"})
    assert table["label"].tolist()[:2] == ["happy", "neutral"]
    assert table["outcome"].tolist() == ["ok", "ok", "unknown_label"]
    assert set(table["split"]) == {"train"}  # the first release's Training_Set
    assert "unexpected header happiness,Neutral,Contempt" in caplog.text
    assert load_image(table.iloc[0]).shape == (8, 8, 3)


def test_affwild2_bad_parameters(affwild2: tuple[Path, Path], tmp_path: Path) -> None:
    ann, crop = affwild2
    with pytest.raises(ParamError, match=r"^aw\.frame_step: expected an integer >= 1, got 0"):
        read_curated("affwild2", {"annotations": ann, "cropped_root": crop, "frame_step": 0}, where="aw")
    with pytest.raises(ParamError, match=r"^annotations: .* has no set folder \(Train_Set, Validation_Set\)"):
        read_curated("affwild2", {"annotations": crop, "cropped_root": crop})
    with pytest.raises(ParamError, match=r"^cropped_root: folder .*nowhere does not exist"):
        read_curated("affwild2", {"annotations": ann, "cropped_root": tmp_path / "nowhere"})


def test_split_by_group_keeps_videos_whole() -> None:
    rows = [
        {"image_id": f"v{v}/{f}", "dataset": "affwild2", "label": "happy", "split": "train", "group": f"v{v}"}
        | {"outcome": "ok"}
        for v in range(10)
        for f in range(5 + v)
    ]
    rows += [{"image_id": "w/1", "dataset": "affwild2", "split": "val", "group": "w", "outcome": "ok"}]
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    out = split_by_group(table, 0.3, seed=1)
    assert out.groupby("group")["split"].nunique().max() == 1  # no video on both sides
    moved = out[(out["split"] == "val") & (out["group"] != "w")]
    assert 0.3 <= len(moved) / 95 < 0.5
    assert out.loc[out["group"] == "w", "split"].item() == "val"  # published val untouched
    assert split_by_group(table, 0.3, seed=1).equals(out)
    assert not split_by_group(table, 0.3, seed=2)["split"].equals(out["split"])
    with pytest.raises(ParamError, match=r"fraction: expected a number between 0 and 1"):
        split_by_group(table, 1.5, seed=1)
    with pytest.raises(ValueError, match="without a group"):
        split_by_group(table.assign(group=None), 0.2, seed=1)


# ------------------------------------------------------------------------------- sim_lab and folders


def test_sim_lab_inline_images_and_seeded_split() -> None:
    table = read_curated("sim_lab", {"per_class": 5, "seed": 7})
    validate_table(table)
    assert table.groupby(["label", "split"]).size().to_dict() == {
        (c, s): n for c in STUDY_CLASSES for s, n in (("test", 1), ("train", 4))
    }
    assert table["path"].isna().all() and table["image_id"].is_unique
    image = load_image(table.iloc[0])
    assert image.shape == (48, 48, 3) and np.array_equal(image[:, :, 0], image[:, :, 1])
    again = read_curated("sim_lab", {"per_class": 5, "seed": 7})
    assert again.drop(columns="data").equals(table.drop(columns="data"))
    mapping = read_curated("sim_lab", {"per_class": {"anger": 3, "neutral": 2}, "test_fraction": 0.5})
    assert mapping["label"].value_counts().to_dict() == {"angry": 3, "neutral": 2}
    with pytest.raises(ParamError, match=r"^per_class: unknown emotion 'grumpy'"):
        read_curated("sim_lab", {"per_class": {"grumpy": 2}})


def test_labelled_folder_as_table(tmp_path: Path) -> None:
    _jpg(tmp_path / "img" / "a.jpg")
    _jpg(tmp_path / "img" / "b.jpg")
    _jpg(tmp_path / "img" / "extra.jpg")
    (tmp_path / "labels.csv").write_text("image,emotion\na.jpg,sadness\nb.jpg,contempt\ngone.jpg,fear\n")
    table = read_curated(
        "folder",
        {"path": tmp_path / "img", "labels_csv": tmp_path / "labels.csv", "name": "mine", "split": "test"},
    )
    validate_table(table)
    assert {r["image_id"]: r["outcome"] for r in table.to_dict("records")} == {
        "mine/a.jpg": "ok",
        "mine/b.jpg": "unknown_label",
        "mine/gone.jpg": "missing_file",
        "mine/extra.jpg": "not_annotated",
    }
    assert set(table["split"]) == {"test"} and set(table["dataset"]) == {"mine"}


# ----------------------------------------------------------------------------- registry and classes


def test_registry_names_keys_and_allowed_values(fer_csv: Path) -> None:
    assert set(CURATED_KINDS) == {"fer2013_csv", "fer2013_folders", "rafdb", "affwild2", "sim_lab", "folder"}
    where = "baselines.datasets.fer"
    with pytest.raises(
        ParamError, match=rf"^{where}\.kind: unknown curated dataset kind 'fer'; allowed: fer2013_csv"
    ):
        read_curated("fer", {}, where=where)
    with pytest.raises(ParamError, match=rf"^{where}\.public_test: got 'dev'; allowed: test, val$"):
        read_curated("fer2013_csv", {"csv_path": fer_csv, "public_test": "dev"}, where=where)
    with pytest.raises(
        ParamError, match=rf"^{where}\.csv: unknown parameter .*allowed: csv_path, public_test"
    ):
        read_curated("fer2013_csv", {"csv": fer_csv}, where=where)
    with pytest.raises(ParamError, match=rf"^{where}\.csv_path: required for kind 'fer2013_csv'"):
        read_curated("fer2013_csv", {"kind": "fer2013_csv"}, where=where)
    with pytest.raises(ParamError, match=r"^csv_path: file .*absent.csv does not exist"):
        read_curated("fer2013_csv", {"csv_path": fer_csv.with_name("absent.csv")})


def test_restrict_classes_counts_what_is_left_out() -> None:
    table = read_curated("sim_lab", {"per_class": 2, "classes": ["angry", "happy", "neutral"]})
    out = restrict_classes(table, ["anger", "happy"])
    assert out["outcome"].value_counts().to_dict() == {"ok": 4, "class_not_used": 2}
    assert table["outcome"].eq("ok").all()  # input untouched
    assert len(out) == len(table)
    counts = outcome_counts(out)
    assert counts["rows"].sum() == len(table)
    with pytest.raises(
        EmptyClassError, match=r"^classes: dataset sim_lab has no usable image of fear \(no rows\)"
    ):
        restrict_classes(table, ["angry", "fear"])
    marked = table.copy()
    marked.loc[marked["label"] == "happy", "outcome"] = "missing_file"
    with pytest.raises(EmptyClassError, match=r"happy \(2 missing_file\)"):
        restrict_classes(marked, ["angry", "happy"], key="baselines.classes")
    with pytest.raises(EmptyClassError, match="has no rows at all"):
        restrict_classes(table.iloc[:0], ["angry"])
    with pytest.raises(ValueError, match="unknown emotion 'grumpy'"):
        restrict_classes(table, ["grumpy"])


def test_validate_table_refuses_foreign_tables() -> None:
    with pytest.raises(ValueError, match=r"columns .* missing"):
        validate_table(pd.DataFrame({"image_id": ["a"]}))
    bad = pd.DataFrame([{"image_id": "a", "outcome": "meh"}]).reindex(columns=COLUMNS)
    with pytest.raises(ValueError, match="unknown outcomes"):
        validate_table(bad)


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.shared_data
def test_real_fer2013_folders(shared_data: Path) -> None:
    table = read_curated("fer2013_folders", {"root": shared_data / "fer2013"})
    validate_table(table)
    assert table["split"].value_counts().to_dict() == {"train": 28709, "test": 7178}
    assert (table["outcome"] == "ok").all()
    assert set(table["label"]) == set(EMOTIONS) == set(FER2013_INDEX.values())
    assert table.loc[table["split"] == "test", "usage"].value_counts().to_dict() == {
        "PublicTest": 3589,
        "PrivateTest": 3589,
    }
    study = restrict_classes(table, STUDY_CLASSES)
    unused = study["outcome"] == "class_not_used"
    assert set(study.loc[unused, "label"]) == {"disgust", "neutral"}
    assert int(unused.sum()) == int(table["label"].isin(["disgust", "neutral"]).sum()) > 0
    assert set(study.loc[~unused, "label"]) == set(STUDY_CLASSES)
    assert load_image(study[~unused].iloc[0]).shape == (48, 48, 3)
