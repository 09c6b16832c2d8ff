"""The recipe records the crops it was trained on: in the model's spec and in the checkpoint's key."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from expressions_ensemble.imaging import CropGeometry
from expressions_ensemble.training.recipe import crop_geometry_of, train_recipe, trained_classes

CLASSES = ["angry", "happy"]
PARAMS = {
    "classes": CLASSES, "backbone": "test_efficientnet", "pretrained": "none", "input_size": 32,
    "epochs": 1, "patience": 1, "batch_size": 8, "val_fraction": 0.25, "threads": 1,
}  # fmt: skip


class RecordingStore:
    """A checkpoint store that keeps everything in memory and records the fingerprints asked for."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}
        self.asked: list[str] = []

    def load(self, fingerprint: str) -> dict[str, Any] | None:
        self.asked.append(fingerprint)
        return self.saved.get(fingerprint)

    def save(self, fingerprint: str, state: dict[str, Any]) -> None:
        self.saved[fingerprint] = state

    def clear(self) -> None:
        self.saved.clear()


def _split(geometry: CropGeometry | None) -> pd.DataFrame:
    rows = [(f"{c}{i}", c, "train" if i < 6 else "val") for c in CLASSES for i in range(8)]
    table = pd.DataFrame(rows, columns=["image_id", "label", "split"])
    text = None if geometry is None else json.dumps(geometry.to_dict(), sort_keys=True)
    return table.assign(
        dataset="t", group=table["image_id"], outcome="ok", path=table["image_id"], crop_geometry=text
    )


def _read(row: pd.Series) -> np.ndarray:
    value = 40 if row["label"] == "angry" else 200
    return np.full((32, 32, 3), value + int(row["image_id"][-1]), np.uint8)


def test_the_geometry_of_the_crops_is_read_from_the_split():
    tight = CropGeometry(margin=0.0, crop_size=96)
    assert crop_geometry_of(_split(tight), "sim_v1") == tight
    old = crop_geometry_of(_split(None).drop(columns="crop_geometry"), "sim_v1")
    assert old == CropGeometry() and old.assumed
    mixed = _split(tight)
    mixed.loc[0, "crop_geometry"] = json.dumps(CropGeometry(margin=0.4).to_dict())
    with pytest.raises(ValueError, match=r"sim_v1: the training crops were made with 2 crop geometries"):
        crop_geometry_of(mixed, "sim_v1")
    # rows left out of the split do not count
    mixed.loc[0, "split"] = None
    assert crop_geometry_of(mixed, "sim_v1") == tight


def test_the_crop_geometry_is_stored_in_the_spec_and_keys_the_checkpoint():
    store = RecordingStore()
    tight, wide = CropGeometry(margin=0.0), CropGeometry(margin=0.4)
    (_, spec), _, _ = train_recipe("t", _split(tight), _read, PARAMS, store, crop=tight)
    assert spec.crop == tight
    (_, spec), _, _ = train_recipe("t", _split(wide), _read, PARAMS, store, crop=wide)
    assert spec.crop == wide
    assert len(set(store.asked)) == 2  # crops made otherwise: another run, never resumed
    # an assumed default and the recorded default are the same crops: the same run
    train_recipe("t", _split(None), _read, PARAMS, store, crop=CropGeometry(assumed=True))
    train_recipe("t", _split(None), _read, PARAMS, store, crop=CropGeometry())
    assert store.asked[2] == store.asked[3] and len(set(store.asked)) == 3


def test_a_datasets_own_framing_keeps_its_checkpoint_when_only_the_film_framing_changes():
    """The training images are the dataset's own whatever the margin a film's faces get for the model."""
    store = RecordingStore()
    first, then = CropGeometry.dataset_framing(), CropGeometry.dataset_framing(margin=0.05, shift=-0.1)
    (_, spec), _, _ = train_recipe("fer", _split(None), _read, PARAMS, store, crop=first)
    (_, spec2), _, _ = train_recipe("fer", _split(None), _read, PARAMS, store, crop=then)
    assert store.asked[0] == store.asked[1] in store.saved  # one fingerprint: resumed, not trained again
    assert spec.crop == first and spec2.crop == then  # each artifact records the framing it was given
    train_recipe("fer", _split(None), _read, {**PARAMS, "preprocessing": "grayscale"}, store, crop=then)
    assert store.asked[2] != store.asked[1]  # the pixels the model sees changed: trained afresh


def test_a_source_without_photos_of_a_class_trains_a_model_that_does_not_know_it(caplog):
    split = pd.DataFrame(
        {"label": ["angry", "happy", "sad", "fear"], "split": ["train", "train", "train", "val"]}
    )
    with caplog.at_level("INFO"):
        assert trained_classes("bing", split, ("angry", "fear", "happy", "sad", "surprise")) == (
            "angry",
            "happy",
            "sad",
        )
    assert "no training photo of ['fear', 'surprise']" in caplog.text
    with pytest.raises(ValueError, match=r"bing: training.classes .* at least two"):
        trained_classes("bing", split.assign(label="angry"), ("angry", "happy"))
