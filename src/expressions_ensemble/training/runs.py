"""The study's per-run training table: one row per trained model, from the training outputs themselves.

Samples per split and per class (the split counts), the best validation accuracy and macro-F1, epochs
and seconds (the history), and per-class recall on the split each model was scored on (its
evaluation: a source's validation split, a comparison dataset's test split). The report's
recall-by-run figure reads the ``recall_<class>`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

#: Columns of the split counts that are not images used by a split (reasons an image was left out).
_LEFT_OUT = ("class_not_used", "no_face", "unreadable", "dropped")


def training_run_row(
    name: str,
    kind: str,
    evaluation: Mapping[str, Any],
    split_counts: pd.DataFrame,
    history: pd.DataFrame,
) -> dict[str, Any]:
    """One model's row of the training table (see the module docstring)."""
    counts = split_counts.set_index("label")
    splits = [c for c in counts.columns if c not in _LEFT_OUT]
    row: dict[str, Any] = {"run": name, "kind": kind}
    row |= {f"n_{s}": int(counts[s].sum()) for s in splits}
    if "train" in counts.columns:
        row |= {f"train_{label}": int(n) for label, n in counts["train"].items() if n > 0}
    best = history.loc[history["val_macro_f1"].idxmax()] if not history.empty else None
    row["epochs"] = len(history)
    row["best_epoch"] = int(best["epoch"]) if best is not None else None
    row["best_val_accuracy"] = float(best["val_accuracy"]) if best is not None else None
    row["best_val_macro_f1"] = float(best["val_macro_f1"]) if best is not None else None
    row["seconds"] = float(history["seconds"].max()) if not history.empty else None
    row["scored_split"] = evaluation.get("split")
    row["scored_accuracy"] = evaluation.get("accuracy")
    row["scored_macro_f1"] = evaluation.get("macro_f1")
    row |= {f"recall_{label}": float(r) for label, r in (evaluation.get("recall") or {}).items()}
    return row


def training_runs_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as one table, identifying columns first, then counts, scores and recalls."""
    table = pd.DataFrame(rows)
    recall = [c for c in table.columns if c.startswith("recall_")]
    return table[[c for c in table.columns if c not in recall] + recall]
