"""Baselines: the training recipe on each comparison dataset (namespace = the dataset's name)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bind_source
from expressions_ensemble.pipelines.baselines import nodes
from expressions_ensemble.variants import active_baselines


def dataset_pipeline(name: str) -> Pipeline:
    """Read, split, train and evaluate one comparison dataset."""
    return Pipeline(
        [
            Node(
                bind_source(nodes.read_baseline, name),
                inputs="params:dataset",
                outputs="labelled_images",
                name="read_baseline",
            ),
            Node(
                nodes.split_baseline,
                inputs=["labelled_images", "params:training", "params:dataset"],
                outputs=["training_split", "training_split_counts"],
                name="split_baseline",
            ),
            Node(
                bind_source(nodes.train_baseline, name),
                inputs=["training_split", "params:training", "params:dataset", "training_checkpoints"],
                outputs=["model", "training_history", "training_metrics"],
                name="train_baseline",
            ),
            Node(
                bind_source(nodes.evaluate_baseline, name),
                inputs=["model", "training_split"],
                outputs=["evaluation", "evaluation_per_class", "evaluation_metrics", "confusion_matrix_plot"],
                name="evaluate_baseline",
            ),
        ],
        namespace=name,
        parameters={
            "params:dataset": f"params:baselines.datasets.{name}",
            "params:training": "params:training",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    return Pipeline([dataset_pipeline(name) for name in active_baselines()])
