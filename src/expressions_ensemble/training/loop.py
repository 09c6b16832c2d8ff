"""The training loop: one recipe for every source and comparison dataset.

Images arrive decoded and resized once, as a uint8 tensor (N, 3, H, W); each batch is converted,
augmented and normalised on the fly, so no photo is decoded twice. Early stopping watches validation
macro-F1 and keeps the best weights; an optional checkpoint store lets an interrupted run resume at
the epoch after the last one finished.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from timm.utils.model_ema import ModelEmaV3
from torch import nn

from expressions_ensemble import metrics
from expressions_ensemble.imaging import normalise_, to_unit_float
from expressions_ensemble.models import freeze_norm_statistics
from expressions_ensemble.models.scoring import infer_logits
from expressions_ensemble.training.augment import augment_batch, get_preset

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
IMBALANCE = ("none", "weighted_loss", "balanced_sampler")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the message says where and what to change."""


@dataclass(frozen=True)
class FitConfig:
    """Validated optimisation settings (the study: Adam, 3e-4, batch 32, 30 epochs, seed 42)."""

    optimizer: str = "adam"
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 30
    patience: int = 5  # epochs without a better validation macro-F1 before stopping
    seed: int = 42
    augmentation: str = "light"
    imbalance: str = "none"
    schedule: str = "constant"  # learning rate over the epochs: constant | cosine (decays to 0 at the last)
    label_smoothing: float = 0.0
    test_time_flip: bool = False  # validate (and later predict) on the crop and its mirror image
    # 0 = off; else validate and keep an exponential moving average of the weights (timm's ModelEmaV3,
    # decay warmed up from 0 to this value), which smooths the last epochs' noise out of the model
    ema_decay: float = 0.0
    threads: int = 0  # 0 = all cores

    def __post_init__(self) -> None:
        checks = [
            (self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}"),
            (self.imbalance in IMBALANCE, "imbalance", f"one of {', '.join(IMBALANCE)}"),
            (self.schedule in SCHEDULES, "schedule", f"one of {', '.join(SCHEDULES)}"),
            (0.0 <= self.label_smoothing < 1.0, "label_smoothing", "a number in [0, 1)"),
            (self.learning_rate > 0, "learning_rate", "a positive number"),
            (self.weight_decay >= 0, "weight_decay", "a non-negative number"),
            (self.batch_size >= 1, "batch_size", "a positive integer"),
            (self.epochs >= 1, "epochs", "a positive integer"),
            (self.patience >= 1, "patience", "a positive integer"),
            (self.threads >= 0, "threads", "0 (all cores) or a positive integer"),
            (isinstance(self.test_time_flip, bool), "test_time_flip", "true or false"),
            (0.0 <= self.ema_decay < 1.0, "ema_decay", "0 (off) or a number in (0, 1), e.g. 0.998"),
        ]
        for ok, key, allowed in checks:
            if not ok:
                raise ValueError(f"training.{key}: got {getattr(self, key)!r}; allowed: {allowed}")
        get_preset(self.augmentation)

    def fingerprint(self, extra: str = "") -> str:
        """Identifies a run for resuming: same settings and same data, or start afresh."""
        text = repr(sorted(asdict(self).items())) + extra
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class CheckpointStore(Protocol):
    """Where the last finished epoch is kept (see ``datasets.checkpoints``)."""

    def load(self, fingerprint: str) -> dict[str, Any] | None: ...

    def save(self, fingerprint: str, state: dict[str, Any]) -> None: ...

    def clear(self) -> None: ...


@dataclass
class FitResult:
    """Best weights, per-epoch history and why training stopped."""

    state_dict: dict[str, torch.Tensor]
    history: pd.DataFrame
    best_epoch: int
    best_val_macro_f1: float
    stopped: str
    seconds: float
    resumed_from: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _unit_batch(batch: torch.Tensor) -> torch.Tensor:
    # channels_last runs convolutions about 1.5x faster on this CPU (measured for EfficientNet-Lite0)
    return to_unit_float(batch).contiguous(memory_format=torch.channels_last)


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over the classes present."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n_classes, 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Start and end of each training batch; a last batch of one photo joins the one before, because
    batch norm in training mode fails on a single sample where the feature map is 1x1 (input 32)."""
    bounds = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _epoch_order(labels: np.ndarray, imbalance: str, rng: np.random.Generator) -> np.ndarray:
    if imbalance != "balanced_sampler":
        return rng.permutation(len(labels))
    counts = np.bincount(labels)
    p = 1.0 / counts[labels]
    return rng.choice(len(labels), size=len(labels), replace=True, p=p / p.sum())


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 128,
    flip: bool = False,
) -> torch.Tensor:
    """Logits for uint8 images (N, 3, H, W), in eval mode, batch by batch (``flip``: see infer_logits)."""
    model.eval()
    outs = [
        infer_logits(model, normalise_(_unit_batch(images[i : i + batch_size]), mean, std), flip)
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(outs) if outs else torch.empty(0)


def fit(
    model: nn.Module,
    train_images: torch.Tensor,
    train_labels: Sequence[int],
    val_images: torch.Tensor,
    val_labels: Sequence[int],
    n_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
    config: FitConfig,
    checkpoints: CheckpointStore | None = None,
    data_key: str = "",
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``model`` in place and return its best weights (by validation macro-F1)."""
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    y_train = np.array(train_labels, dtype=np.int64)  # a writable copy: batches index it
    y_val = np.array(val_labels, dtype=np.int64)
    model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("training.trainable leaves no parameter to train")
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(config.optimizer)
    if opt_cls is not None:
        optimizer = opt_cls(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(
            params, lr=config.learning_rate, momentum=0.9, weight_decay=config.weight_decay
        )
    weight = class_weights(y_train, n_classes) if config.imbalance == "weighted_loss" else None
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)
    val_loss_fn = nn.CrossEntropyLoss(weight=weight)
    preset = get_preset(config.augmentation)
    fingerprint = config.fingerprint(data_key)

    history: list[dict[str, float]] = []
    best_state = copy.deepcopy(model.state_dict())
    best_score, best_epoch, first_epoch, resumed_from = -1.0, 0, 1, None
    ema = ModelEmaV3(model, decay=config.ema_decay, use_warmup=True) if config.ema_decay else None
    batches = batch_bounds(len(y_train), config.batch_size)
    saved = checkpoints.load(fingerprint) if checkpoints is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if ema is not None:
            ema.module.load_state_dict(saved["ema"])
        history, best_state = saved["history"], saved["best_state"]
        best_score, best_epoch = saved["best_score"], saved["best_epoch"]
        first_epoch = resumed_from = saved["epoch"] + 1
        logger.info("resuming training at epoch %d (checkpoint %s)", first_epoch, fingerprint)

    stopped = "max_epochs"
    for epoch in range(first_epoch, config.epochs + 1):
        rng = np.random.default_rng([config.seed, epoch])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        order = _epoch_order(y_train, config.imbalance, rng)
        if config.schedule == "cosine":  # set per epoch from its number, so a resumed run gets the same rate
            rate = 0.5 * config.learning_rate * (1 + math.cos(math.pi * (epoch - 1) / config.epochs))
            for group in optimizer.param_groups:
                group["lr"] = rate
        model.train()
        freeze_norm_statistics(model)  # frozen stages keep their pretrained batch-norm statistics
        total, seen = 0.0, 0
        for b, (lo, hi) in enumerate(batches):
            idx = torch.from_numpy(order[lo:hi])
            x = augment_batch(_unit_batch(train_images[idx]), preset, gen)
            logits = model(normalise_(x, mean, std))
            loss = loss_fn(logits, torch.from_numpy(y_train[idx.numpy()]))
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"training loss became {loss.item()} at epoch {epoch}, batch {b}; lower "
                    f"training.learning_rate (now {config.learning_rate}) or check the input images. "
                    f"The last finished epoch ({epoch - 1}) is kept in the checkpoint for a re-run."
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model, step=(epoch - 1) * len(batches) + b + 1)
            total += loss.item() * len(idx)
            seen += len(idx)
        validated = ema.module if ema is not None else model  # the weights the best state is taken from
        logits = predict_logits(validated, val_images, mean, std, flip=config.test_time_flip)
        val_loss = float(val_loss_fn(logits, torch.from_numpy(y_val))) if len(y_val) else math.nan
        cm = metrics.confusion_matrix(y_val, logits.argmax(1).numpy(), n_classes)
        row = {
            "epoch": epoch,
            "train_loss": total / max(seen, 1),
            "val_loss": val_loss,
            "val_accuracy": metrics.accuracy(cm),
            "val_macro_f1": metrics.macro_f1(cm),
            "seconds": time.perf_counter() - start,
        }
        history.append(row)
        if progress is not None:
            progress(epoch, row)
        logger.info(
            "epoch %d/%d: train loss %.4f, val loss %.4f, val acc %.4f, val macro-F1 %.4f",
            epoch, config.epochs, row["train_loss"], val_loss, row["val_accuracy"], row["val_macro_f1"],
        )  # fmt: skip
        if row["val_macro_f1"] > best_score:
            best_score, best_epoch = row["val_macro_f1"], epoch
            best_state = copy.deepcopy(validated.state_dict())
        if checkpoints is not None:
            checkpoints.save(
                fingerprint,
                {
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "history": history, "best_state": best_state, "best_score": best_score,
                    "best_epoch": best_epoch, "ema": None if ema is None else ema.module.state_dict(),
                },
            )  # fmt: skip
        if epoch - best_epoch >= config.patience:
            stopped = "early_stopping"
            break
    model.load_state_dict(best_state)
    return FitResult(
        state_dict=best_state,
        history=pd.DataFrame(history),
        best_epoch=best_epoch,
        best_val_macro_f1=best_score,
        stopped=stopped,
        seconds=time.perf_counter() - start,
        resumed_from=resumed_from,
    )
