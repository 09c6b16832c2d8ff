"""Baseline nodes: curated datasets in their published layouts through the same training recipe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from expressions_ensemble.imaging import CropGeometry
from expressions_ensemble.models import LoadedModel, ModelSpec
from expressions_ensemble.sources.curated import load_image, read_curated
from expressions_ensemble.training.loop import CheckpointStore
from expressions_ensemble.training.recipe import evaluate_recipe, split_recipe, train_recipe

#: Keys of a baseline's entry that are not the reader's parameters.
ENTRY_KEYS = ("kind", "enabled", "training", "bagging", "framing")

#: ``framing:`` of a baseline: how a detected face (a film frame's) is framed to look like its images.
FRAMING_KEYS = ("margin", "shift", "aligned")


def _training(training: Mapping[str, Any], dataset: Mapping[str, Any]) -> dict[str, Any]:
    """The shared recipe with the dataset's own overrides (e.g. grayscale input for grey datasets)."""
    return {**training, **(dataset.get("training") or {})}


def dataset_framing(name: str, dataset: Mapping[str, Any]) -> CropGeometry:
    """The crop geometry recorded for a curated dataset's model: its images were framed by the dataset,
    so ``framing: {margin, shift, aligned}`` says how a detected face is cropped to look like them
    (FER2013: measured in docs/datasets.md); without it, the detector crops' defaults."""
    key = f"baselines.datasets.{name}.framing"
    raw = dataset.get("framing") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{key}: expected a mapping with keys {', '.join(FRAMING_KEYS)}, got {raw!r}")
    if unknown := sorted(str(k) for k in raw if k not in FRAMING_KEYS):
        raise ValueError(f"{key}: unknown keys {unknown}; allowed: {', '.join(FRAMING_KEYS)}")
    try:
        return CropGeometry.dataset_framing(**raw)
    except ValueError as exc:  # "crop.margin: got ...": the user's key path instead
        raise ValueError(f"{key}.{str(exc).removeprefix('crop.')}") from None


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
    """The recipe on a curated dataset's images, as the dataset framed them: no detector ran, and the
    artifact says so (``crop.detector: dataset_framing``; a film's detected faces are framed for it as
    :func:`dataset_framing` says)."""
    crop = dataset_framing(name, dataset)
    return train_recipe(name, split, load_image, _training(training, dataset), checkpoints, crop=crop)


def evaluate_baseline(
    name: str, model: LoadedModel, split: pd.DataFrame
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any], Figure, pd.DataFrame]:
    """Scores on the published test split (the validation split where a dataset publishes none); the
    per-image logits are the validation split's, for ensembles to calibrate on without seeing the test."""
    on = "test" if (split["split"] == "test").any() else "val"
    return evaluate_recipe(name, model, split, load_image, on, predictions_on="val")
