"""Training: the same recipe once per enabled weak-label source (namespace = source name)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bind_source
from expressions_ensemble.pipelines.training import nodes
from expressions_ensemble.variants import active_sources


def source_pipeline(source_name: str) -> Pipeline:
    """Training of one source's face crops."""
    return Pipeline(
        [
            Node(
                bind_source(nodes.build_training_table, source_name),
                inputs=["photo_manifest", "faces_manifest"],
                outputs="training_table",
                name="build_training_table",
            ),
            Node(
                nodes.split_training_table,
                inputs=["training_table", "params:training"],
                outputs=["training_split", "training_split_counts"],
                name="split_training_table",
            ),
            Node(
                bind_source(nodes.train_model, source_name),
                inputs=["training_split", "face_crops", "params:training", "training_checkpoints"],
                outputs=["model", "training_history", "training_metrics"],
                name="train_model",
            ),
            Node(
                bind_source(nodes.evaluate_model, source_name),
                inputs=["model", "training_split", "face_crops"],
                outputs=["evaluation", "evaluation_per_class", "evaluation_metrics", "confusion_matrix_plot"],
                name="evaluate_model",
            ),
        ],
        namespace=source_name,
        parameters={"params:training": "params:training"},
    )


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    return Pipeline([source_pipeline(name) for name in active_sources()])
