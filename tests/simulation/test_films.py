"""Simulated films: a truth for every frame, files that decode as asked, genre mixes, seeds, a detector."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expressions_ensemble.faces import create_detector
from expressions_ensemble.simulation import (
    DEFAULT_FILMS,
    GENRE_MIXES,
    MOVIE_LIST_COLUMNS,
    TRUTH_COLUMNS,
    FilmSpec,
    Shot,
    film_frames,
    movie_list,
    plan_film,
    render_film,
)
from expressions_ensemble.video import Sampling, iter_frames, probe_video

FilmFiles = dict[str, tuple[FilmSpec, Path, pd.DataFrame]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> FilmFiles:
    """All default films rendered once (seed 0); the time it took is printed in the test output."""
    folder = tmp_path_factory.mktemp("films")
    out: FilmFiles = {}
    start = time.perf_counter()
    for spec in DEFAULT_FILMS:
        path = folder / spec.video_file
        out[spec.name] = (spec, path, render_film(spec, path, seed=0))
    seconds = time.perf_counter() - start
    frames = sum(spec.frame_count for spec in DEFAULT_FILMS)
    message = (
        f"\nrendered {len(DEFAULT_FILMS)} default films ({frames} frames, "
        f"{sum(s.duration_sec for s in DEFAULT_FILMS):.0f} s of film) in {seconds:.1f} s"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():  # shown in the test output, not only on failure
            print(message)
    else:
        print(message)
    return out


def _short_film(**changes: object) -> FilmSpec:
    spec = FilmSpec(
        name="short",
        title="Short",
        genre="Comedy",
        shots=(
            Shot(0.5, ("happy",), ("surprise",), "push_in"),
            Shot(0.25),
            Shot(0.5, ("sad", "angry"), camera="pan"),
        ),
        fps=24.0,
        size=(320, 180),
    )
    return replace(spec, **changes)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# ------------------------------------------------------------------------------------------- truth


def test_truth_covers_every_frame_exactly_once(rendered: FilmFiles) -> None:
    for spec, _path, truth in rendered.values():
        assert tuple(truth.columns) == TRUTH_COLUMNS
        assert sorted(truth["frame_idx"].unique()) == list(range(spec.frame_count))
        faceless = truth[truth["face_idx"] == -1]
        faces = truth[truth["face_idx"] >= 0]
        assert faceless["emotion"].isna().all() and faceless[["x", "y", "w", "h"]].isna().all().all()
        assert not set(faceless["frame_idx"]) & set(faces["frame_idx"])  # a frame is one or the other
        assert not faces.duplicated(["frame_idx", "face_idx"]).any()
        for _idx, ids in faces.groupby("frame_idx")["face_idx"]:
            assert sorted(ids) == list(range(len(ids)))
        assert faces["emotion"].notna().all() and faces[["x", "y", "w", "h"]].notna().all().all()
        width, height = spec.size
        assert (faces["x"] >= 0).all() and (faces["y"] >= 0).all()
        assert ((faces["x"] + faces["w"]) <= width).all() and ((faces["y"] + faces["h"]) <= height).all()
        assert (faces["h"] >= 0.3 * height).all()  # large enough faces, never cut by the frame edge
        by_frame = truth.drop_duplicates("frame_idx").set_index("frame_idx")
        assert np.allclose(by_frame["timestamp_sec"], by_frame.index / spec.fps)
        shots = np.repeat(np.arange(len(spec.shots)), spec.shot_frames)
        assert np.array_equal(by_frame["shot"].to_numpy(), shots)


def test_files_decode_with_the_frame_count_fps_and_size_asked(rendered: FilmFiles) -> None:
    for spec, path, _truth in rendered.values():
        info = probe_video(path)
        assert info.frame_count == spec.frame_count
        assert info.fps == pytest.approx(spec.fps, abs=1e-3)
        assert (info.width, info.height) == spec.size
        reader = iter_frames(path, Sampling("stride", stride=spec.frame_count))  # reads every frame
        assert [f.frame_idx for f in reader] == [0]
        assert reader.frames_read == spec.frame_count and reader.outcome == "ok"
    assert not list(path.parent.glob(".*partial*"))  # nothing half-written left behind


def test_genres_show_their_emotions_and_every_film_has_faceless_and_two_shots(rendered: FilmFiles) -> None:
    share = {}
    for spec, _path, truth in rendered.values():
        faces = truth[truth["face_idx"] >= 0]
        share[spec.genre] = faces["emotion"].value_counts(normalize=True)
        n_frames = spec.frame_count
        faceless_frames = (truth["face_idx"] == -1).sum()
        assert 0.05 * n_frames <= faceless_frames <= 0.5 * n_frames
        assert (faces.groupby("frame_idx").size() == 2).any()
    comedy, crime, drama = share["Comedy"], share["Crime"], share["Drama"]
    assert set(comedy.index) <= {"happy", "surprise", "neutral"}
    assert comedy.get("happy", 0) + comedy.get("surprise", 0) >= 0.7
    assert comedy.get("happy", 0) >= 0.3 and comedy.get("surprise", 0) >= 0.1
    assert set(crime.index) <= {"angry", "fear", "sad"}
    assert all(crime.get(e, 0) >= 0.15 for e in ("angry", "fear", "sad"))
    spec, _path, truth = rendered["sim_drama"]
    faces = truth[truth["face_idx"] >= 0]
    first = faces[faces["timestamp_sec"] < spec.duration_sec / 3]["emotion"]
    last = faces[faces["timestamp_sec"] >= 2 * spec.duration_sec / 3]["emotion"]
    assert set(first) <= {"sad", "neutral"} and (first == "sad").mean() >= 0.4
    assert (last == "happy").mean() >= 0.5 and "sad" not in set(last)
    assert set(drama.index) <= {"sad", "neutral", "happy"}


def test_mediapipe_finds_the_faces_of_the_truth(rendered: FilmFiles) -> None:
    detector = create_detector("mediapipe")
    try:
        for spec, path, truth in rendered.values():
            faces = truth[truth["face_idx"] >= 0].groupby("frame_idx")
            faceless = set(truth.loc[truth["face_idx"] == -1, "frame_idx"])
            found = total = false_alarms = empty = 0
            for frame in iter_frames(path, Sampling("stride", stride=8)):
                boxes = [(b.x, b.y, b.w, b.h) for b in detector.detect(frame.rgb)]
                if frame.frame_idx in faceless:
                    empty += 1
                    false_alarms += bool(boxes)
                    continue
                for row in faces.get_group(frame.frame_idx).itertuples():
                    total += 1
                    true_box = (int(row.x), int(row.y), int(row.w), int(row.h))
                    found += max((_iou(true_box, b) for b in boxes), default=0.0) >= 0.3
            assert total >= 50 and found >= 0.8 * total, f"{spec.name}: {found}/{total} faces detected"
            assert false_alarms <= 0.1 * empty, (
                f"{spec.name}: faces found on {false_alarms}/{empty} empty frames"
            )
    finally:
        detector.close()


# ----------------------------------------------------------------------------------------- seeding


def test_same_seed_same_film_other_seed_other_pixels(tmp_path: Path) -> None:
    spec = _short_film()
    first = render_film(spec, tmp_path / "a.mp4", seed=5)
    again = render_film(spec, tmp_path / "b.mp4", seed=5)
    other = render_film(spec, tmp_path / "c.mp4", seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not first[["x", "y"]].equals(other[["x", "y"]])
    decoded = [
        [f.rgb for f in iter_frames(tmp_path / f"{n}.mp4", Sampling("stride", stride=9))] for n in "abc"
    ]
    assert all(np.array_equal(x, y) for x, y in zip(decoded[0], decoded[1], strict=True))
    assert not np.array_equal(decoded[0][0], decoded[2][0])
    assert plan_film("Crime", name="x", title="X", duration_sec=20, seed=4) == plan_film(
        "Crime", name="x", title="X", duration_sec=20, seed=4
    )
    assert plan_film("Crime", name="x", title="X", duration_sec=20, seed=4) != plan_film(
        "Crime", name="x", title="X", duration_sec=20, seed=5
    )


def test_editing_one_shot_leaves_the_other_shots_pixels(tmp_path: Path) -> None:
    spec = _short_film()
    edited = replace(spec, shots=(spec.shots[0], Shot(0.25), Shot(0.5, ("fear", "angry"), camera="pan")))
    a = [f.rgb for f in film_frames(spec, seed=1)]
    b = [f.rgb for f in film_frames(edited, seed=1)]
    first_shot = spec.shot_frames[0]
    assert all(np.array_equal(x, y) for x, y in zip(a[:first_shot], b[:first_shot], strict=True))
    assert not np.array_equal(a[-1], b[-1])


def test_expression_change_switches_the_truth_half_way_with_the_same_face() -> None:
    spec = _short_film()
    frames = [f for f in film_frames(spec, seed=2) if f.shot == 0]
    emotions = [f.faces[0][0] for f in frames]
    half = len(frames) // 2
    assert emotions == ["happy"] * half + ["surprise"] * (len(frames) - half)
    before, after = frames[half - 1], frames[half]
    assert abs(before.faces[0][1][0] - after.faces[0][1][0]) <= 2  # same actor, same place
    assert np.abs(before.rgb.astype(int) - after.rgb).mean() > 0.2  # but the face changed


def test_camera_moves_the_picture_and_the_boxes_together() -> None:
    spec = _short_film()
    frames = [f for f in film_frames(spec, seed=3) if f.shot == 2]  # a pan over a two-shot
    first, last = frames[0], frames[-1]
    shift = [b1[1][0] - b0[1][0] for b0, b1 in zip(first.faces, last.faces, strict=True)]
    assert abs(shift[0]) >= 5 and abs(shift[0] - shift[1]) <= 2  # both faces move with the camera
    (x0, y0, w0, h0), (x1, y1, w1, h1) = first.faces[0][1], last.faces[0][1]
    w, h = min(w0, w1), min(h0, h1)
    face_then = first.rgb[y0 : y0 + h, x0 : x0 + w].astype(int)
    followed = np.abs(face_then - last.rgb[y1 : y1 + h, x1 : x1 + w]).mean()  # the box went with the face
    stayed = np.abs(face_then - last.rgb[y0 : y0 + h, x0 : x0 + w]).mean()
    assert followed < 0.5 * stayed


def test_a_portrait_film_keeps_both_faces_of_a_two_shot_in_frame() -> None:
    shots = (Shot(0.5, ("sad", "happy"), camera="pan"), Shot(0.5, ("fear",)))
    spec = _short_film(size=(180, 320), shots=shots)
    for frame in film_frames(spec, seed=4):
        boxes = [box for _emotion, box in frame.faces]
        for x, y, w, h in boxes:
            assert x >= 0 and y >= 0 and x + w <= 180 and y + h <= 320 and w >= 30
        if len(boxes) == 2:
            assert _iou(boxes[0], boxes[1]) == 0.0


# -------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Shot(0), "Shot.duration_sec must be a number > 0"),
        (lambda: Shot(1, ("joy",)), "unknown emotion 'joy'; allowed: angry, disgust"),
        (lambda: Shot(1, ("sad", "sad", "sad")), "at most 2 faces"),
        (lambda: Shot(1, ("sad",), ("happy", "sad")), "one emotion per face"),
        (lambda: Shot(1, camera="zoom"), "unknown move 'zoom'; allowed: static, push_in, pan"),
        (lambda: _short_film(shots=()), "at least one shot"),
        (lambda: _short_film(name="../x"), "plain file stem"),
        (lambda: _short_film(fps=0), "fps must be a number > 0"),
        (lambda: _short_film(size=(321, 180)), "size must be even"),
        (lambda: _short_film(shots=(Shot(0.01),)), "at least one frame"),
        (lambda: plan_film("Western", name="w", title="W", duration_sec=5, seed=0), "allowed: Comedy, Crime"),
    ],
)
def test_specs_fail_naming_the_field_and_allowed_values(make: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        make()  # type: ignore[operator]
    assert message in str(err.value)


def test_movie_list_names_the_rendered_films() -> None:
    listed = movie_list(DEFAULT_FILMS)
    assert tuple(listed.columns) == MOVIE_LIST_COLUMNS
    assert listed.to_dict("records") == [
        {"file_name": "sim_comedy", "title": "Simulated Comedy", "category": "Comedy"},
        {"file_name": "sim_crime", "title": "Simulated Crime", "category": "Crime"},
        {"file_name": "sim_drama", "title": "Simulated Drama", "category": "Drama"},
        {"file_name": "sim_comedy_2", "title": "Simulated Comedy II", "category": "Comedy"},
        {"file_name": "sim_crime_2", "title": "Simulated Crime II", "category": "Crime"},
    ]
    # two films of each of the report's focus genres: the genre claim needs min_films_per_genre = 2
    assert (listed["category"].value_counts()[["Comedy", "Crime"]] >= 2).all()
    assert set(listed["category"]) <= set(GENRE_MIXES)
    with pytest.raises(ValueError, match="unique"):
        movie_list([DEFAULT_FILMS[0], DEFAULT_FILMS[0]])


def test_default_films_are_short_and_small() -> None:
    assert len(DEFAULT_FILMS) >= 2
    for spec in DEFAULT_FILMS:
        assert 20 <= spec.duration_sec <= 60 and spec.fps == 24.0 and spec.size == (640, 360)
        assert (
            spec.frame_count == sum(spec.shot_frames) == round(sum(s.duration_sec for s in spec.shots) * 24)
        )


# ------------------------------------------------------------------------------------- concurrency


def test_two_renders_of_one_film_at_once_both_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs rendering the same film at the same moment: each writes its own temporary file (a fixed
    name made the second rename fail), and the film in place is a complete one."""
    import threading

    from expressions_ensemble.simulation import films

    spec = _short_film()
    both_open = threading.Barrier(2, timeout=30)
    frames = films.film_frames

    def frames_after_both_writers_opened(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        both_open.wait()  # both VideoWriters are open before either film is finished
        yield from frames(*args, **kwargs)

    monkeypatch.setattr(films, "film_frames", frames_after_both_writers_opened)
    path = tmp_path / spec.video_file
    errors: list[BaseException] = []
    truths: list[pd.DataFrame] = []

    def render() -> None:
        try:
            truths.append(render_film(spec, path, seed=0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=render) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    pd.testing.assert_frame_equal(truths[0], truths[1])
    assert probe_video(path).frame_count == spec.frame_count
    assert [p.name for p in tmp_path.iterdir()] == [spec.video_file]
