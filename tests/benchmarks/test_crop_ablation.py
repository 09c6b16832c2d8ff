"""The pure parts of ``benchmarks/crop_ablation.py``: its variants, their crops, scores and the pick."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from expressions_ensemble.faces import FaceBox
from expressions_ensemble.labels import STUDY_CLASSES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "crop_ablation.py"


def _load():
    spec = importlib.util.spec_from_file_location("crop_ablation_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ca = _load()


def test_each_factor_is_changed_alone_against_the_models_own_way():
    base = ca.Variant(margin=0.2, preprocessing="rgb", flip=True)
    variants = list(ca.factor_variants(base))
    assert variants[0] == ("as_trained", "-", base)
    for factor, level, variant in variants[1:]:
        changed = {k for k, v in vars(variant).items() if getattr(base, k) != v}
        assert len(changed) == 1, (factor, level, changed)
    margins = [v.margin for f, _, v in variants if f == "margin"]
    assert 0.2 not in margins and min(margins) < 0 < max(margins)
    assert {v.preprocessing for f, _, v in variants if f == "colour"} == {"grayscale", "equalized"}
    assert [v.flip for f, _, v in variants if f == "flip"] == [False]
    assert [v.detector for f, _, v in variants if f == "detector"] == ["haar"]


def test_the_models_own_way_is_the_geometry_its_artifact_records():
    from types import SimpleNamespace

    from expressions_ensemble.imaging import CropGeometry

    crop = CropGeometry.dataset_framing(margin=0.08, shift=-0.09, aligned=True)
    spec = SimpleNamespace(crop=crop, preprocessing="grayscale", test_time_flip=False)  # a ModelSpec's
    base = ca.base_variant(spec)
    assert base == ca.Variant(margin=0.08, shift=-0.09, aligned=True, preprocessing="grayscale", flip=False)
    assert [v.aligned for f, _, v in ca.factor_variants(base) if f == "aligned"] == [False]


def test_a_dataset_framing_is_measured_against_the_detector_crops_it_replaced():
    base = ca.Variant(margin=0.08, shift=-0.09, preprocessing="grayscale")
    variants = list(ca.factor_variants(base))
    framing = [v for f, _, v in variants if f == "framing"]
    assert framing == [ca.Variant(margin=0.2, shift=0.0, preprocessing="grayscale")]
    shifts = [v.shift for f, _, v in variants if f == "shift"]
    assert 0.0 in shifts and -0.09 not in shifts
    assert not [f for f, _, _ in ca.factor_variants(ca.Variant()) if f == "framing"]
    # two fields at once: never one of together's factors
    rows = [("as_trained", base, 0.5), ("framing", framing[0], 0.9), ("flip", ca.Variant(flip=False), 0.4)]
    scores = pd.DataFrame([{"factor": f, "variant": v, "score": s} for f, v, s in rows])
    assert ca.together(base, scores) == base


def test_together_takes_each_factors_best_level_only_where_it_beats_the_models_own_way():
    base = ca.Variant()
    rows = [
        ("as_trained", base, 0.50),
        ("margin", ca.Variant(margin=0.0), 0.60),
        ("margin", ca.Variant(margin=0.3), 0.55),
        ("colour", ca.Variant(preprocessing="grayscale"), 0.70),
        ("flip", ca.Variant(flip=False), 0.40),  # worse: flip stays as trained
    ]
    scores = pd.DataFrame([{"factor": f, "variant": v, "score": s} for f, v, s in rows])
    assert ca.together(base, scores) == ca.Variant(margin=0.0, preprocessing="grayscale", flip=True)
    # aligned crops are square: of a box aspect and alignment that both help, the larger gain is kept
    both = [*rows, ("aspect", ca.Variant(square=False), 0.58), ("aligned", ca.Variant(aligned=True), 0.65)]
    scores = pd.DataFrame([{"factor": f, "variant": v, "score": s} for f, v, s in both])
    picked = ca.together(base, scores)
    assert picked.aligned and picked.square and picked.margin == 0.0


def _face(movie: str, group: str, idx: int, box: FaceBox | None) -> object:
    rgb = np.full((120, 160, 3), 90, np.uint8)
    return ca.Face(movie, group, idx, rgb, {"mediapipe": box, "haar": None})


def test_crops_follow_the_variant_and_faces_without_a_box_have_none():
    box = FaceBox(40, 30, 60, 60, 0.9, eyes=((55.0, 50.0), (85.0, 60.0)))
    faces = [_face("a", "pexels", 0, box), _face("a", "pexels", 5, None)]
    crops, index = ca.crops_of(faces, ca.Variant(margin=-0.1), 64)
    assert index == [0] and crops[0].shape == (64, 64, 3)
    assert ca.crops_of(faces, ca.Variant(detector="haar"), 64) == ([], [])
    aligned, _ = ca.crops_of(faces, ca.Variant(aligned=True), 64)
    assert aligned[0].shape == (64, 64, 3)


def test_scores_per_group_count_a_missing_face_as_wrong():
    faces = [_face("pex", "pexels", i, None) for i in (0, 5, 10, 15)]
    faces += [_face("m1", "mead", i, None) for i in (0, 5)]
    truth = pd.DataFrame(
        {
            "movie": ["pex"] * 4 + ["m1"] * 2,
            "frame_idx": [0, 5, 10, 15, 0, 5],
            "truth": ["sad", "sad", "happy", "neutral", "angry", "angry"],
        }
    )
    labels = ["sad", None, "happy", "happy", "angry", "fear"]
    out = ca.score(faces, labels, truth, STUDY_CLASSES)
    assert out["pexels_accuracy"] == 2 / 3  # neutral is outside the classes; the missing face is wrong
    assert out["pexels_no_face"] == 1
    assert out["mead_accuracy"] == 0.5
    assert out["score"] == (2 / 3 + out["mead_macro_f1"]) / 2
