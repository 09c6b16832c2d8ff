"""How FER2013 framed its faces, in the terms of the project's crops: margin and shift of a BlazeFace box.

FER2013's 48x48 images are faces its makers cut out themselves. To crop a film's detected face the way
a FER2013 model saw faces, this runs the project's MediaPipe detector on a seeded sample of the test
images (each padded by ``--pad`` black pixels on every side, then upscaled x3 so that BlazeFace's
128-px input sees a face of film size) and reports, over the images with a face:

- the box's larger side as a share of the image side (median and quartiles), hence the ``margin``
  that grows a detected box into the FER2013 frame: ``(1 / share - 1) / 2``;
- the offset of the image centre from the box centre, as a share of the box side (``shift``;
  negative: the frame's centre is above the box's, i.e. FER2013 shows more forehead than chin).

    .venv/bin/python benchmarks/fer2013_framing.py [--n 400] [--pad 24] [--seed 0]

Measured 2026-12-03: a face in 395 of 400 images; box side 0.868 of the image (quartiles 0.778,
0.931); margin 0.076, shift -0.092.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    import cv2

    from expressions_ensemble.faces import create_detector
    from support import shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="test images sampled")
    parser.add_argument("--pad", type=int, default=24, help="black border added on each side, pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = sorted((shared_data_dir() / "fer2013" / "test").glob("*/*.jpg"))
    if not files:
        sys.exit(f"no FER2013 test images under {shared_data_dir() / 'fer2013' / 'test'}")
    files = random.Random(args.seed).sample(files, min(args.n, len(files)))
    scale, pad = 3, args.pad
    detector = create_detector("mediapipe", 0.5)
    shares, shifts = [], []
    try:
        for path in files:
            grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            side = grey.shape[0]
            big = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
            big = cv2.resize(
                big, (big.shape[1] * scale, big.shape[0] * scale), interpolation=cv2.INTER_LINEAR
            )
            boxes = detector.detect(np.repeat(big[:, :, None], 3, axis=2))
            if not boxes:
                continue
            box = max(boxes, key=lambda b: b.area)
            box_side = max(box.w, box.h) / scale
            box_cy = (box.y + box.h / 2) / scale - pad
            shares.append(box_side / side)
            shifts.append((side / 2 - box_cy) / box_side)
    finally:
        detector.close()
    share, shift = float(np.median(shares)), float(np.median(shifts))
    q25, q75 = np.percentile(shares, [25, 75])
    print(f"a face in {len(shares)} of {len(files)} FER2013 test images")
    print(f"box side / image side: median {share:.3f} (quartiles {q25:.3f}, {q75:.3f})")
    print(f"framing of a detected box like FER2013: margin {(1 / share - 1) / 2:.3f}, shift {shift:.3f}")


if __name__ == "__main__":
    main()
