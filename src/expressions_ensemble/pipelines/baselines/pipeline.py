"""Baselines: the training recipe on each comparison dataset (namespace = the dataset's name), and on each
bag of a dataset that asks for ``bagging`` (namespace ``<dataset>_bag<i>``)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bag_split_node, bind_source
from expressions_ensemble.pipelines.baselines import nodes
from expressions_ensemble.pipelines.training.pipeline import EVALUATION_OUTPUTS
from expressions_ensemble.variants import active_bags, active_baselines


def _train_and_evaluate(name: str) -> list[Node]:
    return [
        Node(
            bind_source(nodes.train_baseline, name),
            inputs=[
                "training_split",
                "params:training",
                "params:dataset",
                "params:face_extraction",
                "training_checkpoints",
            ],
            outputs=["model", "training_history", "training_metrics"],
            name="train_baseline",
        ),
        Node(
            bind_source(nodes.evaluate_baseline, name),
            inputs=["model", "training_split"],
            outputs=EVALUATION_OUTPUTS,
            name="evaluate_baseline",
        ),
    ]


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
                bind_source(nodes.split_baseline, name),
                inputs=["labelled_images", "params:training", "params:dataset", "params:face_extraction"],
                outputs=["training_split", "training_split_counts"],
                name="split_baseline",
            ),
            *_train_and_evaluate(name),
        ],
        namespace=name,
        parameters={
            "params:dataset": f"params:baselines.datasets.{name}",
            "params:training": "params:training",
            "params:face_extraction": "params:face_extraction",
        },
    )


def bag_pipeline(bag: str, parent: str, index: int) -> Pipeline:
    """One bag of a comparison dataset: its share of the parent's split, with the parent's settings."""
    key = f"baselines.datasets.{parent}.bagging"
    return Pipeline(
        [
            bag_split_node(index, key, "bag_baseline_split"),
            *_train_and_evaluate(bag),
        ],
        namespace=bag,
        inputs={"parent_split": f"{parent}.training_split"},
        parameters={
            "params:dataset": f"params:baselines.datasets.{parent}",
            "params:training": "params:training",
            "params:face_extraction": "params:face_extraction",
            "params:bagging": f"params:{key}",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    bags = [bag_pipeline(bag, parent, i) for bag, (parent, i) in active_bags("baselines").items()]
    return Pipeline([*(dataset_pipeline(name) for name in active_baselines()), *bags])
