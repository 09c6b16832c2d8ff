"""A curated dataset's framing of detected faces: checked, recorded, and kept out of the checkpoint key."""

from __future__ import annotations

import pytest

from expressions_ensemble.imaging import DATASET_FRAMING, CropGeometry
from expressions_ensemble.pipelines.baselines.nodes import dataset_framing


def test_framing_defaults_to_the_detector_crops_and_is_recorded_as_given():
    assert dataset_framing("fer2013", {"kind": "fer2013_folders"}) == CropGeometry.dataset_framing()
    got = dataset_framing("fer2013", {"framing": {"margin": 0.05, "shift": -0.1}})
    assert got.detector == DATASET_FRAMING and got.framing == (0.05, 224, -0.1, False)


@pytest.mark.parametrize(
    ("framing", "pattern"),
    [
        (
            {"margins": 0.1},
            r"baselines\.datasets\.fer2013\.framing: unknown keys \['margins'\]; allowed: detect, margin",
        ),
        ({"shift": 0.9}, r"baselines\.datasets\.fer2013\.framing\.shift: got 0\.9; allowed: a number from"),
        (
            {"aligned": "no"},
            r"baselines\.datasets\.fer2013\.framing\.aligned: got 'no'; allowed: true or false",
        ),
        (0.1, r"baselines\.datasets\.fer2013\.framing: expected a mapping with keys detect, margin"),
    ],
)
def test_bad_framing_fails_naming_the_key_path(framing, pattern):
    with pytest.raises(ValueError, match=pattern):
        dataset_framing("fer2013", {"framing": framing})


def test_detected_framing_is_face_extractions_geometry_with_the_datasets_margin():
    faces = {"detector": "mediapipe", "min_confidence": 0.6, "margin": 0.2, "crop_size": 96}
    got = dataset_framing("fer2013", {"framing": {"detect": True, "margin": 0.0}}, faces)
    assert got == CropGeometry("mediapipe", 0.0, 96, "largest", 24, 0.6)
    assert dataset_framing("fer2013", {"framing": {"detect": True}}, faces).margin == 0.2
    with pytest.raises(ValueError, match=r"fer2013\.framing\.detect: got 'yes'; allowed: true or false"):
        dataset_framing("fer2013", {"framing": {"detect": "yes"}}, faces)
    with pytest.raises(ValueError, match=r"fer2013\.framing\.margin: got -0\.9"):
        dataset_framing("fer2013", {"framing": {"detect": True, "margin": -0.9}}, faces)
