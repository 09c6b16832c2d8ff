"""Ensemble: one namespace per configured ensemble (``ensemble.ensembles``), then the evaluation matrix.

The matrix scores every trained model (sources, their bags, comparison datasets, ensembles) on every
test set (each source's validation split, each comparison dataset's test split): one node per test set,
so each test set's images are decoded once, then one node joins the parts.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bind_source
from expressions_ensemble.pipelines.ensemble import nodes
from expressions_ensemble.variants import (
    active_baselines,
    active_ensembles,
    active_models,
    active_sources,
    active_test_sources,
)

MEMBER_INPUTS = ("model", "evaluation_predictions")


def ensemble_pipeline(name: str, members: list[str]) -> Pipeline:
    """Build one ensemble from its members' models and validation logits."""
    outside = {f"member{i}_{x}": f"{m}.{x}" for i, m in enumerate(members) for x in MEMBER_INPUTS}
    return Pipeline(
        [
            Node(
                bind_source(nodes.build_ensemble, name, members),
                inputs=["params:entry", "params:bins", *outside],
                outputs=["model", "calibration", "ensemble_metrics"],
                name="build_ensemble",
            )
        ],
        namespace=name,
        inputs=outside,
        parameters={
            "params:entry": f"params:ensemble.ensembles.{name}",
            "params:bins": "params:ensemble.calibration_bins",
        },
    )


def matrix_pipeline() -> Pipeline:
    """Every model on every test set, joined into the evaluation matrix (namespace ``evaluation``)."""
    kinds = active_models()
    names = list(kinds)
    model_inputs = {f"model_{i}": f"{m}.model" for i, m in enumerate(names)}
    tests = set(active_test_sources())
    outside = dict(model_inputs)
    score_nodes, parts = [], []
    for domain in [*active_sources(), *active_baselines()]:
        is_source = domain in active_sources()
        outside[f"{domain}_split"] = f"{domain}.training_split"
        data = [f"{domain}_split"]
        if is_source:
            outside[f"{domain}_crops"] = f"{domain}.face_crops"
            data.append(f"{domain}_crops")
            func = bind_source(nodes.score_source_domain, domain, names, kinds, domain in tests)
        else:
            func = bind_source(nodes.score_dataset_domain, domain, names, kinds)
        outputs = [f"{domain}_scores", f"{domain}_confusion"]
        score_nodes.append(
            Node(
                func,
                ["params:evaluation", *data, "score_cache", *model_inputs],
                outputs,
                name=f"score_{domain}",
            )
        )
        parts += outputs
    if not score_nodes or not names:
        return Pipeline([])
    combine = Node(
        nodes.combine_matrix,
        inputs=parts,
        outputs=["matrix", "matrix_csv", "confusion", "best", "heatmap", "confusion_grid", "metrics"],
        name="combine_matrix",
    )
    return Pipeline(
        [*score_nodes, combine],
        namespace="evaluation",
        inputs=outside,
        parameters={"params:evaluation": "params:evaluation"},
    )


#: What each trained model's row of the training table is made from (its training outputs).
RUN_INPUTS = ("evaluation", "training_split_counts", "training_history")


def training_runs_pipeline() -> Pipeline:
    """The study's per-run training table of every trained model (not the ensembles: nothing trains
    them), where the report's recall-by-run figure reads it."""
    kinds = {name: kind for name, kind in active_models().items() if kind != "ensemble"}
    if not kinds:
        return Pipeline([])
    names = list(kinds)
    inputs = [f"{m}.{x}" for m in names for x in RUN_INPUTS]
    return Pipeline(
        [
            Node(
                bind_source(nodes.gather_training_runs, names, kinds),
                inputs=inputs,
                outputs="training_runs",
                name="gather_training_runs",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    ensembles = [ensemble_pipeline(name, members) for name, members in active_ensembles().items()]
    return Pipeline([*ensembles, matrix_pipeline(), training_runs_pipeline()])
