"""The pure parts of ``benchmarks/real_clips.py`` on tiny synthetic inputs (no clips, no fer venv)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expressions_ensemble import metrics
from expressions_ensemble.labels import STUDY_CLASSES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "real_clips.py"


def _load():
    spec = importlib.util.spec_from_file_location("real_clips_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rc = _load()


def test_the_script_imports_only_the_standard_library_at_the_top():
    """The fer child runs this file in a venv without the project, numpy or pandas being needed first."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('m', {str(SCRIPT)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "bad = [m for m in ('numpy', 'pandas', 'torch', 'expressions_ensemble') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_read_truth_canonicalises_and_keeps_unknown_names(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("movie,frame_idx,emotion\na,0,sadness\na,1,Happy\nb,0,contempt\nb,1,disgusted\n")
    truth = rc.read_truth(path)
    assert truth["truth"].tolist() == ["sad", "happy", "contempt", "disgust"]
    assert truth["frame_idx"].tolist() == [0, 1, 0, 1]


def test_read_truth_rejects_two_truths_for_a_frame_and_missing_columns(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("movie,frame_idx,emotion\na,0,sad\na,0,happy\n")
    with pytest.raises(ValueError, match="frame 0 of a has more than one truth row"):
        rc.read_truth(path)
    path.write_text("movie,frame,emotion\na,0,sad\n")
    with pytest.raises(ValueError, match=r"missing columns \['frame_idx'\]"):
        rc.read_truth(path)


def test_shared_top_sets_aside_classes_outside_the_study_and_breaks_ties_in_order():
    fer = {
        "angry": 0.1,
        "disgust": 0.0,
        "fear": 0.05,
        "happy": 0.05,
        "sad": 0.2,
        "surprise": 0.0,
        "neutral": 0.6,
    }
    assert rc.shared_top(fer, STUDY_CLASSES) == "sad"
    assert rc.shared_top({"happy": 0.4, "angry": 0.4}, STUDY_CLASSES) == "angry"
    assert rc.shared_top({"neutral": 1.0}, STUDY_CLASSES) is None


def _truth() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "movie": ["a"] * 4 + ["b"],
            "frame_idx": [0, 10, 20, 30, 0],
            "truth": ["sad", "sad", "happy", "happy", "contempt"],
        }
    )


def test_frame_outcomes_gives_every_sampled_frame_an_outcome():
    frames = pd.DataFrame(
        {"movie": ["a", "a", "a", "a", "a", "b"], "frame_idx": [0, 10, 20, 30, 40, 0],
         "label": ["sad", "angry", None, "happy", "happy", "happy"]}
    )  # fmt: skip
    out = rc.frame_outcomes(frames, _truth(), STUDY_CLASSES)
    assert out["outcome"].tolist() == ["correct", "wrong", "no_face", "correct", "no_truth", "truth_outside"]
    assert len(out) == len(frames)


def test_macro_f1_over_counts_no_face_as_a_miss_of_the_true_class_only():
    truth = ["sad", "sad", "happy", "happy"]
    # Without a missing face it is metrics.macro_f1 of the confusion matrix.
    pred = ["sad", "happy", "happy", "happy"]
    cm = metrics.confusion_matrix(
        metrics.encode_labels(truth, STUDY_CLASSES), metrics.encode_labels(pred, STUDY_CLASSES), 5
    )
    assert rc.macro_f1_over(truth, pred, STUDY_CLASSES) == pytest.approx(metrics.macro_f1(cm))
    # sad: tp 1, fn 1 (the no-face frame), fp 0 -> 2/3; happy: tp 2 -> 1; no other class counts.
    assert rc.macro_f1_over(truth, ["sad", None, "happy", "happy"], STUDY_CLASSES) == pytest.approx(
        (2 / 3 + 1) / 2
    )
    # All faces missed: every class present in the truth scores 0, not NaN.
    assert rc.macro_f1_over(truth, [None] * 4, STUDY_CLASSES) == 0.0


def test_score_frames_counts_no_face_as_wrong_and_leaves_other_truths_out():
    frames = pd.DataFrame(
        {"movie": ["a", "a", "a", "a", "b"], "frame_idx": [0, 10, 20, 30, 0],
         "label": ["sad", None, "happy", "sad", "happy"]}
    )  # fmt: skip
    score = rc.score_frames(rc.frame_outcomes(frames, _truth(), STUDY_CLASSES), STUDY_CLASSES)
    assert score["sampled"] == 5
    assert score["scored"] == 4
    assert (score["correct"], score["wrong"], score["no_face"], score["truth_outside"]) == (2, 1, 1, 1)
    assert score["accuracy"] == pytest.approx(0.5)
    # sad: tp 1, fn 1, fp 1 -> 0.5; happy: tp 1, fn 1 -> 2/3
    assert score["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_run_lengths_and_their_summary():
    runs = rc.run_lengths(["sad", "sad", None, np.nan, "happy", "sad"])
    assert runs == [("sad", 2), ("no_face", 2), ("happy", 1), ("sad", 1)]
    assert rc.format_runs(runs) == "sad×2 no_face×2 happy×1 sad×1"
    assert rc.run_lengths([]) == []


def test_rates_are_per_second_of_wall_time():
    assert rc.rates(472, 48, 2.0) == (236.0, 24.0)
    with pytest.raises(ValueError, match="seconds must be > 0"):
        rc.rates(10, 1, 0.0)


def test_model_paths_from_a_folder_and_from_files(tmp_path):
    for name in ("exe", "sim_v1"):
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "model.eemodel").write_bytes(b"x")
    (tmp_path / "models" / "sim_v1" / "checkpoints").mkdir()
    extra = tmp_path / "fer2013.eemodel"
    extra.write_bytes(b"x")
    found = rc.model_paths([tmp_path / "models", extra])
    assert list(found) == ["exe", "sim_v1", "fer2013"]
    with pytest.raises(ValueError, match="two artifacts named 'exe'"):
        rc.model_paths([tmp_path / "models", tmp_path / "models" / "exe" / "model.eemodel"])
    with pytest.raises(ValueError, match=r"no \*/model\.eemodel"):
        rc.model_paths([tmp_path / "models" / "exe"])
    with pytest.raises(ValueError, match="no such file or folder"):
        rc.model_paths([tmp_path / "nowhere"])


def test_rows_to_frames_fills_sampled_frames_without_a_face():
    classes = ("angry", "happy", "sad", "neutral")
    faces = pd.DataFrame(
        {"movie": ["a", "a"], "frame_idx": [0, 20],
         "m__prob_angry": [0.1, 0.2], "m__prob_happy": [0.2, 0.1], "m__prob_sad": [0.3, 0.1],
         "m__prob_neutral": [0.4, 0.6]}
    )  # fmt: skip
    frames = rc.rows_to_frames(faces, {"a": 25}, 10, {"m": classes}, STUDY_CLASSES)["m"]
    assert frames["frame_idx"].tolist() == [0, 10, 20]
    assert frames["label"].tolist()[0] == "sad"
    assert pd.isna(frames["label"].tolist()[1])
    assert frames["label"].tolist()[2] == "angry"
    with pytest.raises(ValueError, match="several faces on a frame"):
        rc.rows_to_frames(pd.concat([faces, faces]), {"a": 25}, 10, {"m": classes}, STUDY_CLASSES)


def test_fer_frames_maps_fer_names_through_labels_and_counts_tops_outside():
    results = {
        "a": {"frames": [[0, {"angry": 0.1, "disgust": 0.0, "fear": 0.0, "happy": 0.2, "sad": 0.1,
                               "surprise": 0.0, "neutral": 0.6}],
                         [10, None],
                         [20, {"angry": 0.7, "disgust": 0.1, "fear": 0.0, "happy": 0.1, "sad": 0.1,
                               "surprise": 0.0, "neutral": 0.0}]]}
    }  # fmt: skip
    frames, outside = rc.fer_frames(results, STUDY_CLASSES)
    assert frames["frame_idx"].tolist() == [0, 10, 20]
    assert [x if isinstance(x, str) else None for x in frames["label"]] == ["happy", None, "angry"]
    assert outside == 1


def test_timeline_of_one_movie_has_a_column_per_model_in_run_order():
    frames = pd.DataFrame(
        {"movie": ["a", "a", "b", "a", "a"], "frame_idx": [0, 10, 0, 0, 10],
         "truth": ["sad", None, "happy", "sad", None], "model": ["x", "x", "x", "fer", "fer"],
         "label": ["sad", None, "happy", "angry", "happy"]}
    )  # fmt: skip
    timeline = rc.timeline_of(frames, "a")
    assert timeline.columns.tolist() == ["frame_idx", "truth", "x", "fer"]
    assert timeline["x"].tolist() == ["sad", "no_face"]
    assert timeline["fer"].tolist() == ["angry", "happy"]
    assert timeline["truth"].tolist()[0] == "sad" and pd.isna(timeline["truth"].tolist()[1])
    assert rc.timeline_of(frames, "missing").empty
