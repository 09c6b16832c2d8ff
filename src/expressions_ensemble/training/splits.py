"""Stratified train/validation splits with no identical photo on both sides.

Rows are grouped by content (``group`` column, e.g. the sha256 of the photo, or the video of an
Aff-Wild2 frame) and whole groups are assigned to one side, per class, in a seeded order. Rows that
cannot be used are kept in the table with an ``outcome`` saying why, so they can be counted; the class
set is applied by :func:`~expressions_ensemble.sources.curated.table.restrict_classes`, the one place
that marks ``class_not_used``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from expressions_ensemble.labels import validate_classes
from expressions_ensemble.sources.curated.table import restrict_classes


class SplitError(ValueError):
    """The data cannot be split as asked (missing class, too few images)."""


def split_table(
    table: pd.DataFrame,
    classes: Sequence[str],
    val_fraction: float = 0.2,
    seed: int = 42,
    key: str = "training",
    searched_only: bool = False,
) -> pd.DataFrame:
    """Mark rows outside ``classes`` and carve a validation split from the training rows
    (``searched_only``: see :func:`restrict_classes`; the classes without any row are not split).

    ``table`` has columns dataset, label, group, split (published split or null) and outcome. Rows with
    a published ``val`` or ``test`` split keep it; when there is no usable ``val`` row, whole groups of
    the remaining rows go to ``val`` per class. Every class needs at least two groups to be split; a
    missing or too small class fails naming the class, its count and what to change.
    """
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"{key}.val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    missing_cols = {"dataset", "label", "group", "split", "outcome"} - set(table.columns)
    if missing_cols:
        raise ValueError(f"split_table needs columns {sorted(missing_cols)}")
    if table.empty:
        raise SplitError(f"{key}: the dataset is empty: no image to train on")
    out = restrict_classes(table, classes, key=f"{key}.classes", searched_only=searched_only)
    out = out.astype({"split": object, "group": object})
    # a row without a group (most curated datasets) is its own group
    out["group"] = out["group"].where(out["group"].notna(), out["image_id"]).astype(str)
    classes = [c for c in validate_classes(classes) if not searched_only or (out["label"] == c).any()]
    usable = out["outcome"] == "ok"
    out.loc[~usable, "split"] = None
    if (usable & (out["split"] == "val")).any():
        out.loc[usable & out["split"].isna(), "split"] = "train"
        return out
    pool = usable & (out["split"].isna() | (out["split"] == "train"))
    groups = out.loc[pool].groupby("group", sort=False)["label"].agg(lambda s: s.iloc[0])
    rng = np.random.default_rng(seed)
    val_groups: set[object] = set()
    for label in classes:
        members = groups.index[groups.to_numpy() == label].to_numpy()
        if len(members) < 2:
            raise SplitError(
                f"{key}: class {label!r} has {len(members)} distinct training image(s), at least 2 are "
                f"needed for a stratified split; remove it from {key}.classes or add images"
            )
        order = rng.permutation(len(members))
        n_val = min(len(members) - 1, max(1, math.floor(len(members) * float(val_fraction) + 0.5)))
        val_groups.update(members[order[:n_val]].tolist())
    in_val = out["group"].isin(val_groups)
    out.loc[pool & in_val, "split"] = "val"
    out.loc[pool & ~in_val, "split"] = "train"
    return out


def test_split(
    table: pd.DataFrame, classes: Sequence[str], key: str = "training", searched_only: bool = False
) -> pd.DataFrame:
    """Every usable row of ``classes`` in the ``test`` split: a source that is only a test set."""
    missing_cols = {"dataset", "label", "group", "split", "outcome"} - set(table.columns)
    if missing_cols:
        raise ValueError(f"test_split needs columns {sorted(missing_cols)}")
    if table.empty:
        raise SplitError(f"{key}: the dataset is empty: no image to test on")
    out = restrict_classes(table, classes, key=f"{key}.classes", searched_only=searched_only)
    out = out.astype({"split": object})
    out["split"] = np.where(out["outcome"] == "ok", "test", None)
    return out


def split_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Images per label and split, plus every excluded row by outcome (the table of what was left out)."""
    used = table[table["split"].notna()]
    counts = used.pivot_table(index="label", columns="split", values="group", aggfunc="size", fill_value=0)
    left_out = table[table["split"].isna()]
    reasons = left_out.pivot_table(
        index="label", columns="outcome", values="group", aggfunc="size", fill_value=0
    )
    return counts.join(reasons, how="outer").fillna(0).astype("int64").reset_index()
