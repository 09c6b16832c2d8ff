"""Baseline nodes: curated datasets in their published layouts through the same training recipe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from expressions_ensemble.imaging import DATASET_FRAMING, CropGeometry
from expressions_ensemble.models import LoadedModel, ModelSpec
from expressions_ensemble.pipelines.face_extraction.nodes import FaceParams
from expressions_ensemble.sources.curated import read_curated
from expressions_ensemble.sources.curated.faces import detect_table_faces, reader_for
from expressions_ensemble.training.loop import CheckpointStore
from expressions_ensemble.training.recipe import evaluate_recipe, split_recipe, train_recipe
from expressions_ensemble.training.splits import split_counts

#: Keys of a baseline's entry that are not the reader's parameters.
ENTRY_KEYS = ("kind", "enabled", "training", "bagging", "framing")

#: ``framing:`` of a baseline: how its images and a film frame's detected faces are made to match.
FRAMING_KEYS = ("detect", "margin", "shift", "aligned")


def _training(training: Mapping[str, Any], dataset: Mapping[str, Any]) -> dict[str, Any]:
    """The shared recipe with the dataset's own overrides (e.g. grayscale input for grey datasets)."""
    return {**training, **(dataset.get("training") or {})}


def dataset_framing(
    name: str, dataset: Mapping[str, Any], faces: Mapping[str, Any] | None = None
) -> CropGeometry:
    """The crop geometry of a curated dataset's model.

    ``framing: {detect: true, margin, shift, aligned}``: every image is searched with the films'
    detector (``face_extraction``'s settings, given as ``faces``) and cropped as a film's face is, with
    this margin, shift and alignment where given (else face extraction's margin). Otherwise the images
    are used as the dataset framed them, and ``{margin, shift, aligned}`` say how a detected face is
    cropped to look like them (FER2013: measured in docs/datasets.md); without them, the detector
    crops' defaults."""
    key = f"baselines.datasets.{name}.framing"
    raw = dataset.get("framing") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{key}: expected a mapping with keys {', '.join(FRAMING_KEYS)}, got {raw!r}")
    if unknown := sorted(str(k) for k in raw if k not in FRAMING_KEYS):
        raise ValueError(f"{key}: unknown keys {unknown}; allowed: {', '.join(FRAMING_KEYS)}")
    detect = raw.get("detect", False)
    if not isinstance(detect, bool):
        raise ValueError(f"{key}.detect: got {detect!r}; allowed: true or false")
    own = {k: v for k, v in raw.items() if k != "detect"}
    try:
        if not detect:
            return CropGeometry.dataset_framing(**own)
        geometry = FaceParams.from_params(faces or {}).geometry()
        return CropGeometry.from_dict(geometry.to_dict() | own)
    except ValueError as exc:  # "crop.margin: got ...": the user's key path instead
        raise ValueError(f"{key}.{str(exc).removeprefix('crop.')}") from None


def read_baseline(name: str, dataset: Mapping[str, Any]) -> pd.DataFrame:
    """The dataset's labelled image table: every line, frame or file, with its published split."""
    reader_params = {k: v for k, v in dataset.items() if k not in ENTRY_KEYS}
    return read_curated(dataset.get("kind"), reader_params, where=f"baselines.datasets.{name}")


def split_baseline(
    name: str, table: pd.DataFrame, training: Mapping[str, Any], dataset: Mapping[str, Any],
    faces: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Published splits kept; a validation split carved from the training rows where none is published.
    With ``framing: {detect: true}`` the split's images are searched for their face (an image without
    one keeps its row, with that outcome, out of every split)."""
    split, counts = split_recipe(table, _training(training, dataset))
    crop = dataset_framing(name, dataset, faces)
    if crop.detector == DATASET_FRAMING:
        return split, counts
    split = detect_table_faces(split, crop, f"baselines.datasets.{name}")
    return split, split_counts(split)


def train_baseline(
    name: str,
    split: pd.DataFrame,
    training: Mapping[str, Any],
    dataset: Mapping[str, Any],
    faces: Mapping[str, Any],
    checkpoints: CheckpointStore,
) -> tuple[tuple[torch.nn.Module, ModelSpec], pd.DataFrame, dict[str, Any]]:
    """The recipe on a curated dataset's images: as the dataset framed them (the artifact says so,
    ``crop.detector: dataset_framing``, and a film's detected faces are framed for it as
    :func:`dataset_framing` says), or their detected faces cropped as a film's are."""
    crop = dataset_framing(name, dataset, faces)
    read = reader_for(crop, split, f"baselines.datasets.{name}")
    return train_recipe(name, split, read, _training(training, dataset), checkpoints, crop=crop)


def evaluate_baseline(
    name: str, model: LoadedModel, split: pd.DataFrame
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any], Figure, pd.DataFrame]:
    """Scores on the published test split (the validation split where a dataset publishes none), read
    as the model's artifact says its images were framed; the per-image logits are the validation
    split's, for ensembles to calibrate on without seeing the test."""
    on = "test" if (split["split"] == "test").any() else "val"
    read = reader_for(model.spec.crop, split, f"baselines.datasets.{name}")
    return evaluate_recipe(name, model, split, read, on, predictions_on="val")
