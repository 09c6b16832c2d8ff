"""The face renderer: determinism, looks, face counts, expressions that differ and a real face detector."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from expressions_ensemble.labels import EMOTIONS
from expressions_ensemble.simulation import (
    LOOKS,
    VARIANTS,
    FaceSpec,
    draw_face,
    face_box,
    get_look,
    random_face_spec,
    render_background,
    render_photo,
    render_scene,
)


def _rng(*parts: int) -> np.random.Generator:
    return np.random.default_rng(list(parts))


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


@pytest.mark.parametrize("look", ["stock", "lab"])
def test_same_seed_gives_identical_pixels_and_other_seeds_differ(look: str) -> None:
    first = render_photo(_rng(1, 2), ["happy", "sad"] if look == "stock" else ["happy"], look)
    again = render_photo(_rng(1, 2), ["happy", "sad"] if look == "stock" else ["happy"], look)
    other = render_photo(_rng(1, 3), ["happy", "sad"] if look == "stock" else ["happy"], look)
    assert np.array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_stock_look_is_colour_within_size_range() -> None:
    look = LOOKS["stock"]
    coloured = 0
    for i in range(12):
        img = render_photo(_rng(7, i), [EMOTIONS[i % 7]], "stock")
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert look.height[0] <= img.shape[0] <= look.height[1]
        assert look.width[0] <= img.shape[1] <= look.width[1]
        coloured += int(np.abs(img[:, :, 0].astype(int) - img[:, :, 2]).mean() > 2)
    assert coloured >= 10


def test_lab_look_is_grey_48_with_a_centred_face_filling_the_frame() -> None:
    for i, emotion in enumerate(EMOTIONS):
        scene = render_scene(_rng(8, i), [emotion], "lab")
        img = scene.image
        assert img.shape == (48, 48, 3) and img.dtype == np.uint8
        assert np.array_equal(img[:, :, 0], img[:, :, 1]) and np.array_equal(img[:, :, 0], img[:, :, 2])
        (face,) = scene.faces
        assert abs(face.center[0] - 24) < 3 and abs(face.center[1] - 24) < 4
        assert 40 <= face.size <= 52
        assert face.intensity >= LOOKS["lab"].intensity[0]


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_scene_has_the_requested_faces_and_they_do_not_overlap(n: int) -> None:
    for i in range(6):
        emotions = [EMOTIONS[(i + k) % 7] for k in range(n)]
        scene = render_scene(_rng(9, n, i), emotions, "stock")
        assert sorted(f.emotion for f in scene.faces) == sorted(emotions)
        h, w = scene.image.shape[:2]
        boxes = [face_box(f) for f in scene.faces]
        for x, y, bw, bh in boxes:  # faces lie inside the frame
            assert x >= -1 and y >= -1 and x + bw <= w + 1 and y + bh <= h + 1
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                assert _overlap(boxes[a], boxes[b]) == 0


def test_empty_scene_differs_from_a_scene_with_a_face_only_around_the_face() -> None:
    empty = render_scene(_rng(10), [], "stock")
    assert empty.faces == ()
    # drawing a face onto the empty scene changes the face region and nothing far above it
    spec = random_face_spec(_rng(11), "happy", empty.image.shape[:2], "stock")
    canvas = empty.image.copy()
    draw_face(canvas, spec)
    changed = np.any(canvas != empty.image, axis=2)
    x, y, w, h = face_box(spec)
    assert changed[y + h // 4 : y + 3 * h // 4, x + w // 4 : x + 3 * w // 4].mean() > 0.95
    assert not changed[: max(0, y - h)].any()  # well above the head nothing is touched


@pytest.mark.parametrize("emotion", [e for e in EMOTIONS if e != "neutral"])
def test_every_emotion_draws_its_own_geometry(emotion: str) -> None:
    base = random_face_spec(_rng(12), "neutral", (240, 240), "stock", center=(120.0, 110.0), size=150.0)
    base = replace(base, rotation=0.0, yaw=0.0)
    neutral = np.full((240, 240, 3), 128, np.uint8)
    draw_face(neutral, base)
    diffs = []
    for variant in range(VARIANTS[emotion]):
        for intensity in (0.0, 0.4, 1.0):
            img = np.full((240, 240, 3), 128, np.uint8)
            draw_face(img, replace(base, emotion=emotion, intensity=intensity, variant=variant))
            diffs.append(np.abs(img.astype(int) - neutral).sum(axis=2))
        # intensity 0 is exactly neutral, and the expression grows with intensity
        zero, mid, full = diffs[-3:]
        assert not zero.any()
        assert 0 < (mid > 30).sum() < (full > 30).sum()
        # both the upper face (brows/eyes) and the lower face (mouth) change
        upper, lower = full[40:100], full[120:175]
        assert (upper > 30).sum() > 40 and (lower > 30).sum() > 40


def test_draw_face_works_on_any_frame_and_clips_at_the_border() -> None:
    frame = np.zeros((90, 160, 3), np.uint8)
    spec = FaceSpec("surprise", center=(150.0, 20.0), size=70.0)  # half outside the frame
    draw_face(frame, spec)
    assert frame[:, 100:].any() and not frame[:, :40].any()
    with pytest.raises(ValueError, match="RGB uint8"):
        draw_face(np.zeros((50, 50), np.uint8), spec)


def test_background_clutter_adds_structure() -> None:
    plain = [render_background(_rng(13, i), 200, 300, 0.0) for i in range(8)]
    busy = [render_background(_rng(13, i), 200, 300, 1.0) for i in range(8)]
    assert all(b.shape == (200, 300, 3) and b.dtype == np.uint8 for b in plain + busy)

    def edges(img: np.ndarray) -> float:
        return float(np.abs(np.diff(img.astype(int), axis=1)).mean())

    assert np.mean([edges(b) for b in busy]) > 2 * np.mean([edges(p) for p in plain])


def test_bad_inputs_fail_naming_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="allowed"):
        FaceSpec("joy")
    with pytest.raises(ValueError, match="intensity"):
        FaceSpec("happy", intensity=1.5)
    with pytest.raises(ValueError, match="allowed"):
        get_look("film-noir")
    with pytest.raises(ValueError, match="allowed"):
        render_photo(_rng(1), ["anger"], "stock")


def test_lab_expressions_are_learnable_by_a_linear_model() -> None:
    """A ridge classifier on raw 48×48 pixels must beat chance (1/7) by far: expressions are distinct."""

    def data(split: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for k, emotion in enumerate(EMOTIONS):
            for i in range(n):
                img = render_photo(_rng(14, split, k, i), [emotion], "lab")[:, :, 0].astype(np.float32)
                xs.append(((img - img.mean()) / (img.std() + 1e-6)).ravel())
                ys.append(k)
        return np.array(xs), np.array(ys)

    x_train, y_train = data(0, 50)
    x_test, y_test = data(1, 20)
    weights = np.linalg.solve(
        x_train.T @ x_train + 10.0 * np.eye(x_train.shape[1]), x_train.T @ np.eye(7)[y_train]
    )
    accuracy = float((np.argmax(x_test @ weights, axis=1) == y_test).mean())
    assert accuracy > 0.5, accuracy


def test_mediapipe_detects_rendered_faces_and_not_empty_scenes() -> None:
    pytest.importorskip("mediapipe")
    from expressions_ensemble.faces import create_detector

    det = create_detector("mediapipe", min_confidence=0.5)
    try:
        found = 0
        for i in range(200):
            scene = render_scene(_rng(15, i), [EMOTIONS[i % 7]], "stock")
            boxes = det.detect(scene.image)
            if not boxes:
                continue
            truth = face_box(scene.faces[0])
            best = boxes[0]
            inter = _overlap(truth, (best.x, best.y, best.w, best.h))
            union = truth[2] * truth[3] + best.w * best.h - inter
            found += int(inter / union > 0.3)
        assert found >= 194, f"detected {found}/200"
        false_hits = sum(bool(det.detect(render_photo(_rng(16, i), [], "stock"))) for i in range(50))
        assert false_hits <= 5, f"{false_hits}/50 empty scenes gave a detection"
    finally:
        det.close()
