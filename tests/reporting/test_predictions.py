"""One normaliser for both prediction layouts; every input row is accounted for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from expressions_ensemble.labels import STUDY_CLASSES, prob_column
from expressions_ensemble.reporting.predictions import (
    KEY_COLUMNS,
    PredictionLayoutError,
    loose_movie_key,
    movie_key,
    normalise_predictions,
    normalise_truth,
)

PROBS = [prob_column(e) for e in STUDY_CLASSES]


def quality_count(quality: pd.DataFrame, model: str, check: str) -> int:
    rows = quality[(quality["model"] == model) & (quality["check"] == check)]
    return int(rows["count"].sum())


def test_movie_keys() -> None:
    assert movie_key(" films/2_guns.mp4 ") == "2_guns"
    assert movie_key("hp7_deathly_hallows_part_1") == "hp7_deathly_hallows_part_1"
    assert movie_key("Mr. Smith") == "Mr. Smith"
    assert movie_key(".mp4") == ".mp4"
    assert loose_movie_key("Hot Fuzz.MKV") == loose_movie_key("hot_fuzz") == "hotfuzz"


def test_study_and_movie_eval_layouts_give_the_same_table(study_layout, movie_eval_layout) -> None:  # type: ignore[no-untyped-def]
    study = normalise_predictions(study_layout)
    wide = normalise_predictions(movie_eval_layout)
    assert study.classes == wide.classes == STUDY_CLASSES
    assert study.films_seen == wide.films_seen
    cols = [*KEY_COLUMNS, *PROBS, "emotion", "confidence", "face_area"]
    pd.testing.assert_frame_equal(study.table[cols], wide.table[cols], check_dtype=False)
    assert list(study.table.columns[: len(KEY_COLUMNS)]) == list(KEY_COLUMNS)
    # the study file's own model column is kept, the partition names the model
    assert set(study.table["source_model"]) == {"source_good", "source_angry_bias"}
    assert set(study.table["model"]) == {"good", "angry_bias"}


def test_layout_detection_and_mismatch(study_layout, movie_eval_layout) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PredictionLayoutError, match="looks like the 'study' layout"):
        normalise_predictions(study_layout, layout="movie_eval")
    with pytest.raises(PredictionLayoutError, match="looks like the 'movie_eval' layout"):
        normalise_predictions(movie_eval_layout, layout="study")
    with pytest.raises(PredictionLayoutError, match="no prediction columns"):
        normalise_predictions({"x": pd.DataFrame({"movie": ["a"], "frame_idx": [1]})})


def test_duplicates_are_counted_once_and_reported(study_layout) -> None:  # type: ignore[no-untyped-def]
    good = study_layout["good"]
    doubled = pd.concat([good, good.iloc[:25]], ignore_index=True)
    result = normalise_predictions({"good": doubled, "angry_bias": study_layout["angry_bias"]})
    q = result.quality
    assert quality_count(q, "good", "rows_in") == len(good) + 25
    assert quality_count(q, "good", "exact_duplicate_rows") == 25
    assert quality_count(q, "good", "rows_used") == len(good)
    for model in ("good", "angry_bias"):
        rows_in = quality_count(q, model, "rows_in")
        assert rows_in == quality_count(q, model, "rows_used") + quality_count(
            q, model, "exact_duplicate_rows"
        )
    assert (result.table["model"] == "good").sum() == len(good)


def test_missing_model_column_missing_class_and_aliases(study_layout) -> None:  # type: ignore[no-untyped-def]
    no_model = study_layout["good"].drop(columns=["model", "prob_surprise"])
    aliased = study_layout["angry_bias"].rename(
        columns={"prob_angry": "prob_anger", "prob_happy": "prob_Happiness"}
    )
    aliased["emotion"] = aliased["emotion"].replace({"angry": "Anger"})
    result = normalise_predictions({"FER": no_model, "RAF": aliased})
    q = result.quality
    assert quality_count(q, "FER", "no_model_column") == len(no_model)
    assert quality_count(q, "FER", "missing_prob_column") == 1
    assert "surprise" in q.loc[q["check"] == "missing_prob_column", "detail"].iloc[0]
    fer = result.table[result.table["model"] == "FER"]
    assert fer["prob_surprise"].isna().all()  # unknown, not zero
    raf = result.table[result.table["model"] == "RAF"]
    assert raf["prob_angry"].notna().all() and set(raf["emotion"]) <= set(STUDY_CLASSES)
    assert (raf["emotion"] == "angry").sum() == (study_layout["angry_bias"]["emotion"] == "angry").sum()


def test_unknown_labels_kept_and_counted(study_layout) -> None:  # type: ignore[no-untyped-def]
    frame = study_layout["good"].copy()
    frame.loc[:4, "emotion"] = "contempt"
    frame.loc[5:6, "emotion"] = None
    result = normalise_predictions({"good": frame})
    assert quality_count(result.quality, "good", "unknown_emotion_label") == 5
    assert quality_count(result.quality, "good", "missing_emotion") == 2
    assert len(result.table) == len(frame)
    assert result.table["emotion"].isna().sum() == 7


def test_configured_classes_mark_other_emotions(study_layout) -> None:  # type: ignore[no-untyped-def]
    result = normalise_predictions({"good": study_layout["good"]}, classes=("happy", "sad"))
    other = int((~study_layout["good"]["emotion"].isin(["happy", "sad"])).sum())
    assert quality_count(result.quality, "good", "emotion_outside_classes") == other
    assert result.table["emotion"].isna().sum() == other
    assert "prob_angry" in result.table.columns  # kept as an extra column, not dropped


def test_emotion_and_confidence_derived_from_probabilities(study_layout) -> None:  # type: ignore[no-untyped-def]
    given = study_layout["good"].sort_values(["movie", "frame_idx"], ignore_index=True)
    result = normalise_predictions({"good": given.drop(columns=["emotion", "confidence"])})
    assert result.table["emotion"].tolist() == given["emotion"].tolist()
    np.testing.assert_allclose(result.table["confidence"], given["confidence"])
    assert quality_count(result.quality, "good", "emotion_derived_from_probs") == len(given)


def test_movie_eval_film_without_faces_and_several_faces(movie_eval_layout) -> None:  # type: ignore[no-untyped-def]
    parts = dict(movie_eval_layout)
    empty = next(iter(parts.values())).iloc[:0]
    parts["silent_film.mp4"] = empty.drop(columns=["movie"])
    crowd = parts["comedy_one"].copy()
    extra = crowd.iloc[:3].copy()
    extra["face_idx"] = 1
    parts["comedy_one"] = pd.concat([crowd, extra], ignore_index=True)
    result = normalise_predictions(parts)
    assert "silent_film" in result.films_seen
    assert "silent_film" not in set(result.table["movie"])
    assert quality_count(result.quality, "", "film_without_faces") == 1
    comedy = result.table[(result.table["movie"] == "comedy_one") & (result.table["model"] == "good")]
    assert len(comedy) == len(crowd) + 3
    assert comedy.duplicated(["frame_idx", "face_idx"]).sum() == 0


def test_study_layout_numbers_faces_without_face_idx(study_layout) -> None:  # type: ignore[no-untyped-def]
    frame = study_layout["good"].copy()
    second = frame.iloc[:2].copy()
    second["face_area"] = frame["face_area"].iloc[:2] + 1  # a larger second face in the same frame
    second[PROBS] = 0.2
    result = normalise_predictions({"good": pd.concat([frame, second], ignore_index=True)})
    first_frame = result.table[
        (result.table["movie"] == frame["movie"].iloc[0]) & (result.table["frame_idx"] == 0)
    ]
    assert first_frame.sort_values("face_idx")["face_area"].is_monotonic_decreasing
    assert first_frame["face_idx"].tolist() == [0, 1]


def test_single_table_needs_model_column(study_layout) -> None:  # type: ignore[no-untyped-def]
    both = pd.concat(study_layout.values(), ignore_index=True)
    result = normalise_predictions(both)
    assert set(result.table["model"]) == {"source_good", "source_angry_bias"}
    with pytest.raises(PredictionLayoutError, match="needs a 'model' column"):
        normalise_predictions(both.drop(columns=["model"]))


def test_normalise_truth() -> None:
    raw = pd.DataFrame(
        {
            "movie": ["a.mp4", "a.mp4", "a.mp4", "b"],
            "timestamp_sec": [1.0, 1.0, 2.0, 3.0],
            "emotion": ["Happiness", "Happiness", "boredom", "sad"],
        }
    )
    truth, quality = normalise_truth(raw)
    assert truth["movie"].tolist() == ["a", "a", "b"]
    assert truth["emotion"].isna().tolist() == [False, True, False]
    assert quality.set_index("check")["count"].to_dict()["exact_duplicate_rows"] == 1
    assert quality.set_index("check")["count"].to_dict()["unknown_emotion_label"] == 1
    with pytest.raises(PredictionLayoutError, match="frame_idx or timestamp_sec"):
        normalise_truth(raw.drop(columns=["timestamp_sec"]))
