"""Baselines nodes: a curated dataset is scored on its test split, its logits kept for the validation."""

from __future__ import annotations

import torch

from expressions_ensemble.datasets.checkpoints import FileCheckpointStore
from expressions_ensemble.imaging import DATASET_FRAMING, CropGeometry
from expressions_ensemble.models import LoadedModel, ModelSpec, create_model
from expressions_ensemble.pipelines.baselines.nodes import evaluate_baseline, train_baseline
from expressions_ensemble.sources.curated.sim_lab import read_sim_lab
from expressions_ensemble.training.splits import split_table

CLASSES = ("angry", "happy", "sad")


def test_baseline_is_scored_on_test_and_hands_ensembles_its_validation_logits():
    table = read_sim_lab(per_class=8, seed=1, classes=CLASSES)
    split = split_table(table, CLASSES, 0.25, 0)
    assert {"train", "val", "test"} <= set(split["split"])
    torch.manual_seed(0)
    net = create_model("test_efficientnet", CLASSES, pretrained="none")
    spec = ModelSpec.from_model(net, CLASSES, input_size=32, crop=CropGeometry.dataset_framing())
    model = LoadedModel(net, spec)
    summary, per_class, _, _, predictions = evaluate_baseline("lab", model, split)
    assert summary["split"] == "test" and summary["n_images"] == int((split["split"] == "test").sum())
    assert set(per_class["split"]) == {"test"}
    # what calibration and f1 weights are fitted on: the validation rows, never the test rows
    val_ids = set(split.loc[split["split"] == "val", "image_id"].astype(str))
    assert set(predictions["split"]) == {"val"} and set(predictions["image_id"]) == val_ids
    assert [c for c in predictions.columns if c.startswith("logit_")] == [f"logit_{c}" for c in CLASSES]


def test_a_baseline_records_the_datasets_own_framing(tmp_path):
    table = read_sim_lab(per_class=6, seed=1, classes=CLASSES)
    split = split_table(table, CLASSES, 0.25, 0)
    training = {"classes": list(CLASSES), "backbone": "test_efficientnet", "pretrained": "none",
                "input_size": 32, "epochs": 1, "batch_size": 8, "threads": 1}  # fmt: skip
    (_, spec), _, _ = train_baseline("lab", split, training, {}, {}, FileCheckpointStore(tmp_path))
    assert spec.crop.detector == DATASET_FRAMING and not spec.crop.assumed
    assert spec.crop.face_policy is None  # no detector ran, no face was chosen
