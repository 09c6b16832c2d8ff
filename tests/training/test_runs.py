"""The per-run training table comes from each model's own training outputs."""

import pandas as pd

from expressions_ensemble.pipelines.ensemble.nodes import gather_training_runs


def _outputs(best_f1: float, split: str):
    evaluation = {"split": split, "accuracy": 0.5, "macro_f1": 0.4, "recall": {"angry": 0.25, "happy": 1.0}}
    counts = pd.DataFrame(
        {"label": ["angry", "disgust", "happy"], "train": [8, 0, 6], "val": [2, 0, 2], "no_face": [1, 3, 0]}
    )
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "val_accuracy": [0.3, 0.6, 0.5],
            "val_macro_f1": [0.2, best_f1, 0.3],
            "seconds": [5.0, 10.0, 15.0],
        }
    )
    return evaluation, counts, history


def test_a_row_per_trained_model_with_counts_best_epoch_and_recall():
    table = gather_training_runs(
        ["a", "lab"], {"a": "weak_label", "lab": "baseline"}, *_outputs(0.7, "val"), *_outputs(0.9, "test")
    ).set_index("run")
    assert table.loc["a", "kind"] == "weak_label" and table.loc["lab", "scored_split"] == "test"
    assert table.loc["a", "n_train"] == 14 and table.loc["a", "n_val"] == 4  # left-out reasons not counted
    assert table.loc["a", "train_angry"] == 8 and "train_disgust" not in table.columns
    assert table.loc["a", "best_epoch"] == 2 and table.loc["a", "best_val_accuracy"] == 0.6
    assert table.loc["lab", "best_val_macro_f1"] == 0.9 and table.loc["a", "epochs"] == 3
    assert table.loc["a", "seconds"] == 15.0
    assert list(table.columns[-2:]) == ["recall_angry", "recall_happy"]
