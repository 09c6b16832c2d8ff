"""Bagging: disjoint shares of the parent's training groups, class balance by boost factors."""

from __future__ import annotations

import pandas as pd
import pytest

from expressions_ensemble.training.bagging import BaggingParams, bag_names, bag_split, bag_with_counts


def _split() -> pd.DataFrame:
    """A parent split: 40 happy (in groups of two duplicates), 10 fear, 6 sad train rows; 5 val rows."""
    rows = []
    for label, n, dup in (("happy", 40, 2), ("fear", 10, 1), ("sad", 6, 1)):
        for i in range(n):
            rows.append(
                {"image_id": f"{label}{i}", "label": label, "group": f"{label}g{i // dup}", "split": "train"}
            )
    for i in range(5):
        rows.append({"image_id": f"v{i}", "label": "happy", "group": f"v{i}", "split": "val"})
    return pd.DataFrame(rows).assign(dataset="p", outcome="ok", path="x")


def test_bags_are_disjoint_by_content_group_and_keep_the_validation_rows():
    split = _split()
    params = BaggingParams.from_params({"k": 2, "boost": "none"}, "b")
    bags = [bag_split(split, params, i) for i in (1, 2)]
    trained = [set(b.loc[b["split"] == "train", "image_id"]) for b in bags]
    assert not trained[0] & trained[1]
    assert trained[0] | trained[1] == set(split.loc[split["split"] == "train", "image_id"])
    for b in bags:
        groups = b.loc[b["split"] == "train", "group"]
        assert not set(groups) & set(b.loc[b["outcome"] == "other_bag", "group"])  # duplicates move together
        assert set(b.loc[b["split"] == "val", "image_id"]) == {f"v{i}" for i in range(5)}
        assert len(b[b["repeat"] == 0]) == len(split)  # every parent row is there, with its outcome
    assert bag_names("fer2013", 2) == ("fer2013_bag1", "fer2013_bag2")


def test_balanced_boost_repeats_minority_classes_up_to_the_largest():
    bag, counts = bag_with_counts(_split(), {"k": 2, "boost": "balanced", "seed": 1}, 1, "b")
    per_class = bag[bag["split"] == "train"].groupby("label").size()
    assert per_class["happy"] == 20 and per_class["fear"] == 20 and per_class["sad"] == 20
    assert set(bag.loc[bag["repeat"] == 1, "label"]) == {"fear", "sad"}
    assert counts.set_index("label").loc["happy", "other_bag"] == 20


def test_explicit_boost_factors_and_subsampling():
    bag = bag_split(
        _split(), BaggingParams.from_params({"k": 2, "boost": {"fear": 2.0, "happiness": 0.5}}, "b"), 2
    )
    per_class = bag[bag["split"] == "train"].groupby("label").size()
    assert per_class["fear"] == 10 and per_class["happy"] == 10 and per_class["sad"] == 3
    assert (bag["outcome"] == "subsampled").sum() == 10


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"k": 1}, r"b\.k: got 1; allowed: an integer >= 2"),
        ({"k": 2, "boost": "even"}, r"b\.boost: got 'even'; allowed: balanced, none"),
        ({"k": 2, "boost": {"bored": 2}}, r"b\.boost: unknown emotion 'bored'"),
        ({"k": 2, "boost": {"fear": -1}}, r"b\.boost\.fear: got -1"),
        ({"k": 2, "bags": 3}, r"b: unknown keys \['bags'\]"),
    ],
)
def test_bad_parameters_name_the_key(params, pattern):
    with pytest.raises(ValueError, match=pattern):
        BaggingParams.from_params(params, "b")
