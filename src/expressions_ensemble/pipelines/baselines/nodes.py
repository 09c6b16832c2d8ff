"""Baseline nodes: curated datasets in their published layouts through the same training recipe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from expressions_ensemble.models import LoadedModel, ModelSpec
from expressions_ensemble.sources.curated import load_image, read_curated
from expressions_ensemble.training.loop import CheckpointStore
from expressions_ensemble.training.recipe import evaluate_recipe, split_recipe, train_recipe

#: Keys of a baseline's entry that are not the reader's parameters.
ENTRY_KEYS = ("kind", "enabled", "training", "bagging")


def _training(training: Mapping[str, Any], dataset: Mapping[str, Any]) -> dict[str, Any]:
    """The shared recipe with the dataset's own overrides (e.g. grayscale input for grey datasets)."""
    return {**training, **(dataset.get("training") or {})}


def read_baseline(name: str, dataset: Mapping[str, Any]) -> pd.DataFrame:
    """The dataset's labelled image table: every line, frame or file, with its published split."""
    reader_params = {k: v for k, v in dataset.items() if k not in ENTRY_KEYS}
    return read_curated(dataset.get("kind"), reader_params, where=f"baselines.datasets.{name}")


def split_baseline(
    table: pd.DataFrame, training: Mapping[str, Any], dataset: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Published splits kept; a validation split carved from the training rows where none is published."""
    return split_recipe(table, _training(training, dataset))


def train_baseline(
    name: str,
    split: pd.DataFrame,
    training: Mapping[str, Any],
    dataset: Mapping[str, Any],
    checkpoints: CheckpointStore,
) -> tuple[tuple[torch.nn.Module, ModelSpec], pd.DataFrame, dict[str, Any]]:
    """The recipe on a curated dataset's images."""
    return train_recipe(name, split, load_image, _training(training, dataset), checkpoints)


def evaluate_baseline(
    name: str, model: LoadedModel, split: pd.DataFrame
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any], Figure, pd.DataFrame]:
    """Scores on the published test split (the validation split where a dataset publishes none); the
    per-image logits are the validation split's, for ensembles to calibrate on without seeing the test."""
    on = "test" if (split["split"] == "test").any() else "val"
    return evaluate_recipe(name, model, split, load_image, on, predictions_on="val")
