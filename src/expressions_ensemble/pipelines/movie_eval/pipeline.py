"""Movie evaluation wiring: (the simulator's films →) movie list matched to files → every model per film.

With ``movie_eval.simulated_films.enabled`` (the base env) the pipeline renders the simulator's films
into the films folder first; otherwise the folder and the list are the user's (catalog
``movie_eval.films`` / ``movie_eval.movie_list``, paths in ``conf/<env>/globals.yml``).
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from expressions_ensemble.pipelines._wiring import bind_source
from expressions_ensemble.pipelines.movie_eval import nodes
from expressions_ensemble.variants import active_film_models, simulated_films_enabled


def create_pipeline(**kwargs) -> Pipeline:  # type: ignore[no-untyped-def]
    names = active_film_models()
    model_inputs = {f"model_{i}": f"{m}.model" for i, m in enumerate(names)}
    render = []
    if simulated_films_enabled():
        render = [
            Node(
                nodes.simulated_films,
                "params:simulated",
                ["rendered_films", "movie_list", "ground_truth"],
                name="simulated_films",
            )
        ]
    evaluate = bind_source(nodes.evaluate_all_films, names)
    return Pipeline(
        [
            *render,
            Node(
                nodes.plan_films,
                ["movie_list", "films", *(["ground_truth"] if render else [])],
                "film_plan",
                name="plan_films",
            ),
            Node(
                evaluate,
                ["film_plan", "predictions", "params:movie_eval", "params:face_extraction", *model_inputs],
                "film_status",
                name="evaluate_films",
            ),
        ],
        namespace="movie_eval",
        inputs=model_inputs,
        parameters={
            # the render node's parameters are mapped only where it exists: Kedro refuses a mapping of
            # a parameter no node uses (the user's films run without the simulator)
            **({"params:simulated": "params:movie_eval.simulated_films"} if render else {}),
            "params:movie_eval": "params:movie_eval",
            "params:face_extraction": "params:face_extraction",
        },
    )
