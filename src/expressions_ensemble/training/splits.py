"""Stratified train/validation splits with no identical photo on both sides.

Rows are grouped by content (``group`` column, e.g. the sha256 of the photo, or the video of an
Aff-Wild2 frame) and whole groups are assigned to one side, per class, in a seeded order. Rows that
cannot be used are kept in the table with an ``outcome`` saying why, so they can be counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from expressions_ensemble.labels import validate_classes


class SplitError(ValueError):
    """The data cannot be split as asked (missing class, too few images)."""


def split_table(
    table: pd.DataFrame,
    classes: Sequence[str],
    val_fraction: float = 0.2,
    seed: int = 42,
    key: str = "training",
) -> pd.DataFrame:
    """Add ``split`` (train / val) to the usable rows of ``table`` (columns label, group, outcome).

    Rows whose ``outcome`` is not ``ok`` keep it; rows of other classes get ``class_not_used``. Every
    class needs at least two groups so that both sides see it; a missing or too small class fails naming
    the class, its count and what to change.
    """
    classes = validate_classes(classes, key=f"{key}.classes")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"{key}.val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    missing_cols = {"label", "group", "outcome"} - set(table.columns)
    if missing_cols:
        raise ValueError(f"split_table needs columns {sorted(missing_cols)}")
    out = table.copy()
    out["split"] = None
    usable = out["outcome"] == "ok"
    out.loc[usable & ~out["label"].isin(classes), "outcome"] = "class_not_used"
    usable = out["outcome"] == "ok"
    if not usable.any():
        raise SplitError(f"{key}: no usable image for classes {list(classes)} (the dataset is empty)")
    groups = out.loc[usable].groupby("group", sort=False)["label"].agg(lambda s: s.iloc[0])
    rng = np.random.default_rng(seed)
    val_groups: set[object] = set()
    for label in classes:
        members = groups.index[groups.to_numpy() == label].to_numpy()
        if len(members) == 0:
            raise SplitError(
                f"{key}.classes: class {label!r} has no usable image in this dataset; "
                f"remove it from {key}.classes or add images labelled {label!r}"
            )
        if len(members) < 2:
            raise SplitError(
                f"{key}: class {label!r} has {len(members)} distinct image, at least 2 are needed for a "
                f"stratified split; remove it from {key}.classes or add images"
            )
        order = rng.permutation(len(members))
        n_val = min(len(members) - 1, max(1, math.floor(len(members) * float(val_fraction) + 0.5)))
        val_groups.update(members[order[:n_val]].tolist())
    in_val = out["group"].isin(val_groups)
    out.loc[usable & in_val, "split"] = "val"
    out.loc[usable & ~in_val, "split"] = "train"
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
