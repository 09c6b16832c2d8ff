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


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"faces": {"policy": "biggest"}}, r"movie_eval\.faces\.policy: got 'biggest'; allowed: one of"),
        ({"batch_size": 0}, r"movie_eval\.batch_size: got 0; allowed: an integer >= 1"),
    ],
)
def test_bad_film_settings_fail_once_before_any_film(tmp_path, settings, message):
    """(The detector and crop geometry are each model's own, read from its artifact: face_extraction's
    settings no longer reach the films, see test_film_eval.)"""

    class NoFilmsRead:  # the store is touched only when a film is done: failing here means too late
        def finished(self, movie):
            raise AssertionError("a film was looked at before the settings were checked")

        save = finished

    listed = pd.DataFrame({"file_name": ["sim_comedy"], "title": "t", "category": "Comedy"})
    plan = plan_films(listed, {"sim_comedy.mp4": str(tmp_path / "sim_comedy.mp4")})
    params = {"sampling": {"mode": "stride", "stride": 5}, "workers": 1, **settings}
    with pytest.raises(ValueError, match=message):
        evaluate_all_films([], plan, NoFilmsRead(), params, {})


@pytest.mark.shared_data
def test_the_plan_finds_films_in_sub_folders_of_the_films_folder(shared_data):
    from expressions_ensemble.datasets.films import MovieListDataset, VideoFolderDataset

    videos = shared_data / "videos"
    listed = MovieListDataset(str(videos / "movie_list.json")).load()
    plan = plan_films(listed, VideoFolderDataset(str(videos)).load())
    assert (plan["match"] == "found").all()
    mead = plan[plan["file_name"].str.startswith("mead/")]
    assert len(mead) == 16 and all(p.startswith(str(videos / "mead")) for p in mead["path"])
