"""Ingestion: one namespace per enabled source (``sim_v1``, ``sim_v2``, ``pexels_v1``, …)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bind_source
from expressions_ensemble.pipelines.ingestion import nodes
from expressions_ensemble.variants import active_sources


def source_pipeline(source_name: str) -> Pipeline:
    """Ingestion of one source, namespaced by its name; datasets resolve through catalog factories."""
    return Pipeline(
        [
            Node(
                bind_source(nodes.plan_searches, source_name),
                inputs=["params:source", "params:ingestion"],
                outputs="search_plan",
                name="plan_searches",
            ),
            Node(
                bind_source(nodes.fetch_photos, source_name),
                inputs=["search_plan", "params:source", "stored_photos", "source_credentials"],
                outputs=["raw_photos", "photo_hits"],
                name="fetch_photos",
            ),
            Node(
                bind_source(nodes.build_photo_manifest, source_name),
                inputs=["photo_hits", "params:source", "params:ingestion"],
                outputs="photo_manifest",
                name="build_photo_manifest",
            ),
        ],
        namespace=source_name,
        inputs={"source_credentials": "source_credentials"},
        parameters={
            "params:source": f"params:ingestion.sources.{source_name}",
            "params:ingestion": "params:ingestion",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    return Pipeline([source_pipeline(name) for name in active_sources()])
