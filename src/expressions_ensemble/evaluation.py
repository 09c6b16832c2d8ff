"""Scoring models on labelled test sets, and the cross-domain evaluation matrix built from those scores.

One function scores predictions against truth (:func:`score_predictions`), used by a model's own
validation (training, baselines) and by the matrix (every model × every test set), so both report the
same numbers the same way. A test set whose classes differ from a model's is scored on the classes they
share: rows whose true class the model does not know are left out and counted (``dropped_share``), and
the model's prediction is its most likely *shared* class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from expressions_ensemble import metrics
from expressions_ensemble.labels import EMOTIONS
from expressions_ensemble.models.scoring import Scorable, score_models

#: Columns of the evaluation matrix, before the per-class recall columns ``recall_<class>``.
MATRIX_COLUMNS = [
    "model", "model_kind", "domain", "domain_kind", "n_images", "n_unreadable", "n_scored", "dropped_share",
    "shared_classes", "accuracy", "macro_f1",
]  # fmt: skip
CONFUSION_COLUMNS = ["model", "domain", "true", "pred", "count"]


@dataclass(frozen=True)
class Scores:
    """A model's predictions on a test set, reduced to the confusion matrix over the shared classes."""

    classes: tuple[str, ...]
    confusion: np.ndarray
    n_images: int  # rows of the test set
    n_scored: int  # rows whose true class is a shared class

    @property
    def accuracy(self) -> float:
        return metrics.accuracy(self.confusion)

    @property
    def macro_f1(self) -> float:
        return metrics.macro_f1(self.confusion)

    def per_class(self) -> pd.DataFrame:
        cm = self.confusion
        predicted = cm.sum(axis=0)
        return pd.DataFrame(
            {
                "class": list(self.classes),
                "support": cm.sum(axis=1),
                "precision": np.divide(
                    np.diag(cm), predicted, out=np.zeros(len(self.classes)), where=predicted > 0
                ),
                "recall": metrics.per_class_recall(cm),
                "f1": metrics.per_class_f1(cm),
            }
        )

    def confusion_rows(self, model: str, domain: str) -> pd.DataFrame:
        """Long form ``model, domain, true, pred, count`` (the reporting pipeline's confusion input)."""
        k = len(self.classes)
        return pd.DataFrame(
            {
                "model": model,
                "domain": domain,
                "true": np.repeat(self.classes, k),
                "pred": np.tile(self.classes, k),
                "count": self.confusion.reshape(-1),
            },
            columns=CONFUSION_COLUMNS,
        )


def ordered_classes(labels: Sequence[object]) -> tuple[str, ...]:
    """The distinct canonical emotions among ``labels``, in :data:`EMOTIONS` order."""
    present = {x for x in labels if isinstance(x, str)}
    return tuple(e for e in EMOTIONS if e in present)


def score_predictions(
    labels: Sequence[object],
    probs: np.ndarray,
    model_classes: Sequence[str],
    test_classes: Sequence[str] | None = None,
) -> Scores:
    """Score class probabilities (columns in ``model_classes`` order) against true ``labels``.

    ``test_classes`` defaults to the classes present in ``labels``; scoring uses the classes the model
    and the test set share, in the model's order.
    """
    probs = np.asarray(probs)
    if probs.shape != (len(labels), len(model_classes)):
        raise ValueError(
            f"probabilities of shape {probs.shape} do not fit {len(labels)} rows and "
            f"{len(model_classes)} classes"
        )
    test = set(ordered_classes(labels) if test_classes is None else test_classes)
    shared = tuple(c for c in model_classes if c in test)
    truth = metrics.encode_labels(list(labels), shared)
    if shared:
        cols = [list(model_classes).index(c) for c in shared]
        pred = probs[:, cols].argmax(axis=1)
    else:
        pred = np.full(len(labels), metrics.UNKNOWN_CODE)
    cm = metrics.confusion_matrix(truth, pred, len(shared))
    return Scores(shared, cm, n_images=len(labels), n_scored=int((truth >= 0).sum()))


def score_chunks(
    chunks: Iterable[tuple[Sequence[np.ndarray], Sequence[object], int]],
    models: Mapping[str, Scorable],
    batch_size: int = 64,
) -> tuple[dict[str, np.ndarray], list[object], int]:
    """Every model's probabilities on the decoded chunks, the labels of the scored rows, and the count
    of rows that could not be decoded.

    ``chunks`` yields ``(images, labels, n_unreadable)`` (see ``training.data.iter_decoded``), an
    image being one crop, or a crop per crop framing of the models (each model reads its own); within
    a chunk each distinct preprocessing is prepared once and every model scores the same batches.
    """
    probs: dict[str, list[np.ndarray]] = {name: [] for name in models}
    labels: list[object] = []
    unreadable = 0
    for images, chunk_labels, failed in chunks:
        unreadable += failed
        labels.extend(chunk_labels)
        if len(images):
            if isinstance(images[0], Mapping):  # a crop per framing of each row: a list per framing
                images = {framing: [crops[framing] for crops in images] for framing in images[0]}
            for name, p in score_models(models, images, batch_size).items():
                probs[name].append(p)
    joined = {
        name: np.concatenate(probs[name]) if probs[name] else np.empty((0, len(model.classes)), np.float32)
        for name, model in models.items()
    }
    return joined, labels, unreadable


def matrix_rows(
    domain: str,
    domain_kind: str,
    chunks: Iterable[tuple[Sequence[np.ndarray], Sequence[object], int]],
    models: Mapping[str, Scorable],
    model_kinds: Mapping[str, str],
    batch_size: int = 64,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every model scored on one test set: matrix rows and long confusion rows."""
    probs, labels, unreadable = score_chunks(chunks, models, batch_size)
    return table_rows(domain, domain_kind, probs, labels, unreadable, models, model_kinds)


def table_rows(
    domain: str,
    domain_kind: str,
    probs: Mapping[str, np.ndarray],
    labels: Sequence[object],
    unreadable: int,
    models: Mapping[str, Scorable],
    model_kinds: Mapping[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Matrix rows and long confusion rows from each model's probabilities on a test set's rows."""
    rows, confusions = [], []
    for name, model in models.items():
        scores = score_predictions(labels, probs[name], model.classes)
        recall = dict(zip(scores.classes, metrics.per_class_recall(scores.confusion), strict=True))
        rows.append(
            {
                "model": name, "model_kind": model_kinds.get(name, "model"), "domain": domain,
                "domain_kind": domain_kind, "n_images": scores.n_images + unreadable,
                "n_unreadable": unreadable, "n_scored": scores.n_scored,
                "dropped_share": 1 - scores.n_scored / (scores.n_images + unreadable)
                if scores.n_images + unreadable else float("nan"),
                "shared_classes": ",".join(scores.classes),
                "accuracy": scores.accuracy, "macro_f1": scores.macro_f1,
                **{f"recall_{c}": float(r) for c, r in recall.items()},
            }
        )  # fmt: skip
        confusions.append(scores.confusion_rows(name, domain))
    table = pd.DataFrame(rows)
    recall_cols = [f"recall_{e}" for e in EMOTIONS if f"recall_{e}" in table.columns]
    table = table.reindex(columns=[*MATRIX_COLUMNS, *recall_cols])
    confusion = (
        pd.concat(confusions, ignore_index=True) if confusions else pd.DataFrame(columns=CONFUSION_COLUMNS)
    )
    return table, confusion


def rank_models(matrix: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The matrix with each model's rank per test set (by macro-F1), and the best model per test set
    with its lead over the runner-up."""
    out = matrix.copy()
    out["rank"] = out.groupby("domain")["macro_f1"].rank(ascending=False, method="min")
    best = []
    for domain, part in out.groupby("domain", sort=True):
        ordered = part.sort_values(["macro_f1", "accuracy"], ascending=False, na_position="last")
        top = ordered.iloc[0]
        second = ordered.iloc[1] if len(ordered) > 1 else None
        best.append(
            {
                "domain": domain, "domain_kind": top["domain_kind"], "best_model": top["model"],
                "best_macro_f1": top["macro_f1"], "best_accuracy": top["accuracy"],
                "runner_up": None if second is None else second["model"],
                "lead_macro_f1": np.nan if second is None else top["macro_f1"] - second["macro_f1"],
                "n_models": len(part),
            }
        )  # fmt: skip
    return out, pd.DataFrame(best)
