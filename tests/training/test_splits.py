import pandas as pd
import pytest

from expressions_ensemble.sources.curated.table import EmptyClassError
from expressions_ensemble.training.splits import SplitError, split_counts, split_table


def _table(n_per_class: dict[str, int], dup_groups: bool = False) -> pd.DataFrame:
    rows = []
    for label, n in n_per_class.items():
        for i in range(n):
            group = f"{label}-{i // 2}" if dup_groups else f"{label}-{i}"
            rows.append(
                {
                    "image_id": f"{label}{i}",
                    "dataset": "d",
                    "label": label,
                    "group": group,
                    "split": None,
                    "outcome": "ok",
                }
            )
    return pd.DataFrame(rows, columns=["image_id", "dataset", "label", "group", "split", "outcome"])


def test_stratified_and_seeded():
    table = _table({"happy": 50, "sad": 20, "angry": 10})
    a = split_table(table, ["happy", "sad", "angry"], 0.2, seed=1)
    b = split_table(table, ["happy", "sad", "angry"], 0.2, seed=1)
    c = split_table(table, ["happy", "sad", "angry"], 0.2, seed=2)
    assert a["split"].tolist() == b["split"].tolist() != c["split"].tolist()
    val = a[a["split"] == "val"]["label"].value_counts().to_dict()
    assert val == {"happy": 10, "sad": 4, "angry": 2}


def test_identical_photos_stay_on_one_side():
    out = split_table(_table({"happy": 40, "sad": 40}, dup_groups=True), ["happy", "sad"], 0.25, seed=0)
    assert (out.groupby("group")["split"].nunique() == 1).all()
    assert set(out["split"]) == {"train", "val"}


def test_rows_left_out_keep_a_reason():
    table = _table({"happy": 10, "sad": 10, "neutral": 5})
    table.loc[0, "outcome"] = "no_face"
    out = split_table(table, ["happy", "sad"], 0.2)
    assert out.loc[0, "split"] is None and out.loc[0, "outcome"] == "no_face"
    assert (out[out["label"] == "neutral"]["outcome"] == "class_not_used").all()
    counts = split_counts(out).set_index("label")
    assert counts.at["happy", "train"] + counts.at["happy", "val"] == 9 and counts.at["happy", "no_face"] == 1
    assert counts.at["neutral", "class_not_used"] == 5


@pytest.mark.parametrize(
    ("counts", "classes", "message"),
    [
        ({"happy": 10}, ["happy", "sad"], r"training\.classes: dataset d has no usable image of sad"),
        (
            {"happy": 10, "sad": 1},
            ["happy", "sad"],
            r"class 'sad' has 1 distinct training image\(s\), at least 2",
        ),
        ({}, ["happy"], r"the dataset is empty"),
        ({"happy": 3}, ["happy", "bored"], r"training\.classes: unknown emotion 'bored'"),
    ],
)
def test_bad_data_fails_clearly(counts, classes, message):
    table = _table(counts)
    with pytest.raises((SplitError, ValueError), match=message):
        split_table(table, classes)


def test_val_fraction_is_checked():
    with pytest.raises(ValueError, match=r"training\.val_fraction must be between 0 and 1"):
        split_table(_table({"happy": 4}), ["happy"], 1.5)


def test_published_splits_are_kept():
    table = _table({"happy": 10, "sad": 10})
    table.loc[table.index[:4], "split"] = "test"
    out = split_table(table, ["happy", "sad"], 0.25, seed=0)
    assert (out.loc[table.index[:4], "split"] == "test").all()
    assert set(out["split"]) == {"train", "val", "test"}
    table.loc[table.index[4:8], "split"] = "val"  # a published validation set is used as it is
    out = split_table(table, ["happy", "sad"], 0.25, seed=0)
    assert out["split"].value_counts().to_dict() == {"train": 12, "test": 4, "val": 4}


def test_a_search_that_never_asked_for_a_class_is_split_without_it():
    table = _table({"happy": 20, "sad": 20})
    classes = ["fear", "happy", "sad"]
    with pytest.raises(EmptyClassError, match="no usable image of fear"):
        split_table(table, classes, 0.2, seed=0)
    out = split_table(table, classes, 0.2, seed=0, searched_only=True)
    assert set(out["split"]) == {"train", "val"} and set(out["label"]) == {"happy", "sad"}
    # a class whose photos all failed still fails: that is not a search that never asked for it
    failed = pd.concat([table, _table({"fear": 3}).assign(outcome="no_face")], ignore_index=True)
    with pytest.raises(EmptyClassError, match="no usable image of fear"):
        split_table(failed, classes, 0.2, seed=0, searched_only=True)
