"""Movie evaluation nodes: the simulator's films with their truth, the plan, parameters checked first."""

from __future__ import annotations

import pandas as pd
import pytest

from expressions_ensemble.pipelines.movie_eval.nodes import evaluate_all_films, plan_films, simulated_films
from expressions_ensemble.simulation.films import DEFAULT_FILMS
from expressions_ensemble.video import probe_video


def test_simulated_films_give_writers_a_movie_list_and_the_truth_of_every_frame(tmp_path):
    writers, movies, truth = simulated_films({"enabled": True, "seed": 0})
    assert sorted(writers) == sorted(f"{spec.name}.mp4" for spec in DEFAULT_FILMS)
    assert set(movies["category"]) == {"Comedy", "Crime", "Drama"}
    for spec in DEFAULT_FILMS:
        frames = truth.loc[truth["movie"] == spec.name, "frame_idx"]
        assert frames.nunique() == spec.frame_count and frames.max() == spec.frame_count - 1
    first = DEFAULT_FILMS[0]
    writers[first.video_file](tmp_path / first.video_file)
    assert probe_video(tmp_path / first.video_file).frame_count == first.frame_count
    # the truth the node gives is the truth of the rendered film
    crime = truth[(truth["movie"] == "sim_crime") & truth["emotion"].notna()]
    assert set(crime["emotion"]) <= {"angry", "fear", "sad", "neutral", "surprise"}
    with pytest.raises(ValueError, match=r"movie_eval\.simulated_films: unknown keys \['films'\]"):
        simulated_films({"films": 3})


def test_plan_matches_the_list_and_bad_parameters_fail_before_any_film(tmp_path):
    listed = pd.DataFrame({"file_name": ["sim_comedy", "absent"], "title": "t", "category": "Comedy"})
    plan = plan_films(listed, {"sim_comedy.mp4": str(tmp_path / "sim_comedy.mp4")})
    assert list(plan["match"]) == ["found", "missing_file"]
    with pytest.raises(ValueError, match=r"movie_eval\.sampling\.stride must be an integer >= 1"):
        evaluate_all_films([], plan, None, {"sampling": {"mode": "stride", "stride": 0}}, {})
