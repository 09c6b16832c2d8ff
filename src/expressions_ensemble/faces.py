"""Face detectors behind one small interface: MediaPipe Tasks (shipped BlazeFace model) and OpenCV Haar.

``create_detector(backend, ...)`` is the one way to get a detector; every caller (photo face extraction,
film frames) gets boxes in pixel coordinates of the image it passed, clipped to the image.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

#: The BlazeFace short-range model shipped as package data (see assets/NOTICE).
MEDIAPIPE_MODEL = "face_detection_short_range.tflite"

BACKENDS = ("mediapipe", "haar")


@dataclass(frozen=True)
class FaceBox:
    """A detected face: pixel box (clipped to the image), detector score in [0, 1], and the eye centres
    in pixels (the subject's right eye, then left; ``None`` where the detector gives none, e.g. Haar),
    which face alignment levels."""

    x: int
    y: int
    w: int
    h: int
    score: float
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def area(self) -> int:
        return self.w * self.h


class FaceDetector(Protocol):
    """What every detector offers."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB uint8 image (H, W, 3), highest score first."""
        ...

    def close(self) -> None:
        """Release native resources."""
        ...


def mediapipe_model_path() -> Path:
    """Path of the shipped BlazeFace model."""
    path = Path(str(resources.files("expressions_ensemble") / "assets" / MEDIAPIPE_MODEL))
    if not path.is_file():
        raise FileNotFoundError(f"The packaged face model is missing: {path} (reinstall the project)")
    return path


def _clip_box(x: float, y: float, w: float, h: float, width: int, height: int) -> tuple[int, int, int, int]:
    x0 = max(0, int(round(x)))
    y0 = max(0, int(round(y)))
    x1 = min(width, int(round(x + w)))
    y1 = min(height, int(round(y + h)))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def _eyes(keypoints: list, width: int, height: int) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """BlazeFace's first two keypoints (right eye, left eye; normalised) in pixels."""
    if len(keypoints) < 2:
        return None
    right, left = keypoints[0], keypoints[1]
    return (right.x * width, right.y * height), (left.x * width, left.y * height)


#: MediaPipe detectors inherited from a parent process through fork: kept referenced so they are never
#: garbage-collected (their ``__del__`` would block) in the child.
_INHERITED: list[object] = []


class MediaPipeFaceDetector:
    """MediaPipe Tasks ``vision.FaceDetector`` in image mode with the shipped short-range model."""

    name = "mediapipe"

    def __init__(self, min_confidence: float = 0.5) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(mediapipe_model_path())),
            min_detection_confidence=float(min_confidence),
        )
        self._detector = vision.FaceDetector.create_from_options(options)
        self._pid = os.getpid()

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._detector.detect(image)
        height, width = rgb.shape[:2]
        boxes = []
        for det in result.detections:
            bb = det.bounding_box
            x, y, w, h = _clip_box(bb.origin_x, bb.origin_y, bb.width, bb.height, width, height)
            if w > 0 and h > 0:
                score = float(det.categories[0].score) if det.categories else 0.0
                boxes.append(FaceBox(x, y, w, h, score, _eyes(det.keypoints, width, height)))
        return sorted(boxes, key=lambda b: -b.score)

    def close(self) -> None:
        """Release the native detector; a copy inherited through fork is kept alive, never closed.

        Closing (or garbage-collecting) a forked copy waits forever on the parent's dispatcher thread,
        which does not exist in the child.
        """
        if self._detector is None:
            return
        if self._pid == os.getpid():
            self._detector.close()
        else:
            _INHERITED.append(self._detector)
        self._detector = None

    def __del__(self) -> None:  # native handles must be released before interpreter teardown
        with contextlib.suppress(Exception):
            self.close()


class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade; its level weights are squashed into a [0, 1] score."""

    name = "haar"

    def __init__(
        self, min_confidence: float = 0.5, scale_factor: float = 1.1, min_neighbors: int = 5
    ) -> None:
        import cv2

        cascade_path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(cascade_path))
        if self._cascade.empty():
            raise FileNotFoundError(
                f"OpenCV Haar cascade not found at {cascade_path}; install opencv-contrib-python<5"
            )
        self._cv2 = cv2
        self.min_confidence = float(min_confidence)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        grey = self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2GRAY)
        rects, _levels, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, outputRejectLevels=True
        )
        height, width = grey.shape
        boxes = []
        for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=False):
            score = 1.0 / (1.0 + math.exp(-float(weight)))
            if score >= self.min_confidence:
                boxes.append(FaceBox(*_clip_box(x, y, w, h, width, height), score))
        return sorted(boxes, key=lambda b: -b.score)

    def close(self) -> None:
        self._cascade = None


def create_detector(
    backend: str = "mediapipe", min_confidence: float = 0.5, **options: object
) -> FaceDetector:
    """Build a detector by backend name; fail naming the key and the allowed values."""
    if not 0.0 <= float(min_confidence) <= 1.0:
        raise ValueError(f"min_confidence must be within [0, 1], got {min_confidence!r}")
    if backend == "mediapipe":
        if options:
            raise ValueError(f"detector options {sorted(options)} are not used by the mediapipe backend")
        return MediaPipeFaceDetector(min_confidence=min_confidence)
    if backend == "haar":
        return HaarFaceDetector(min_confidence=min_confidence, **options)  # type: ignore[arg-type]
    raise ValueError(f"detector: unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")


#: An image whose smaller side is under this many pixels (a curated dataset's own 48-px face crop) is
#: enlarged by a whole factor to at least this side before it is searched and cropped
#: (:func:`enlarge_small`): cropping a 40-px face with whole-pixel boxes would move the frame by 2.5 %
#: per pixel.
SMALL_IMAGE_SIDE = 144

#: Black frame around an image that is all face, as a share of its side on each side
#: (:func:`detect_in_frame`): BlazeFace looks for faces within a scene, and misses a face that fills its
#: input. Measured on 400 FER2013 training images enlarged x3: faces in 377 without a frame, 396 with it.
FACE_FRAME = 0.25


def enlarge_small(rgb: np.ndarray, min_side: int = SMALL_IMAGE_SIDE) -> np.ndarray:
    """The image enlarged by the smallest whole factor that makes its smaller side at least
    ``min_side`` (itself when it is already that large)."""
    import cv2

    factor = math.ceil(min_side / max(1, min(rgb.shape[:2])))
    if factor <= 1:
        return rgb
    height, width = rgb.shape[:2]
    return cv2.resize(rgb, (width * factor, height * factor), interpolation=cv2.INTER_LINEAR)


def detect_in_frame(detector: FaceDetector, rgb: np.ndarray, frame: float = FACE_FRAME) -> list[FaceBox]:
    """Faces of an image that is all face (a dataset's own crop), searched inside a black frame of
    ``frame`` of its side; boxes (and eyes) in the image's own pixels. A box may reach past the
    image's edges (a chin the dataset cut off): it is the face's box, not clipped to the image, so a
    crop of it (:func:`~expressions_ensemble.imaging.crop_face` replicates the border) frames the face
    as it frames a face detected in a film."""
    import cv2

    pad = int(round(frame * max(rgb.shape[:2])))
    framed = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    boxes = []
    for box in detector.detect(framed):
        eyes = None
        if box.eyes is not None:
            (rx, ry), (lx, ly) = box.eyes
            eyes = ((rx - pad, ry - pad), (lx - pad, ly - pad))
        boxes.append(FaceBox(box.x - pad, box.y - pad, box.w, box.h, box.score, eyes))
    return boxes


#: How to pick faces from a detection: the largest face, only images with exactly one face, or all faces.
FACE_POLICIES = ("largest", "single_only", "all")


def select_faces(boxes: list[FaceBox], policy: str, min_size: int = 0) -> tuple[list[FaceBox], str]:
    """Apply the face policy and the minimum face size; return the chosen faces and an outcome.

    The outcome is ``"kept"`` or the reason nothing was kept: ``no_face``, ``multiple_faces`` (single_only
    policy) or ``face_too_small``. Small faces are ignored before the policy, so a large face next to a
    tiny background face still counts as a single face.
    """
    if policy not in FACE_POLICIES:
        raise ValueError(f"face policy: unknown value {policy!r}; allowed: {', '.join(FACE_POLICIES)}")
    if not boxes:
        return [], "no_face"
    large = [b for b in boxes if min(b.w, b.h) >= min_size]
    if not large:
        return [], "face_too_small"
    if policy == "single_only":
        return (large, "kept") if len(large) == 1 else ([], "multiple_faces")
    if policy == "largest":
        return [max(large, key=lambda b: (b.area, b.score))], "kept"
    return sorted(large, key=lambda b: -b.area), "kept"
