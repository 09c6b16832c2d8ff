"""The training recipe as functions of a training table: train a model, evaluate it.

Weak-label sources and curated comparison datasets differ only in how a row's image is read (a face
crop from the photo store, or a file / inline image of a curated dataset), so both pipelines call
:func:`train_recipe` and :func:`evaluate_recipe` with their own ``read``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from expressions_ensemble import metrics
from expressions_ensemble.evaluation import score_predictions
from expressions_ensemble.imaging import DATASET_FRAMING, CropGeometry, validate_preprocessing
from expressions_ensemble.labels import STUDY_CLASSES, validate_classes
from expressions_ensemble.models import (
    LoadedModel,
    ModelSpec,
    check_backbone,
    create_model,
    data_config,
    freeze,
    validate_trainable,
)
from expressions_ensemble.training.data import decode_images
from expressions_ensemble.training.loop import CheckpointStore, FitConfig, fit, predict_logits
from expressions_ensemble.training.splits import split_counts, split_table

logger = logging.getLogger(__name__)

ImageReader = Callable[[pd.Series], np.ndarray]


@dataclass(frozen=True)
class TrainingParams:
    """Validated ``training`` parameters: the class set, the split, the model and the optimisation."""

    classes: tuple[str, ...] = STUDY_CLASSES
    val_fraction: float = 0.2
    backbone: str = "tf_efficientnet_lite0"
    pretrained: str = "offline"
    trainable: Any = "all"
    input_size: int | None = None  # None: the backbone's own
    preprocessing: str = "rgb"
    fit: FitConfig = field(default_factory=FitConfig)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainingParams:
        own = {f.name for f in fields(cls)} - {"fit"}
        fit_keys = {f.name for f in fields(FitConfig)}
        unknown = set(params) - own - fit_keys
        if unknown:
            raise ValueError(f"training: unknown keys {sorted(unknown)}; allowed: {sorted(own | fit_keys)}")
        size = params.get("input_size")
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 1024
        ):
            raise ValueError(
                f"training.input_size: got {size!r}; allowed: null or an integer from 16 to 1024"
            )
        p = cls(
            classes=validate_classes(params.get("classes", STUDY_CLASSES), key="training.classes"),
            val_fraction=float(params.get("val_fraction", 0.2)),
            backbone=str(params.get("backbone", cls.backbone)),
            pretrained=str(params.get("pretrained", cls.pretrained)),
            trainable=validate_trainable(params.get("trainable", "all"), key="training.trainable"),
            input_size=size,
            preprocessing=validate_preprocessing(
                params.get("preprocessing", "rgb"), "training.preprocessing"
            ),
            fit=FitConfig(**{k: v for k, v in params.items() if k in fit_keys}),
        )
        # before any data is read: an unavailable backbone fails now, naming what can be used offline
        check_backbone(p.backbone, p.pretrained, key="training.backbone")
        return p


def split_recipe(
    table: pd.DataFrame, params: Mapping[str, Any], searched_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training table split as the recipe's parameters say, and its counts (what was left out, why).

    The parameters are validated first, so an unavailable backbone fails before any image is read.
    ``searched_only`` (weak-label sources): classes the source has no photo of are left out
    (:func:`trained_classes`), where a curated dataset missing a class fails.
    """
    p = TrainingParams.from_params(params)
    split = split_table(table, p.classes, p.val_fraction, p.fit.seed, searched_only=searched_only)
    return split, split_counts(split)


def crop_geometry_of(split: pd.DataFrame, where: str) -> CropGeometry:
    """The one geometry the crops of the split's used rows were made with (``crop_geometry`` column,
    written by face extraction). A table without it (a faces manifest written before it was recorded)
    gives the base env's defaults, marked ``assumed``, with a warning; crops of several geometries
    (face extraction re-run with other settings over part of the photos) are an error."""
    used = split[split["split"].notna()] if "split" in split else split
    values = used["crop_geometry"].dropna().unique() if "crop_geometry" in used else []
    if len(values) > 1:
        counts = used["crop_geometry"].value_counts().to_dict()
        raise ValueError(
            f"{where}: the training crops were made with {len(values)} crop geometries ({counts}); re-run "
            f"face_extraction for this source so that every crop has the same"
        )
    if len(values) == 1:
        return CropGeometry.from_dict(json.loads(values[0]), key=f"{where}.crop_geometry")
    crop = CropGeometry(assumed=True)
    logger.warning(
        "%s: the face crops do not record their geometry (faces manifest written before it was): "
        "assuming the base env's defaults %s; re-run face_extraction to record it", where, crop.to_dict(),
    )  # fmt: skip
    return crop


def trained_classes(name: str, split: pd.DataFrame, wanted: Sequence[str]) -> tuple[str, ...]:
    """The classes of ``training.classes`` that the split's training rows have: a weak-label search
    covers the classes it searched for (the real web searches have 3 to 5 of the study's 5), and a head
    for a class without a single photo would only learn never to say it. The model knows these classes
    and ensembles combine members by class name. Fewer than two is an error."""
    present = set(split.loc[split["split"] == "train", "label"])
    classes = tuple(c for c in wanted if c in present)
    if len(classes) < 2:
        raise ValueError(
            f"{name}: training.classes {list(wanted)}: the training split has photos of {sorted(present)}; "
            f"a classifier needs at least two of its classes"
        )
    if absent := [c for c in wanted if c not in present]:
        logger.info("%s: no training photo of %s: the model knows %s", name, absent, list(classes))
    return classes


def train_recipe(
    name: str, split: pd.DataFrame, read: ImageReader, params: Mapping[str, Any],
    checkpoints: CheckpointStore | None, *, crop: CropGeometry,
) -> tuple[tuple[torch.nn.Module, ModelSpec], pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """Train the recipe on the split's train rows, validated on its val rows; ``crop`` is how the
    images were framed: stored in the model's spec and part of the checkpoint's fingerprint, so a
    checkpoint of crops made otherwise is never resumed."""
    p = TrainingParams.from_params(params)
    classes = trained_classes(name, split, p.classes)
    torch.manual_seed(p.fit.seed)  # the new classifier head's initialisation is part of the recipe's seed
    model = create_model(p.backbone, classes, p.pretrained, key="training.backbone")
    n_trainable = freeze(model, p.trainable, key="training.trainable")
    cfg = data_config(model)
    size = p.input_size or cfg.input_size
    used = split[split["split"].isin(["train", "val"])].copy()
    images, used = decode_images(used, read, size, p.preprocessing, desc=f"{name}: decode")
    used = used[used["split"].notna()]
    if n_out := int((~used["label"].isin(classes)).sum()):  # validation photos of a class nobody trains
        logger.warning("%s: %d validation images of classes without training photos not used", name, n_out)
        used = used[used["label"].isin(classes)]
    codes = metrics.encode_labels(used["label"].tolist(), classes)
    is_train = np.array(used["split"] == "train", dtype=bool)  # writable: torch indexes with it
    # the geometry the training crops were made with; a dataset's own framing made none of them (its
    # margin and shift only frame a film's faces for the model), so changing it keeps the checkpoint
    made = {"detector": DATASET_FRAMING} if crop.detector == DATASET_FRAMING else crop.to_dict()
    geometry = json.dumps({k: v for k, v in made.items() if k != "assumed"}, sort_keys=True)
    data_key = (
        ",".join(used["image_id"].astype(str))
        + f"|{size}|{p.preprocessing}|{p.backbone}|{p.trainable}|crop={geometry}"
    )
    logger.info(
        "%s: training %s (%s weights, %d trainable values) on %d images, validating on %d, input %d",
        name, p.backbone, p.pretrained, n_trainable, is_train.sum(), (~is_train).sum(), size,
    )  # fmt: skip
    tensor = torch.from_numpy(images)
    result = fit(
        model, tensor[is_train], codes[is_train], tensor[~is_train], codes[~is_train], len(classes),
        cfg.mean, cfg.std, p.fit, checkpoints=checkpoints, data_key=data_key,
    )  # fmt: skip
    counts = used.groupby(["split", "label"]).size()
    spec = ModelSpec.from_model(
        model, classes, preprocessing=p.preprocessing, trainable=p.trainable, pretrained=p.pretrained,
        input_size=size, test_time_flip=p.fit.test_time_flip, crop=crop,
        metadata={
            "trained_on": name, "best_epoch": result.best_epoch, "stopped": result.stopped,
            "best_val_macro_f1": result.best_val_macro_f1, "seconds": round(result.seconds, 1),
            "class_counts": {f"{s}.{c}": int(n) for (s, c), n in counts.items()},
        },
    )  # fmt: skip
    history = result.history.assign(model=name)
    mlflow_history = {
        key: [
            {"value": float(v), "step": int(e)} for e, v in zip(history["epoch"], history[key], strict=True)
        ]
        for key in ("train_loss", "val_loss", "val_accuracy", "val_macro_f1")
    }
    mlflow_history |= {
        f"train_count.{c}": {"value": float(counts.get(("train", c), 0)), "step": 0} for c in p.classes
    }
    return (model.to(memory_format=torch.contiguous_format), spec), history, mlflow_history


def _split_logits(
    name: str, model: LoadedModel, split: pd.DataFrame, read: ImageReader, on: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``on`` rows that decoded and the model's logits for them."""
    spec = model.spec
    rows = split[split["split"] == on].copy()
    images, rows = decode_images(rows, read, spec.input_size, spec.preprocessing, desc=f"{name}: {on}")
    rows = rows[rows["split"].notna()]
    logits = predict_logits(
        model.model, torch.from_numpy(images), spec.mean, spec.std, flip=spec.test_time_flip
    ).numpy()
    return rows, logits


def evaluate_recipe(
    name: str, model: LoadedModel, split: pd.DataFrame, read: ImageReader, on: str,
    predictions_on: str = "val",
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any], Figure, pd.DataFrame]:  # fmt: skip
    """Scores of ``model`` on the ``on`` split: summary, per-class table, MLflow metrics, confusion
    figure; and the per-image logits of the ``predictions_on`` split, the validation split by default:
    what an ensemble fits its temperatures and weights on, so never the test split it is scored on."""
    rows, logits = _split_logits(name, model, split, read, on)
    classes = list(model.spec.classes)
    scores = score_predictions(rows["label"].tolist(), logits, classes, test_classes=classes)
    per_class = scores.per_class().assign(model=name, split=on)
    per_class = per_class[["model", "split", "class", "support", "precision", "recall", "f1"]]
    cm = scores.confusion
    summary = {
        "model": name, "split": on, "n_images": int(cm.sum()), "accuracy": scores.accuracy,
        "macro_f1": scores.macro_f1, "classes": classes, "confusion_matrix": cm.tolist(),
        "recall": dict(zip(classes, per_class["recall"].round(4).tolist(), strict=True)),
    }  # fmt: skip
    metric_values = {"accuracy": summary["accuracy"], "macro_f1": summary["macro_f1"]}
    metric_values |= {f"recall.{c}": float(r) for c, r in zip(classes, per_class["recall"], strict=True)}
    figure = confusion_figure(cm, classes, f"{name} ({on}, macro-F1 {summary['macro_f1']:.3f})")
    if predictions_on != on:
        rows, logits = _split_logits(name, model, split, read, predictions_on)
    predictions = pd.DataFrame(
        {
            "image_id": rows["image_id"].astype(str).to_numpy(), "label": rows["label"].to_numpy(),
            "split": predictions_on,
        }
    )  # fmt: skip
    for i, c in enumerate(classes):
        predictions[f"logit_{c}"] = logits[:, i] if len(logits) else np.empty(0, np.float32)
    mlflow_metrics = {k: {"value": float(v), "step": 0} for k, v in metric_values.items()}
    return summary, per_class, mlflow_metrics, figure, predictions


def confusion_figure(cm: np.ndarray, classes: list[str], title: str) -> Figure:
    """Row-normalised confusion matrix with counts, as the study showed them."""
    fig = Figure(figsize=(1.1 * len(classes) + 2, 1.0 * len(classes) + 1.5))
    ax = fig.subplots()
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{cm[i, j]}\n{rates[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (weak label)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
