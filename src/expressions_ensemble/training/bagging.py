"""Bagging: K members trained on disjoint, class-balanced shares of one source's training split.

As in the Aff-Wild2 multi-task study's ensemble, each member sees different images, so members err
differently. A bag is derived from the parent's split table (the parent keeps its own model):

- the parent's *training* groups of each class are shuffled (seeded) and dealt round-robin into K
  disjoint shares, so no photo (nor its duplicate: whole content groups move) is in two bags;
- within a bag, each class is resampled by its boost factor: ``balanced`` boosts every class to the
  bag's largest class, a mapping ``{class: factor}`` gives the factors (1 for classes not named);
  a factor above 1 repeats images (whole copies, then a seeded remainder), below 1 subsamples;
- the parent's validation (and published test) rows are kept as they are, so every bag is validated
  and early-stopped on the same images as the parent.

Rows of other bags stay in the table with the outcome ``other_bag``, so each bag's split counts show
every row of the parent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from expressions_ensemble.labels import validate_classes
from expressions_ensemble.training.splits import split_counts


@dataclass(frozen=True)
class BaggingParams:
    """Validated ``bagging`` entry of a source or comparison dataset."""

    k: int
    boost: str | dict[str, float] = "balanced"
    seed: int = 42

    @classmethod
    def from_params(cls, params: Mapping[str, Any], key: str) -> BaggingParams:
        allowed = {"k", "boost", "seed"}
        if unknown := set(params) - allowed:
            raise ValueError(f"{key}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        k = params.get("k")
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"{key}.k: got {k!r}; allowed: an integer >= 2 (the number of bags)")
        boost = params.get("boost", "balanced")
        if isinstance(boost, Mapping):
            classes = validate_classes(list(boost), key=f"{key}.boost")
            factors = {c: boost[name] for c, name in zip(classes, boost, strict=True)}
            for c, v in factors.items():
                if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < float(v) <= 100:
                    raise ValueError(f"{key}.boost.{c}: got {v!r}; allowed: a number in (0, 100]")
            boost = {c: float(v) for c, v in factors.items()}
        elif boost not in ("balanced", "none"):
            raise ValueError(
                f"{key}.boost: got {boost!r}; allowed: balanced, none, or a mapping of class to factor"
            )
        seed = params.get("seed", 42)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"{key}.seed: got {seed!r}; allowed: an integer")
        return cls(k=k, boost=boost, seed=seed)


def bag_names(parent: str, k: int) -> tuple[str, ...]:
    """The namespaces of a parent's bags: ``<parent>_bag1`` … ``<parent>_bagK``."""
    return tuple(f"{parent}_bag{i}" for i in range(1, k + 1))


def _factors(counts: pd.Series, boost: str | dict[str, float]) -> dict[str, float]:
    if boost == "none":
        return {c: 1.0 for c in counts.index}
    if boost == "balanced":
        top = counts.max()
        return {c: float(top / n) if n else 1.0 for c, n in counts.items()}
    return {c: boost.get(c, 1.0) for c in counts.index}


def bag_split(split: pd.DataFrame, params: BaggingParams, index: int) -> pd.DataFrame:
    """Bag ``index`` (1-based) of a parent's split table (see the module docstring)."""
    if not 1 <= index <= params.k:
        raise ValueError(f"bag index {index} outside 1..{params.k}")
    out = split.reset_index(drop=True)
    train = out["split"] == "train"
    rng = np.random.default_rng([params.seed, params.k])
    mine = np.zeros(len(out), dtype=bool)
    for _label, part in out[train].groupby("label", sort=True):
        groups = part["group"].drop_duplicates().to_numpy()
        order = rng.permutation(len(groups))
        chosen = set(groups[order[index - 1 :: params.k]].tolist())
        mine |= (train & out["group"].isin(chosen)).to_numpy()
    other = train.to_numpy() & ~mine
    out.loc[other, ["split", "outcome"]] = [None, "other_bag"]
    kept = out[mine]
    counts = kept.groupby("label").size()
    if counts.empty:
        raise ValueError(f"bag {index} of {params.k}: no training image left; use fewer bags")
    factors = _factors(counts, params.boost)
    pick = np.random.default_rng([params.seed, params.k, index])
    extra = []
    drop = []
    for label, n in counts.items():
        rows = kept.index[kept["label"] == label].to_numpy()
        target = max(1, int(math.floor(n * factors[label] + 0.5)))
        if target < n:
            drop.extend(pick.choice(rows, size=n - target, replace=False).tolist())
        else:
            copies, rest = divmod(target - n, n)
            extra.extend(np.tile(rows, copies).tolist())
            extra.extend(pick.choice(rows, size=rest, replace=False).tolist())
    out.loc[drop, ["split", "outcome"]] = [None, "subsampled"]
    repeated = out.loc[extra].assign(repeat=1)  # ``repeat`` > 0: a boosted copy of a row above
    return pd.concat([out.assign(repeat=0), repeated], ignore_index=True)


def bag_with_counts(
    split: pd.DataFrame, bagging: Mapping[str, Any], index: int, key: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bag ``index`` of a parent's split and its counts (the bag pipelines' split node).

    ``bagging`` is the parent's raw ``bagging`` entry, validated here; ``key`` names it in errors.
    """
    bag = bag_split(split, BaggingParams.from_params(bagging, key), index)
    return bag, split_counts(bag)
