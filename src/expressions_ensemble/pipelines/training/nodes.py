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
    evaluate_recipe,
    split_recipe,
    train_recipe,
)
from expressions_ensemble.training.splits import split_counts, test_split


def build_training_table(source: str, photo_manifest: pd.DataFrame, faces: pd.DataFrame) -> pd.DataFrame:
    """Every photo that reached face extraction, with its label, content group and outcome."""
    return weak_label_table(source, photo_manifest, faces)


def split_training_table(table: pd.DataFrame, params: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train/validation split (content-grouped, stratified) and the counts of what was used and left out."""
    return split_recipe(table, params)


def split_test_table(table: pd.DataFrame, params: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A test-only source: every usable photo of the training classes in the ``test`` split, counted."""
    p = TrainingParams.from_params(params)
    split = test_split(table, p.classes)
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
    """Train the recipe on a source's face crops: the model artifact, its history and MLflow metrics."""
    return train_recipe(source, split, _crop_reader(crops), params, checkpoints)


def evaluate_model(
    source: str, model: LoadedModel, split: pd.DataFrame, crops: Mapping[str, bytes]
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any], Figure, pd.DataFrame]:
    """Scores on the validation split: summary, per-class table, MLflow metrics and confusion matrix."""
    return evaluate_recipe(source, model, split, _crop_reader(crops), "val")
