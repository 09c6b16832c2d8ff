"""The evaluation matrix with an ensemble whose members know different classes."""

from __future__ import annotations

import numpy as np

from expressions_ensemble.evaluation import matrix_rows
from expressions_ensemble.models.ensemble import EnsembleModel, EnsembleSpec
from scoring_support import crops, member


def test_an_ensemble_of_members_with_different_classes_is_scored_on_the_classes_it_shares_with_the_test():
    truth = ["angry", "happy", "fear", "fear", "neutral", "happy"]
    # each member is right on the rows whose class it knows, and says its first class elsewhere
    a_classes, b_classes = ("angry", "happy"), ("happy", "fear")
    a = member(np.array([[5.0 if c == t else 0.0 for c in a_classes] for t in truth]), classes=a_classes)
    b = member(np.array([[5.0 if c == t else 0.0 for c in b_classes] for t in truth]), classes=b_classes)
    ens = EnsembleModel({"a": a, "b": b}, EnsembleSpec(("a", "b"), ("angry", "happy", "fear")))
    table, confusion = matrix_rows(
        "web",
        "source_val",
        [(crops(len(truth)), truth, 1)],
        {"a": a, "b": b, "ens": ens},
        {"ens": "ensemble"},
    )
    rows = table.set_index("model")
    assert (
        rows.at["ens", "shared_classes"] == "angry,happy,fear"
        and rows.at["a", "shared_classes"] == "angry,happy"
    )
    assert rows.at["ens", "n_scored"] == 5 and rows.at["ens", "n_images"] == 7  # neutral: no model knows it
    assert rows.at["ens", "dropped_share"] == 1 - 5 / 7 and rows.at["ens", "n_unreadable"] == 1
    # the fear rows only b can name: the ensemble names them
    assert rows.at["ens", "recall_fear"] == 1.0 and rows.at["ens", "accuracy"] == 1.0
    assert rows.at["a", "n_scored"] == 3 and rows.at["b", "n_scored"] == 4
    ens_rows = confusion[confusion["model"] == "ens"]
    assert int(ens_rows["count"].sum()) == 5 and set(ens_rows["true"]) == {"angry", "happy", "fear"}
