"""Film evaluation: parameters, one pass per film, resume keyed on file, models and settings, real clips.

(The movie list and its matching to files: ``tests/test_movies.py``.)"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from expressions_ensemble import film_eval
from expressions_ensemble.datasets.films import FilmPredictionStore
from expressions_ensemble.film_eval import (
    FACE_COLUMNS,
    CropMismatchError,
    FilmEvalParams,
    FilmScorer,
    ThreadPlan,
    evaluate_films,
    film_crops,
    plan_threads,
)
from expressions_ensemble.imaging import CropGeometry, crop_face, to_tensor_batch
from expressions_ensemble.models import LoadedModel, ModelSpec, artifact_bytes, create_model, read_artifact
from expressions_ensemble.models.artifact import HEADER_MEMBER
from expressions_ensemble.models.ensemble import EnsembleModel, EnsembleSpec
from expressions_ensemble.models.scoring import model_digest
from expressions_ensemble.movies import match_films
from expressions_ensemble.simulation.films import FilmSpec, Shot, render_film
from expressions_ensemble.video import iter_frames

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


def _listed(*names: str) -> pd.DataFrame:
    return pd.DataFrame({"file_name": list(names), "title": "t", "category": "c"})


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
    two = {"model_workers": 2, "spare_workers": 2}
    assert plan_threads(2, "keyframes", networks=6) == ThreadPlan(1, 1, True, **two, **eager)
    assert plan_threads(16, "keyframes", networks=6) == ThreadPlan(
        1, 2, True, model_workers=6, spare_workers=6, **eager
    )
    assert plan_threads(4, "keyframes", networks=1) == ThreadPlan(1, 4, True, model_workers=1, **eager)
    # a batch that finds the decoder idle also takes the decoder's cores (not with detection apart:
    # its thread goes on taking frames, the decoder resumes)
    assert plan_threads(2, "stride", networks=6) == ThreadPlan(1, 1, False, model_workers=1, spare_workers=2)
    assert plan_threads(8, "stride", networks=6) == ThreadPlan(4, 1, True, model_workers=4, spare_workers=4)
    assert plan_threads(2, "stride", networks=1) == ThreadPlan(1, 1, False)


@pytest.mark.parametrize("decoder_idle", [False, True])
def test_a_batch_that_finds_the_decoder_idle_runs_networks_over_its_cores_too(
    film, models, monkeypatch, decoder_idle
):
    path, _ = film
    seen: list[object] = []
    real = film_eval.score_models

    def recording(models, images, batch_size, executor=None, *args):
        seen.append(executor)
        return real(models, images, batch_size, executor, *args)

    monkeypatch.setattr(film_eval, "score_models", recording)
    monkeypatch.setattr(film_eval.Prefetch, "producer_idle", lambda self: decoder_idle)
    scorer = FilmScorer(models, _params(batch_size=3), cores=2)  # stride: 1 decoder, 1 model thread
    faces, status = scorer.evaluate("tiny", path)
    scorer.close()
    # full batches of 3 while the film is read, then what is left (4 faces: 3 + 1)
    assert status["outcome"] == "ok" and len(faces) == 4 and len(seen) == 2
    *during, last = seen
    assert last is not None  # the film is read: its last batch always has the decoder's core
    assert all((e is not None) == decoder_idle for e in during)


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

    def recording(models, images, *args, **kwargs):  # crops per framing: count the faces
        scored.append(len(next(iter(images.values()))))
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
    listed = _listed("tiny", "text", "cut", "absent")
    files = {"tiny.mp4": path, "text.mp4": str(tmp_path / "text.mp4"), "cut.mp4": str(tmp_path / "cut.mp4")}
    store = FilmPredictionStore(tmp_path / "predictions")
    status = evaluate_films(match_films(listed, files), models, _params(), store).set_index("movie")
    assert status.loc["tiny", "outcome"] == "ok" and status.loc["absent", "outcome"] == "missing_file"
    assert status.loc["text", "outcome"] == "not_a_video"
    assert status.loc["cut", "outcome"] in {"corrupt", "truncated"}
    assert store.finished("tiny") is not None and store.finished("text") is not None
    empty = pd.read_parquet(tmp_path / "predictions" / "text.parquet")
    assert empty.empty and "a__prob_happy" in empty.columns  # an empty partition, not a missing one


def test_films_can_be_scored_without_the_models_test_time_flip(tmp_path, film):
    path, _ = film
    torch.manual_seed(3)
    net = create_model("test_efficientnet", CLASSES, pretrained="none")
    flipping = LoadedModel(net, ModelSpec.from_model(net, CLASSES, input_size=32, test_time_flip=True))
    plain = LoadedModel(net, dataclasses.replace(flipping.spec, test_time_flip=False))
    with pytest.raises(ValueError, match=r"movie_eval\.test_time_flip: got 'off'; allowed: true"):
        _params(test_time_flip="off")
    tables = {}
    for name, model, flip in (
        ("as_trained", flipping, True),
        ("off", flipping, False),
        ("none", plain, True),
    ):
        scorer = FilmScorer({"m": model}, _params(test_time_flip=flip))
        tables[name], _ = scorer.evaluate("tiny", path)
        scorer.close()
    cols = [f"m__prob_{c}" for c in CLASSES]
    np.testing.assert_array_equal(tables["off"][cols].to_numpy(), tables["none"][cols].to_numpy())
    assert not np.allclose(tables["off"][cols].to_numpy(), tables["as_trained"][cols].to_numpy())
    # a film scored with the flip is scored again without it
    listed = match_films(_listed("tiny"), {"tiny.mp4": path})
    store = FilmPredictionStore(tmp_path / "p")
    evaluate_films(listed, {"m": flipping}, _params(), store)
    again = evaluate_films(listed, {"m": flipping}, _params(test_time_flip=False), store)
    assert not bool(again.loc[0, "resumed"])


def test_finished_films_are_not_redone_unless_asked_or_the_models_change(tmp_path, film, models):
    path, _ = film
    listed = match_films(_listed("tiny"), {"tiny.mp4": path})
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


def _store_runs(tmp_path, listed, models, caplog, **params):
    """Evaluate into one store, returning the status table (by movie) and the log of the run."""
    caplog.clear()
    with caplog.at_level("INFO", logger="expressions_ensemble.film_eval"):
        status = evaluate_films(listed, models, _params(**params), FilmPredictionStore(tmp_path / "p"))
    return status.set_index("movie"), caplog.text


def test_failed_films_are_tried_again_and_say_why(tmp_path, film, models, caplog):
    path, _ = film
    folder = tmp_path / "films"
    folder.mkdir()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video")
    files = {n: str(folder / n) for n in ("empty.mp4", "text.mp4")}
    listed = match_films(_listed("empty", "text"), files)
    first, _ = _store_runs(tmp_path, listed, models, caplog)
    assert list(first["outcome"]) == ["empty_file", "not_a_video"]
    again, log = _store_runs(tmp_path, listed, models, caplog)
    assert not again["resumed"].any()
    assert "empty: evaluated again: it failed before (empty_file)" in log
    # the user fixes the file: the next run reads it
    (folder / "text.mp4").write_bytes(Path(path).read_bytes())
    fixed, _ = _store_runs(tmp_path, listed, models, caplog)
    assert fixed.loc["text", "outcome"] == "ok" and fixed.loc["text", "faces"] > 0


def test_a_replaced_film_file_is_read_again(tmp_path, film, models, caplog):
    path, _ = film
    target = tmp_path / "tiny.mp4"
    target.write_bytes(Path(path).read_bytes())
    listed = match_films(_listed("tiny"), {"tiny.mp4": str(target)})
    first, _ = _store_runs(tmp_path, listed, models, caplog)
    kept, log = _store_runs(tmp_path, listed, models, caplog)
    assert kept.loc["tiny", "resumed"] and "0 films to evaluate" in log and "1 skipped" in log
    # another film under the same name (here: the first second of it, re-encoded elsewhere, copied in)
    spec = FilmSpec(name="tiny", title="T", genre="c", fps=12.0, size=(320, 240),
                    shots=(Shot(duration_sec=1.0, emotions=("sad",)),))  # fmt: skip
    render_film(spec, tmp_path / "other.mp4", seed=1)
    (tmp_path / "other.mp4").replace(target)
    redone, log = _store_runs(tmp_path, listed, models, caplog)
    assert not redone.loc["tiny", "resumed"] and "tiny: evaluated again: the film file changed" in log
    assert redone.loc["tiny", "frames_read"] == 12 != first.loc["tiny", "frames_read"]
    # the same bytes written again (a copy, a restore): the modification time alone is a change
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    touched, _ = _store_runs(tmp_path, listed, models, caplog)
    assert not touched.loc["tiny", "resumed"]


def test_a_retrained_model_or_other_settings_redo_the_film(tmp_path, film, caplog):
    path, _ = film
    listed = match_films(_listed("tiny"), {"tiny.mp4": path})
    blob = artifact_bytes(_model(0).model, _model(0).spec)
    lab = read_artifact(blob, "lab")  # as the catalog loads it: with the artifact's weights checksum
    _store_runs(tmp_path, listed, {"lab": lab}, caplog)
    table = tmp_path / "p" / "tiny.parquet"
    old = pd.read_parquet(table)
    reloaded = read_artifact(blob, "lab")
    assert model_digest(reloaded) == model_digest(lab) != model_digest(_model(1))
    # saved again after a resumed training: the same weights, other seconds in the metadata
    spec = _model(0).spec
    resaved = dataclasses.replace(spec, metadata={**spec.metadata, "seconds": 12.5, "best_epoch": 3})
    assert model_digest(read_artifact(artifact_bytes(_model(0).model, resaved), "lab")) == model_digest(lab)
    kept, _ = _store_runs(tmp_path, listed, {"lab": reloaded}, caplog, batch_size=3, workers=1)
    assert kept.loc["tiny", "resumed"]  # batch size and workers change no number
    retrained = _model(1)
    redone, log = _store_runs(tmp_path, listed, {"lab": retrained}, caplog)
    assert not redone.loc["tiny", "resumed"] and "models ['lab'] were retrained" in log
    new = pd.read_parquet(table)  # the new weights' probabilities, on the same faces
    assert list(new["frame_idx"]) == list(old["frame_idx"]) and len(new) > 0
    assert not np.allclose(new["lab__prob_happy"], old["lab__prob_happy"])
    stride, log = _store_runs(tmp_path, listed, {"lab": retrained}, caplog, sampling={"stride": 4})
    assert not stride.loc["tiny", "resumed"] and "the settings ['sampling'] changed" in log
    assert stride.loc["tiny", "frames_sampled"] == 9
    wider, log = _store_runs(tmp_path, listed, {"lab": retrained}, caplog, sampling={"stride": 4},
                             faces={"min_face_size": 30})  # fmt: skip
    assert not wider.loc["tiny", "resumed"] and "the settings ['min_face_size'] changed" in log


def test_an_error_that_is_not_the_film_s_fails_the_run_naming_the_film(tmp_path, film, models, monkeypatch):
    path, _ = film
    listed = match_films(_listed("tiny"), {"tiny.mp4": path})

    def broken(self, movie, path, position=0):
        raise KeyError("a bug")

    monkeypatch.setattr(FilmScorer, "evaluate", broken)
    with pytest.raises(KeyError, match="a bug") as info:
        evaluate_films(listed, models, _params(), FilmPredictionStore(tmp_path / "p"))
    assert any("'tiny'" in note for note in info.value.__notes__)
    assert FilmPredictionStore(tmp_path / "p").finished("tiny") is None


def test_films_in_parallel_workers_match_one_process(tmp_path, film, models):
    path, _ = film
    listed = _listed("one", "two")
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


# ------------------------------------------------------------------------------- one crop per geometry


class Recorder(torch.nn.Module):
    """A network that keeps every input it is given (the crops a model receives) and has no opinion."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return torch.zeros(len(x), len(CLASSES))


def _recorder(crop: CropGeometry) -> LoadedModel:
    size = crop.crop_size  # input size = crop size: the input is the crop itself, normalised
    return LoadedModel(Recorder(), ModelSpec("resnet18", CLASSES, size, (0.5,) * 3, (0.5,) * 3, crop=crop))


def test_each_model_is_scored_on_the_crops_of_its_own_geometry(film):
    path, _ = film
    geometries = {
        "tight": CropGeometry(margin=0.0, crop_size=48),
        "wide": CropGeometry(margin=0.4, crop_size=48),
    }
    nets = {name: _recorder(g) for name, g in geometries.items()}
    ens = EnsembleModel(nets, EnsembleSpec(tuple(nets), CLASSES))  # an ensemble of both: no third crop
    again = _recorder(CropGeometry(margin=0.4, crop_size=48, min_face_size=10))  # same framing as wide
    params = _params()
    scorer = FilmScorer({**nets, "ens": ens, "again": again}, params)
    assert scorer.detector_name == "mediapipe"
    assert sorted(scorer.framings) == [(0.0, 48, 0.0, False), (0.4, 48, 0.0, False)]
    faces, status = scorer.evaluate("tiny", path)
    scorer.close()
    assert status["outcome"] == "ok" and len(faces) >= 3
    with iter_frames(path, params.sampling) as reader:
        frames = {f.frame_idx: f.rgb for f in reader}
    boxes = list(
        zip(faces["frame_idx"], faces[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(), strict=True)
    )
    received = {}
    for name, g in {**geometries, "again": again.spec.crop}.items():
        model = {**nets, "again": again}[name]
        received[name] = torch.cat(model.model.seen)  # each network ran once per face, ensemble or not
        expected = [crop_face(frames[i], tuple(box), g.margin, g.crop_size) for i, box in boxes]
        torch.testing.assert_close(received[name], to_tensor_batch(expected, 48, (0.5,) * 3, (0.5,) * 3))
    assert not torch.allclose(received["tight"], received["wide"])  # different framing, not one crop
    torch.testing.assert_close(received["again"], received["wide"])


def test_models_of_different_detectors_fail_naming_them_and_dataset_framing_follows():
    haar = _recorder(CropGeometry(detector="haar"))
    mp, framed = _recorder(CropGeometry()), _recorder(CropGeometry.dataset_framing(margin=0.1, crop_size=32))
    ens = EnsembleModel({"m": mp, "h": haar}, EnsembleSpec(("m", "h"), CLASSES))
    with pytest.raises(CropMismatchError, match=r"\(haar: ens\.h, lone; mediapipe: a, ens\.m\)"):
        film_crops({"a": mp, "ens": ens, "lone": haar})
    # a curated dataset's own framing has no detector to follow: the other models' detector serves it
    assert film_crops({"fer": framed, "h": haar}) == (
        "haar",
        {(0.1, 32, 0.0, False): framed.spec.crop, (0.2, 224, 0.0, False): haar.spec.crop},
    )
    assert film_crops({"fer": framed})[0] == "mediapipe"  # the default's


def test_an_artifact_without_crop_geometry_is_scored_on_the_default_crops(film, caplog):
    path, _ = film
    model = _model(0)
    with zipfile.ZipFile(io.BytesIO(artifact_bytes(model.model, model.spec))) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = json.loads(members[HEADER_MEMBER])
    del header["spec"]["crop"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in {**members, HEADER_MEMBER: json.dumps(header).encode()}.items():
            zf.writestr(name, data)
    with caplog.at_level("INFO"):
        old = read_artifact(buf.getvalue(), "old.eemodel")
        scorer = FilmScorer({"old": old, "new": model}, _params())
    assert old.spec.crop.assumed and list(scorer.framings) == [CropGeometry().framing]  # one crop, shared
    assert "old: no crop geometry in its artifact" in caplog.text
    faces, status = scorer.evaluate("tiny", path)
    scorer.close()
    assert status["outcome"] == "ok" and len(faces) >= 3


def test_a_crop_mismatch_fails_before_any_film_or_worker(tmp_path, film):
    path, _ = film
    listed = match_films(
        pd.DataFrame({"file_name": ["tiny"], "title": "t", "category": "c"}),
        {"tiny.mp4": path},
    )
    models = {"m": _recorder(CropGeometry()), "h": _recorder(CropGeometry(detector="haar"))}
    with pytest.raises(CropMismatchError, match=r"haar: h; mediapipe: m"):
        evaluate_films(listed, models, _params(workers=2), FilmPredictionStore(tmp_path / "p"))
    assert not (tmp_path / "p" / "tiny.parquet").exists()
