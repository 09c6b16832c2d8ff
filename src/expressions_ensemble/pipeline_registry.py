"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

#: The report's inputs that the default run's own outputs provide: mapping them makes the report the
#: run's last step (Kedro orders nodes by their datasets) and reads what this run wrote. Run alone
#: (``kedro run --pipelines reporting``), the report reads the same files through its own entries.
DEFAULT_REPORT_INPUTS = {
    "reporting.film_status": "movie_eval.film_status",
    "reporting.evaluation_matrix": "evaluation.matrix_csv",
    "reporting.confusion": "evaluation.confusion",
    "reporting.training_metrics": "training_runs",
}


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/``; ``__default__`` runs them all and ends with the report."""
    pipelines = find_pipelines(raise_errors=True)
    rest = sum((p for name, p in pipelines.items() if name != "reporting"), start=Pipeline([]))
    if "reporting" not in pipelines:  # a command that asked Kedro for other pipelines only
        pipelines["__default__"] = rest
        return pipelines
    produced = rest.all_outputs()
    mapped = {ours: theirs for ours, theirs in DEFAULT_REPORT_INPUTS.items() if theirs in produced}
    report = Pipeline(pipelines["reporting"], inputs=mapped) if mapped else pipelines["reporting"]
    pipelines["__default__"] = rest + report
    return pipelines
