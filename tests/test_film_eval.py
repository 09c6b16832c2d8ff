"""Film evaluation: movie list checks, file matching, one pass per film, resumable store, real clips."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from expressions_ensemble import film_eval
from expressions_ensemble.datasets.films import FilmPredictionStore, MovieListDataset
from expressions_ensemble.film_eval import (
    FACE_COLUMNS,
    FilmEvalParams,
    FilmScorer,
    ThreadPlan,
    evaluate_films,
    match_films,
    plan_threads,
    validate_movie_list,
)
from expressions_ensemble.models import LoadedModel, ModelSpec, create_model
from expressions_ensemble.models.ensemble import EnsembleModel, EnsembleSpec
from expressions_ensemble.simulation.films import FilmSpec, Shot, render_film

CLASSES = ("angry", "happy", "sad")


def _model(seed: int) -> LoadedModel:
    torch.manual_seed(seed)
    net = create_model("test_efficientnet", CLASSES, pretrained="none")
    return LoadedModel(net, ModelSpec.from_model(net, CLASSES, input_size=32))


@pytest.fixture(scope="module")
def models() -> dict[str, object]:
    a, b = _model(0), _model(1)
    return {"a": a, "b": b, "ens": EnsembleModel({"a": a, "b": b}, EnsembleSpec(("a", "b"), CLASSES))}


def _params(**kw) -> FilmEvalParams:
    return FilmEvalParams.from_params({"sampling": {"mode": "stride", "stride": 6}, "workers": 1, **kw}, {})


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> tuple[str, pd.DataFrame]:
    """Two seconds with a face, one second without, at 12 fps."""
    spec = FilmSpec(
        name="tiny", title="Tiny", genre="Comedy", fps=12.0, size=(320, 240),
        shots=(Shot(duration_sec=2.0, emotions=("happy",)), Shot(duration_sec=1.0, emotions=())),
    )  # fmt: skip
    path = tmp_path_factory.mktemp("films") / "tiny.mp4"
    truth = render_film(spec, path, seed=0)
    return str(path), truth


def test_movie_list_checks_name_columns_and_entries(tmp_path):
    ok = pd.DataFrame(
        {"file_name": ["a.mp4", "b"], "title": ["A", "B"], "category": ["Comedy", "Crime"], "year": [1, 2]}
    )
    out = validate_movie_list(ok)
    assert list(out["movie"]) == ["a", "b"] and "year" in out.columns
    with pytest.raises(ValueError, match=r"missing columns \['category'\]"):
        validate_movie_list(ok.drop(columns="category"))
    with pytest.raises(ValueError, match=r"films listed more than once: \['a'\]"):
        validate_movie_list(pd.concat([ok, ok.iloc[[0]].assign(file_name="a.mkv")]))
    csv = tmp_path / "list.csv"
    csv.write_text("file_name,title,title,category\na,A,A2,Comedy\n")
    with pytest.raises(Exception, match=r"columns \['title'\] appear more than once"):
        MovieListDataset(str(csv)).load()
    js = tmp_path / "list.json"
    js.write_text(json.dumps({"movies": [{"file_name": "a", "title": "A", "category": "Comedy"}]}))
    assert MovieListDataset(str(js)).load().loc[0, "title"] == "A"


def test_files_are_matched_by_stem_with_any_video_extension():
    listed = validate_movie_list(
        pd.DataFrame({"file_name": ["2_guns.mp4", "heat", "up", "gone"], "title": "t", "category": "c"})
    )
    files = {"2_guns.mkv": "/f/2_guns.mkv", "heat.MOV": "/f/heat.MOV", "up.mp4": "/f/up.mp4",
             "up.avi": "/f/up.avi", "notes.txt": "/f/notes.txt"}  # fmt: skip
    out = match_films(listed, files).set_index("movie")
    assert out.loc["2_guns", "path"] == "/f/2_guns.mkv" and out.loc["heat", "match"] == "found"
    assert out.loc["up", "match"] == "ambiguous" and "up.avi" in out.loc["up", "detail"]
    assert out.loc["gone", "match"] == "missing_file" and pd.isna(out.loc["gone", "path"])


def test_params_are_validated_by_key():
    with pytest.raises(
        ValueError, match=r"movie_eval\.faces\.policy: got 'biggest'; allowed: one of largest, all"
    ):
        _params(faces={"policy": "biggest"})
    with pytest.raises(ValueError, match=r"movie_eval\.sampling\.mode: unknown mode 'every'"):
        FilmEvalParams.from_params({"sampling": {"mode": "every"}}, {})
    with pytest.raises(ValueError, match=r"movie_eval: unknown keys \['stride'\]"):
        FilmEvalParams.from_params({"stride": 5}, {})


def test_one_pass_scores_every_model_per_face(film, models):
    path, truth = film
    scorer = FilmScorer(models, _params())
    faces, status = scorer.evaluate("tiny", path)
    scorer.close()
    assert status["outcome"] == "ok" and status["frames_read"] == 36 and status["frames_sampled"] == 6
    assert status["frames_sampled"] <= status["frames_decoded"] <= status["frames_read"]
    with_face = set(truth.loc[truth["face_idx"] >= 0, "frame_idx"])
    assert set(faces["frame_idx"]) <= with_face and len(faces) >= 3  # frames 0, 6, 12, 18 show the face
    assert status["frames_with_faces"] == faces["frame_idx"].nunique() and status["faces"] == len(faces)
    assert list(faces.columns[: len(FACE_COLUMNS)]) == FACE_COLUMNS
    for name in models:
        probs = faces[[f"{name}__prob_{c}" for c in CLASSES]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
        assert (faces[f"{name}__emotion"] == np.array(CLASSES)[probs.argmax(axis=1)]).all()
    # the ensemble's columns are the mean of its members' (members ran once per batch, shared)
    mean = (
        faces[[f"a__prob_{c}" for c in CLASSES]].to_numpy()
        + faces[[f"b__prob_{c}" for c in CLASSES]].to_numpy()
    ) / 2
    np.testing.assert_allclose(faces[[f"ens__prob_{c}" for c in CLASSES]].to_numpy(), mean, rtol=1e-5)
    assert (faces["relative_face_area"] == faces["face_area"] / (320 * 240)).all()
    np.testing.assert_allclose(faces["timestamp_sec"], faces["frame_idx"] / 12.0, atol=1e-3)


def test_cores_are_planned_by_which_stage_is_the_long_pole():
    eager = {"eager_batches": True}  # keyframes: the models are the long pole
    assert plan_threads(2, "stride") == ThreadPlan(1, 1, False) == plan_threads(2, "seconds")
    assert plan_threads(8, "stride") == ThreadPlan(4, 4, True)
    assert plan_threads(3, "seconds") == ThreadPlan(1, 2, True)
    assert plan_threads(2, "keyframes") == ThreadPlan(1, 2, True, **eager)
    assert plan_threads(1, "stride") == ThreadPlan(1, 1, False)
    assert plan_threads(0, "keyframes") == ThreadPlan(1, 1, True, **eager)
    # the models' cores go to networks side by side first, then to threads within each
    assert plan_threads(2, "keyframes", networks=6) == ThreadPlan(1, 1, True, model_workers=2, **eager)
    assert plan_threads(2, "stride", networks=6) == ThreadPlan(1, 1, False, model_workers=1)
    assert plan_threads(8, "stride", networks=6) == ThreadPlan(4, 1, True, model_workers=4)
    assert plan_threads(16, "keyframes", networks=6) == ThreadPlan(1, 2, True, model_workers=6, **eager)
    assert plan_threads(4, "keyframes", networks=1) == ThreadPlan(1, 4, True, model_workers=1, **eager)


@pytest.mark.parametrize("mode", ["stride", "keyframes"])
def test_the_split_of_cores_changes_no_number_and_torch_threads_come_back(film, models, mode):
    path, _ = film
    params = FilmEvalParams.from_params({"sampling": {"mode": mode, "stride": 6}}, {})
    before = torch.get_num_threads()
    tables = []
    for cores in (1, 2, 4):
        scorer = FilmScorer(models, params, cores=cores)
        faces, status = scorer.evaluate("tiny", path)
        scorer.close()
        assert status["outcome"] == "ok" and torch.get_num_threads() == before
        tables.append(faces)
    assert len(tables[0]) >= 1
    for other in tables[1:]:
        pd.testing.assert_frame_equal(other, tables[0], check_exact=False, rtol=1e-5)


def test_eager_batches_change_no_number(film, models, monkeypatch):
    path, _ = film
    params = FilmEvalParams.from_params({"sampling": {"mode": "keyframes"}, "batch_size": 4}, {})
    scored: list[int] = []
    real = film_eval.score_models

    def recording(models, images, *args, **kwargs):
        scored.append(len(images))
        return real(models, images, *args, **kwargs)

    monkeypatch.setattr(film_eval, "score_models", recording)
    tables = []
    for eager in (True, False):
        plan = dataclasses.replace(plan_threads(2, "keyframes", 2), eager_batches=eager)
        monkeypatch.setattr(film_eval, "plan_threads", lambda *args, plan=plan: plan)
        scorer = FilmScorer(models, params, cores=2)
        faces, status = scorer.evaluate("tiny", path)
        scorer.close()
        assert status["outcome"] == "ok" and sum(scored) == len(faces)
        tables.append(faces)
        scored.clear()
    assert len(tables[0]) >= 1
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=False, rtol=1e-5)


def test_bad_files_get_an_outcome_and_the_other_films_go_on(tmp_path, film, models):
    path, _ = film
    (tmp_path / "text.mp4").write_text("not a video")
    data = Path(path).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    listed = validate_movie_list(
        pd.DataFrame({"file_name": ["tiny", "text", "cut", "absent"], "title": "t", "category": "c"})
    )
    files = {"tiny.mp4": path, "text.mp4": str(tmp_path / "text.mp4"), "cut.mp4": str(tmp_path / "cut.mp4")}
    store = FilmPredictionStore(tmp_path / "predictions")
    status = evaluate_films(match_films(listed, files), models, _params(), store).set_index("movie")
    assert status.loc["tiny", "outcome"] == "ok" and status.loc["absent", "outcome"] == "missing_file"
    assert status.loc["text", "outcome"] == "not_a_video"
    assert status.loc["cut", "outcome"] in {"corrupt", "truncated"}
    assert store.finished("tiny") is not None and store.finished("text") is not None
    empty = pd.read_parquet(tmp_path / "predictions" / "text.parquet")
    assert empty.empty and "a__prob_happy" in empty.columns  # an empty partition, not a missing one


def test_finished_films_are_not_redone_unless_asked_or_the_models_change(tmp_path, film, models):
    path, _ = film
    listed = match_films(
        validate_movie_list(pd.DataFrame({"file_name": ["tiny"], "title": "t", "category": "c"})),
        {"tiny.mp4": path},
    )
    store = FilmPredictionStore(tmp_path / "p")
    first = evaluate_films(listed, models, _params(), store)
    table = tmp_path / "p" / "tiny.parquet"
    stamp = table.stat().st_mtime_ns
    again = evaluate_films(listed, models, _params(), store)
    assert bool(again.loc[0, "resumed"]) and table.stat().st_mtime_ns == stamp
    assert again.loc[0, "faces"] == first.loc[0, "faces"]
    evaluate_films(listed, models, _params(redo=True), store)
    assert table.stat().st_mtime_ns != stamp
    fewer = {"a": models["a"]}
    evaluate_films(listed, fewer, _params(), store)
    assert "b__prob_happy" not in pd.read_parquet(table).columns
    # a partition without its status (a run killed between the two writes) is not finished
    (tmp_path / "p" / "tiny.status.json").unlink()
    assert store.finished("tiny") is None


@pytest.mark.slow
def test_films_in_parallel_workers_match_one_process(tmp_path, film, models):
    path, _ = film
    listed = validate_movie_list(pd.DataFrame({"file_name": ["one", "two"], "title": "t", "category": "c"}))
    files = {"one.mp4": path, "two.mp4": path}
    serial = evaluate_films(
        match_films(listed, files), models, _params(), FilmPredictionStore(tmp_path / "s")
    )
    parallel = evaluate_films(
        match_films(listed, files), models, _params(workers=2), FilmPredictionStore(tmp_path / "p")
    )
    assert list(parallel["outcome"]) == ["ok", "ok"] and list(parallel["faces"]) == list(serial["faces"])
    a = pd.read_parquet(tmp_path / "s" / "one.parquet")
    b = pd.read_parquet(tmp_path / "p" / "two.parquet").assign(movie="one")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-4)


@pytest.mark.shared_data
def test_real_clips(shared_data, models):
    videos = shared_data / "videos"
    scorer = FilmScorer(models, FilmEvalParams.from_params({"sampling": {"mode": "stride", "stride": 5}}, {}))
    faces, status = scorer.evaluate("pexels", str(videos / "WolfgangLanger_Pexels.mp4"))
    assert status["outcome"] == "ok" and status["frames_sampled"] == 95
    share = status["frames_with_faces"] / status["frames_sampled"]
    print(f"Pexels clip, stride 5: a face in {share:.1%} of {status['frames_sampled']} sampled frames")
    assert share >= 0.9
    faces, status = scorer.evaluate("no_face", str(videos / "no_face.mp4"))
    assert faces.empty and status["outcome"] == "no_faces" and status["frames_read"] == 95
    faces, status = scorer.evaluate("face_noface", str(videos / "face_noface.mov"))
    scorer.close()
    assert status["outcome"] == "ok" and len(faces) > 0
    last_face = faces["frame_idx"].max()
    print(f"face_noface.mov: faces up to frame {last_face} of {status['frames_read']}")
    assert last_face < 0.75 * status["frames_read"]
    assert faces["frame_idx"].min() < 0.1 * status["frames_read"]
