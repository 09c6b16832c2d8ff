"""Reporting wiring. Every dataset lives in the ``reporting`` namespace (``reporting.predictions`` …).

Free inputs: ``reporting.predictions`` (required), and the optional ``reporting.film_status``,
``reporting.movie_list``,
``reporting.ground_truth``, ``reporting.study_summary``, ``reporting.training_metrics``,
``reporting.confusion``, ``reporting.evaluation_matrix``. To feed it another pipeline's output, map
the input: ``Pipeline(create_pipeline(), inputs={"reporting.predictions": "film_predictions"})``.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines.reporting import nodes

#: Figure folders, each written by its own node (``reporting.figures_<group>``).
FIGURE_GROUPS = (
    "shares",
    "genres",
    "timelines",
    "benchmark",
    "confidence",
    "genre_separation",
    "recall",
    "confusion",
    "cross_domain",
)


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    c = "config"
    k = "classes"
    report_inputs = {
        "config": c,
        "classes": k,
        "model_metrics": "model_metrics",
        "claims": "claims",
        "data_quality": "data_quality",
        "study_summary_check": "study_summary_check",
        "film_metrics": "film_metrics",
        "film_summary": "film_summary",
        "genre_separation": "genre_separation",
        "genre_divergence": "genre_divergence",
        "agreement": "agreement",
        "truth_metrics": "truth_metrics",
        **{f"figures_{g}": f"figures_{g}" for g in FIGURE_GROUPS},
    }
    return Pipeline(
        [
            Node(nodes.validate_params, "params:reporting", c, name="validate_params"),
            Node(
                nodes.normalise_predictions,
                ["predictions", c, "film_status"],
                ["predictions_all", k, "films_seen", "prediction_quality"],
                name="normalise_predictions",
            ),
            Node(
                nodes.normalise_movie_list,
                "movie_list",
                ["movie_table", "movie_list_quality"],
                name="read_movie_list",
            ),
            Node(
                nodes.match_films,
                ["films_seen", "movie_table"],
                ["films", "film_quality"],
                name="match_films",
            ),
            Node(
                nodes.keep_listed_films,
                ["predictions_all", "films"],
                "predictions_long",
                name="keep_listed_films",
            ),
            Node(nodes.prepare_truth, "ground_truth", ["truth", "truth_quality"], name="prepare_truth"),
            Node(
                nodes.combine_quality,
                ["prediction_quality", "movie_list_quality", "film_quality", "truth_quality"],
                "data_quality",
                name="combine_quality",
            ),
            Node(
                nodes.summarise_films,
                ["predictions_long", "films", k],
                ["film_summary", "film_summary_tidy"],
                name="summarise_films",
            ),
            Node(
                nodes.check_study_summary,
                ["film_summary", "study_summary", "prediction_quality", k],
                "study_summary_check",
                name="check_study_summary",
            ),
            Node(
                nodes.compute_film_metrics,
                ["predictions_long", "film_summary", k, c],
                "film_metrics",
                name="compute_film_metrics",
            ),
            Node(
                nodes.compute_genre_separation,
                ["film_summary", k, c],
                ["genre_separation", "genre_divergence"],
                name="compute_genre_separation",
            ),
            Node(nodes.compute_agreement, ["predictions_long", k], "agreement", name="compute_agreement"),
            Node(
                nodes.compute_truth_metrics,
                ["predictions_long", "truth", k, c],
                "truth_metrics",
                name="compute_truth_metrics",
            ),
            Node(
                nodes.compute_model_metrics,
                ["predictions_long", "film_metrics", "genre_divergence", "agreement", "truth_metrics", k],
                "model_metrics",
                name="compute_model_metrics",
            ),
            Node(
                nodes.evaluate_claims,
                ["model_metrics", "genre_separation", k, c],
                "claims",
                name="evaluate_claims",
            ),
            Node(nodes.plot_shares_all_films, ["film_summary", k, c], "figures_shares", name="plot_shares"),
            Node(
                nodes.plot_shares_by_genre, ["film_summary", k, c], "figures_genres", name="plot_genre_shares"
            ),
            Node(
                nodes.plot_timelines,
                ["predictions_long", "films", "truth", k, c],
                "figures_timelines",
                name="plot_timelines",
            ),
            Node(
                nodes.plot_benchmark_difference,
                ["film_summary", k, c],
                "figures_benchmark",
                name="plot_benchmark_difference",
            ),
            Node(
                nodes.plot_confidence,
                ["predictions_long", k, c],
                "figures_confidence",
                name="plot_confidence",
            ),
            Node(
                nodes.plot_genre_separation,
                ["genre_separation", k, c],
                "figures_genre_separation",
                name="plot_genre_separation",
            ),
            Node(
                nodes.plot_recall_by_run, ["training_metrics", c], "figures_recall", name="plot_recall_by_run"
            ),
            Node(nodes.plot_confusion, ["confusion", c], "figures_confusion", name="plot_confusion"),
            Node(
                nodes.plot_cross_domain,
                ["evaluation_matrix", c],
                "figures_cross_domain",
                name="plot_cross_domain",
            ),
            Node(nodes.build_report, report_inputs, "report_html", name="build_report"),
        ],
        namespace="reporting",
        parameters={"params:reporting"},
    )
