"""Training: the same recipe once per enabled weak-label source (namespace = source name), and once per
bag of a source that asks for ``bagging`` (namespace ``<source>_bag<i>``, reading its parent's crops)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bag_split_node, bind_source
from expressions_ensemble.pipelines.training import nodes
from expressions_ensemble.variants import active_bags, active_sources, active_test_sources

EVALUATION_OUTPUTS = [
    "evaluation", "evaluation_per_class", "evaluation_metrics", "confusion_matrix_plot",
    "evaluation_predictions",
]  # fmt: skip


def _train_and_evaluate(name: str) -> list[Node]:
    return [
        Node(
            bind_source(nodes.train_model, name),
            inputs=["training_split", "face_crops", "params:training", "training_checkpoints"],
            outputs=["model", "training_history", "training_metrics"],
            name="train_model",
        ),
        Node(
            bind_source(nodes.evaluate_model, name),
            inputs=["model", "training_split", "face_crops"],
            outputs=EVALUATION_OUTPUTS,
            name="evaluate_model",
        ),
    ]


def source_pipeline(source_name: str, test_only: bool = False) -> Pipeline:
    """Training of one source's face crops (or, for a ``role: test`` source, only its test split)."""
    split = nodes.split_test_table if test_only else nodes.split_training_table
    return Pipeline(
        [
            Node(
                bind_source(nodes.build_training_table, source_name),
                inputs=["photo_manifest", "faces_manifest"],
                outputs="training_table",
                name="build_training_table",
            ),
            Node(
                split,
                inputs=["training_table", "params:training"],
                outputs=["training_split", "training_split_counts"],
                name="split_test_table" if test_only else "split_training_table",
            ),
            *([] if test_only else _train_and_evaluate(source_name)),
        ],
        namespace=source_name,
        parameters={"params:training": "params:training"},
    )


def bag_pipeline(bag: str, parent: str, index: int) -> Pipeline:
    """One bag of a source: its share of the parent's split, trained and evaluated on the parent's crops."""
    key = f"ingestion.sources.{parent}.bagging"
    return Pipeline(
        [
            bag_split_node(index, key, "bag_training_split"),
            *_train_and_evaluate(bag),
        ],
        namespace=bag,
        inputs={"parent_split": f"{parent}.training_split", "face_crops": f"{parent}.face_crops"},
        parameters={"params:training": "params:training", "params:bagging": f"params:{key}"},
    )


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    bags = [bag_pipeline(bag, parent, i) for bag, (parent, i) in active_bags("sources").items()]
    tests = set(active_test_sources())
    return Pipeline([*(source_pipeline(name, name in tests) for name in active_sources()), *bags])
