"""The training recipe's nodes on small simulated data: split, train, save/load, evaluate."""

import json

import pandas as pd
import pytest

from expressions_ensemble.datasets import ModelArtifactDataset
from expressions_ensemble.datasets.checkpoints import FileCheckpointStore
from expressions_ensemble.imaging import CropGeometry
from expressions_ensemble.models import BackboneError
from expressions_ensemble.pipelines.training.nodes import (
    build_training_table,
    evaluate_model,
    split_training_table,
    train_model,
)
from expressions_ensemble.simulation import render_lab_dataset
from expressions_ensemble.training.recipe import TrainingParams

CLASSES = ["angry", "happy", "sad", "surprise"]
PARAMS = {
    "classes": CLASSES, "backbone": "tf_efficientnet_lite0", "pretrained": "offline", "input_size": 96,
    "epochs": 6, "patience": 6, "batch_size": 16, "learning_rate": 1e-3, "augmentation": "light",
}  # fmt: skip


@pytest.fixture(scope="module")
def lab():
    """Posed faces as 'crops' plus a table in the face-extraction layout (one unreadable crop)."""
    images = list(render_lab_dataset(3, {c: 14 for c in CLASSES}))
    crops = {f"{im.emotion}/{im.id}.png": im.data for im in images}
    crops["sad/broken.png"] = b"not a png"
    rows = [(im.id, im.emotion, f"{im.emotion}/{im.id}.png") for im in images] + [
        ("broken", "sad", "sad/broken.png")
    ]
    table = pd.DataFrame(rows, columns=["image_id", "label", "path"])
    table = table.assign(dataset="lab", group=table["image_id"], split=None, outcome="ok", crop_geometry=WIDE)
    table.loc[len(table)] = ["neutral1", "neutral", "neutral/x.png", "lab", "neutral1", None, "ok", WIDE]
    return table, crops


WIDE = json.dumps(CropGeometry(margin=0.4, crop_size=128).to_dict())


def test_the_training_table_carries_the_geometry_each_crop_was_made_with():
    manifest = pd.DataFrame({"image_id": ["a", "b"], "outcome": ["kept", "kept"], "sha256": ["1", "2"]})
    faces = pd.DataFrame(
        {"image_id": ["b", "a"], "label": ["sad", "happy"], "kept": [False, True],
         "reject_reason": ["no_face", None], "crop": [None, "happy/a.jpg"], "crop_geometry": [None, WIDE]}
    )  # fmt: skip
    table = build_training_table("src", manifest, faces).set_index("image_id")
    assert table.at["a", "crop_geometry"] == WIDE and pd.isna(table.at["b", "crop_geometry"])
    old = build_training_table("src", manifest, faces.drop(columns="crop_geometry"))
    assert old["crop_geometry"].isna().all()  # a faces manifest from before: the model says assumed


def test_params_are_checked_before_any_data():
    with pytest.raises(ValueError, match=r"training: unknown keys \['epoch'\]"):
        TrainingParams.from_params({"epoch": 3})
    with pytest.raises(BackboneError, match=r"resnet_18"):
        TrainingParams.from_params({"backbone": "resnet_18", "pretrained": "none"})
    with pytest.raises(ValueError, match=r"training\.input_size"):
        TrainingParams.from_params({"input_size": 8})
    with pytest.raises(ValueError, match=r"training\.preprocessing"):
        TrainingParams.from_params({"preprocessing": "sepia"})


def test_train_save_load_evaluate(lab, tmp_path):
    table, crops = lab
    split, counts = split_training_table(table, PARAMS)
    assert split.set_index("image_id").at["neutral1", "outcome"] == "class_not_used"
    assert set(counts.columns) >= {"label", "train", "val"}
    (model, spec), history, mlflow_metrics = train_model(
        "lab", split, crops, PARAMS, FileCheckpointStore(tmp_path)
    )
    assert list(history["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert len(mlflow_metrics["val_macro_f1"]) == 6 and mlflow_metrics["train_count.sad"]["value"] >= 9
    assert spec.classes == tuple(CLASSES) and spec.input_size == 96 and spec.metadata["trained_on"] == "lab"
    assert spec.crop == CropGeometry(margin=0.4, crop_size=128)  # the crops' geometry, not a default
    store = ModelArtifactDataset(str(tmp_path / "model.eemodel"))
    store.save((model, spec))
    loaded = store.load()
    assert loaded.spec.crop == spec.crop
    summary, per_class, scores, figure, predictions = evaluate_model("lab", loaded, split, crops)
    assert (
        summary["n_images"]
        == (split["split"] == "val").sum()
        - (split["image_id"] == "broken").where(split["split"] == "val", False).sum()
    )
    assert 0 <= summary["macro_f1"] <= 1 and set(per_class["class"]) == set(CLASSES)
    assert scores["macro_f1"]["value"] == pytest.approx(summary["macro_f1"])
    print("lab macro-F1", summary["macro_f1"])
    assert summary["macro_f1"] > 0.6  # posed faces are learnable in a few short epochs (chance: 0.25)
    assert figure.axes[0].get_title().startswith("lab (val")
    # one row of logits per evaluated image; their arg-max is the scored prediction
    assert len(predictions) == summary["n_images"] and set(predictions["split"]) == {"val"}
    logits = predictions[[f"logit_{c}" for c in CLASSES]].to_numpy()
    codes = [list(CLASSES).index(label) for label in predictions["label"]]
    assert (logits.argmax(1) == codes).mean() == pytest.approx(summary["accuracy"])
