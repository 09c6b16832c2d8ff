"""Does BlazeFace frame a face in a 48-px dataset image as it frames the same face in a film frame?

``framing: {detect: true}`` (docs/datasets.md) crops FER2013's 48-px images on the detector's box and
a film's faces on the box of a full-resolution frame, with one margin. That matches the crops only if
the detector places its box alike at both resolutions. This takes every ``--stride``-th frame of the
real clips (``../shared/data/videos``: the Pexels clip and the MEAD clips), finds the largest face at
full resolution, makes a FER2013-like image of it (the face in FER2013's own frame, margin 0.08 and
shift -0.09, 48x48, grey), searches that image as the baselines search FER2013's
(:func:`~expressions_ensemble.faces.enlarge_small`, :func:`~expressions_ensemble.faces.detect_in_frame`)
and compares the two boxes in the frame's pixels: the small image's box side over the full one's, and
the centre's offset as a share of the full box's side (quartiles).

    .venv/bin/python benchmarks/detector_resolution.py [--stride 10]

Measured 2026-12-04: 215 faces, all found again at 48 px; side ratio quartiles 0.982 / 0.997 / 1.015,
centre offset x -0.012 / -0.003 / 0.007, y -0.004 / 0.005 / 0.014: the same box, so the detected crops
of FER2013 and of the films are framed alike.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

#: FER2013's own frame around a BlazeFace box (benchmarks/fer2013_framing.py) and its image side.
FER_MARGIN, FER_SHIFT, FER_SIDE = 0.08, -0.09, 48


def compare_boxes(files: list[Path], stride: int) -> tuple[np.ndarray, int]:
    """Per face found at full resolution: (side ratio, centre dx, centre dy) of the box found again
    in its FER2013-like 48-px image (rows), and how many faces were not found again."""
    import cv2

    from expressions_ensemble.faces import create_detector, detect_in_frame, enlarge_small, select_faces
    from expressions_ensemble.imaging import crop_face, square_box

    detector = create_detector("mediapipe", 0.5)
    rows, missed = [], 0
    try:
        for path in files:
            capture = cv2.VideoCapture(str(path))
            index = 0
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                index += 1
                if index % stride:
                    continue
                rgb = np.ascontiguousarray(bgr[:, :, ::-1])
                chosen, _ = select_faces(detector.detect(rgb), "largest", 24)
                if not chosen:
                    continue
                face = chosen[0]
                box = (face.x, face.y, face.w, face.h)
                left, top, side = square_box(*box, FER_MARGIN, FER_SHIFT)
                small = crop_face(rgb, box, margin=FER_MARGIN, size=FER_SIDE, shift=FER_SHIFT)
                grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
                searched = enlarge_small(np.repeat(grey[:, :, None], 3, axis=2))
                found, _ = select_faces(detect_in_frame(detector, searched), "largest", 0)
                if not found:
                    missed += 1
                    continue
                k = searched.shape[0] / side  # searched-image pixels per frame pixel
                lo, full = found[0], max(face.w, face.h)
                rows.append(
                    (
                        max(lo.w, lo.h) / k / full,
                        (left + (lo.x + lo.w / 2) / k - (face.x + face.w / 2)) / full,
                        (top + (lo.y + lo.h / 2) / k - (face.y + face.h / 2)) / full,
                    )
                )
            capture.release()
    finally:
        detector.close()
    return np.array(rows, dtype=float).reshape(-1, 3), missed


def main() -> None:
    from support import shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=10, help="every Nth frame")
    args = parser.parse_args()
    videos = shared_data_dir() / "videos"
    files = sorted((videos / "mead").glob("*.mp4")) + sorted(videos.glob("*Pexels*.mp4"))
    if not files:
        sys.exit(f"no clips under {videos}")
    boxes, missed = compare_boxes(files, args.stride)

    def quartiles(values: np.ndarray) -> str:
        return " / ".join(f"{v:.3f}" for v in np.percentile(values, [25, 50, 75]))

    print(f"{len(boxes)} faces found again at {FER_SIDE} px, {missed} not")
    if len(boxes):
        print(f"box side, {FER_SIDE} px over full resolution: {quartiles(boxes[:, 0])}")
        offsets = f"x: {quartiles(boxes[:, 1])}; y: {quartiles(boxes[:, 2])}"
        print(f"centre offset {offsets} (share of the full box side)")


if __name__ == "__main__":
    main()
