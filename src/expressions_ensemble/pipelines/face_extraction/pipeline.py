"""Face extraction: one namespace per enabled source, plus one table of counts across sources."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bind_source
from expressions_ensemble.pipelines.face_extraction import nodes
from expressions_ensemble.variants import active_sources


def source_pipeline(source_name: str) -> Pipeline:
    """Face extraction of one source (namespace = source name)."""
    return Pipeline(
        [
            Node(
                bind_source(nodes.extract_faces, source_name),
                inputs=["photo_manifest", "raw_photos", "params:face_extraction"],
                outputs=["face_crops", "faces_manifest"],
                name="extract_faces",
            ),
            Node(
                bind_source(nodes.count_faces, source_name),
                inputs=["photo_manifest", "faces_manifest"],
                outputs="face_counts",
                name="count_faces",
            ),
        ],
        namespace=source_name,
        parameters={"params:face_extraction": "params:face_extraction"},
    )


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    sources = active_sources()
    return Pipeline(
        [
            *(source_pipeline(name) for name in sources),
            Node(
                nodes.combine_counts,
                inputs=[f"{name}.face_counts" for name in sources],
                outputs="face_counts_all",
                name="combine_face_counts",
            ),
        ]
    )
