"""Training nodes: the recipe (:mod:`expressions_ensemble.training.recipe`) on a source's face crops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from expressions_ensemble.imaging import decode_image
from expressions_ensemble.models import LoadedModel, ModelSpec
from expressions_ensemble.training.data import weak_label_table
from expressions_ensemble.training.loop import CheckpointStore
from expressions_ensemble.training.recipe import (
    ImageReader,
    TrainingParams,
    crop_geometry_of,
    evaluate_recipe,
    split_recipe,
    train_recipe,
)
from expressions_ensemble.training.splits import split_counts, test_split


def build_training_table(source: str, photo_manifest: pd.DataFrame, faces: pd.DataFrame) -> pd.DataFrame:
    """Every photo that reached face extraction, with its label, content group and outcome, and the
    geometry its crop was made with (``crop_geometry``; null where the faces manifest predates it), so
    the model records the crops it was trained on."""
    table = weak_label_table(source, photo_manifest, faces)
    made = {}
    if "crop_geometry" in faces:
        made = dict(zip(faces["image_id"].astype(str), faces["crop_geometry"], strict=True))
    return table.assign(crop_geometry=table["image_id"].map(made))


def split_training_table(table: pd.DataFrame, params: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train/validation split (content-grouped, stratified) and the counts of what was used and left out;
    a search that never asked for a class trains without it."""
    return split_recipe(table, params, searched_only=True)


def split_test_table(table: pd.DataFrame, params: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A test-only source: every usable photo of the training classes in the ``test`` split, counted."""
    p = TrainingParams.from_params(params)
    split = test_split(table, p.classes, searched_only=True)
    return split, split_counts(split)


def _crop_reader(crops: Mapping[str, bytes]) -> ImageReader:
    return lambda row: decode_image(crops[row["path"]])


def train_model(
    source: str,
    split: pd.DataFrame,
    crops: Mapping[str, bytes],
    params: Mapping[str, Any],
    checkpoints: CheckpointStore,
) -> tuple[tuple[torch.nn.Module, ModelSpec], pd.DataFrame, dict[str, Any]]:
    """Train the recipe on a source's face crops: the model artifact (with the crops' geometry), its
    history and MLflow metrics."""
    crop = crop_geometry_of(split, source)
    return train_recipe(source, split, _crop_reader(crops), params, checkpoints, crop=crop)


def evaluate_model(
    source: str, model: LoadedModel, split: pd.DataFrame, crops: Mapping[str, bytes]
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any], Figure, pd.DataFrame]:
    """Scores on the validation split: summary, per-class table, MLflow metrics and confusion matrix."""
    return evaluate_recipe(source, model, split, _crop_reader(crops), "val")
