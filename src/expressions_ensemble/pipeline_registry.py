"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/``; ``__default__`` runs all but ``reporting``.

    ``reporting`` reads film predictions: run it after the films are evaluated (``kedro run --pipelines
    reporting``), or on the study's files with ``kedro run --pipelines reporting --env study``.
    """
    pipelines = find_pipelines(raise_errors=True)
    standalone = {"reporting"}
    pipelines["__default__"] = sum(
        (p for name, p in pipelines.items() if name not in standalone), start=Pipeline([])
    )
    return pipelines
