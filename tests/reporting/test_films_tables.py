"""Movie list matching, the study's per-film summary and its check against the study's own file."""

from __future__ import annotations

import pandas as pd
import pytest

from expressions_ensemble.labels import STUDY_CLASSES
from expressions_ensemble.reporting.films import listed_only, match_films, normalise_movie_list
from expressions_ensemble.reporting.predictions import normalise_predictions
from expressions_ensemble.reporting.tables import check_study_summary, film_summary, tidy_summary


def checks(quality: pd.DataFrame) -> dict[str, int]:
    return quality.groupby("check")["count"].sum().to_dict()


def test_movie_list_normalised_and_a_film_listed_twice_is_an_error() -> None:
    table, quality = normalise_movie_list(
        {
            "movies": [
                {"file_name": "Hot_Fuzz.mp4", "title": "Hot Fuzz", "category": "Comedy"},
                {"file_name": "crime/heat", "title": None, "category": "Crime"},
                {"file_name": "nameless", "title": "Nameless", "category": ""},
            ]
        }
    )
    assert table.to_dict("records") == [
        {"movie": "Hot_Fuzz", "title": "Hot Fuzz", "genre": "Comedy"},
        {"movie": "heat", "title": "heat", "genre": "Crime"},
        {"movie": "nameless", "title": "Nameless", "genre": None},
    ]
    assert quality.empty
    twice = [{"file_name": "heat", "title": "Heat", "category": "Crime"},
             {"file_name": "heat.mkv", "title": "Heat again", "category": "Drama"}]  # fmt: skip
    with pytest.raises(ValueError, match=r"film 'heat' listed twice \(rows 1 and 2\)"):
        normalise_movie_list(twice)
    with pytest.raises(ValueError, match="row 1 has no file_name"):
        normalise_movie_list([{"file_name": None, "title": "x", "category": "c"}])
    with pytest.raises(ValueError, match=r"row 1, column category: got \{'a': 1\} \(dict\)"):
        normalise_movie_list([{"file_name": "x", "title": "x", "category": {"a": 1}}])
    with pytest.raises(ValueError, match="expected a list"):
        normalise_movie_list("not a list")
    empty, quality = normalise_movie_list(None)
    assert empty.empty and checks(quality) == {"no_movie_list": 1}


def test_match_films_exact_loose_and_missing_and_unlisted_films_skipped(caplog) -> None:
    listed, _ = normalise_movie_list(
        [
            {"file_name": "hot_fuzz.mp4", "title": "Hot Fuzz", "category": "Comedy"},
            {"file_name": "heat", "title": "Heat", "category": "Crime"},
            {"file_name": "alien", "title": "Alien", "category": "Horror"},
            {"file_name": "silent", "title": "Silent", "category": "Drama"},
        ]
    )
    films, quality = match_films(["Hot Fuzz", "heat", "alien", "old_partition", "unknown_film"], listed)
    by_movie = films.set_index("movie")
    assert by_movie.loc["Hot Fuzz", "genre"] == "Comedy"  # matched ignoring case and punctuation
    assert by_movie.loc["heat", "title"] == "Heat"
    assert not by_movie.loc["silent", "has_predictions"]  # listed, no predictions: kept
    assert sorted(films["movie"]) == ["Hot Fuzz", "alien", "heat", "silent"]  # the others are skipped
    assert "old_partition, unknown_film" in caplog.text and "skipped, not in the movie list" in caplog.text
    c = checks(quality)
    assert c["movie_matched_loosely"] == 1
    assert c["movie_not_in_list"] == 2
    assert c["listed_film_without_predictions"] == 1
    assert c["genre_with_one_film"] == 3  # Comedy, Crime, Horror have one film with predictions each
    # without a list every film is reported, without genre
    nolist, _ = normalise_movie_list(None)
    films, quality = match_films(["heat", "old_partition"], nolist)
    assert sorted(films["movie"]) == ["heat", "old_partition"] and films["genre"].isna().all()
    assert checks(quality)["movie_not_in_list"] == 0


def test_only_listed_films_predictions_are_kept() -> None:
    table = pd.DataFrame({"movie": ["a", "b", "a", "c"], "emotion": ["happy", "sad", "sad", "fear"]})
    films = pd.DataFrame({"movie": ["a", "c"]})
    assert list(listed_only(table, films)["movie"]) == ["a", "a", "c"]


@pytest.fixture(scope="module")
def normalised(study_layout):  # type: ignore[no-untyped-def]
    return normalise_predictions(study_layout)


@pytest.fixture(scope="module")
def films(normalised, movie_list):  # type: ignore[no-untyped-def]
    listed, _ = normalise_movie_list([*movie_list, {"file_name": "no_faces", "category": "Comedy"}])
    return match_films(normalised.films_seen, listed)[0]


def test_film_summary_counts_add_up(normalised, films, study_layout) -> None:  # type: ignore[no-untyped-def]
    summary = film_summary(normalised.table, films, STUDY_CLASSES)
    assert len(summary) == 2 * len(films)  # every model x every film, faceless films included
    counts = summary[[f"count_{e}" for e in STUDY_CLASSES]].sum(axis=1) + summary["count_unlabelled"]
    assert (counts == summary["total_faces"]).all()
    faceless = summary[summary["movie"] == "no_faces"]
    assert (faceless["total_faces"] == 0).all() and faceless["pct_happy"].isna().all()
    raw = study_layout["good"]
    one = raw[raw["movie"] == "comedy_one"]
    row = summary[(summary["model"] == "good") & (summary["movie"] == "comedy_one")].iloc[0]
    assert row["count_happy"] == (one["emotion"] == "happy").sum()
    assert row["pct_happy"] == pytest.approx(100 * (one["emotion"] == "happy").mean())
    assert row["mean_prob_happy"] == pytest.approx(one["prob_happy"].mean())
    assert row["genre"] == "Comedy"
    tidy = tidy_summary(summary, STUDY_CLASSES)
    assert len(tidy) == len(summary) * len(STUDY_CLASSES)
    assert tidy.groupby(["model", "movie"])["count"].sum().sum() == summary["total_faces"].sum()


def _study_summary(summary: pd.DataFrame, model: str, factor: int = 1) -> pd.DataFrame:
    """The study's own summary file as it would have been written from our numbers."""
    mine = summary[(summary["model"] == model) & (summary["total_faces"] > 0)]
    out = pd.DataFrame(
        {"movie": mine["movie"], "model": f"study_{model}", "total_frames": factor * mine["total_faces"]}
    )
    for e in STUDY_CLASSES:
        out[f"count_{e}"] = factor * mine[f"count_{e}"]
        out[f"pct_{e}"] = mine[f"pct_{e}"].round(2)
        out[f"mean_prob_{e}"] = mine[f"mean_prob_{e}"]
    return out


def test_study_summary_check_findings(study_layout, films) -> None:  # type: ignore[no-untyped-def]
    doubled = pd.concat([study_layout["good"]] * 2, ignore_index=True)
    normalised = normalise_predictions({"good": doubled, "angry_bias": study_layout["angry_bias"]})
    summary = film_summary(normalised.table, films, STUDY_CLASSES)
    study = {
        "good": _study_summary(summary, "good", factor=2),  # counted the duplicates
        "angry_bias": _study_summary(summary, "angry_bias"),
    }
    check = check_study_summary(summary, study, normalised.quality, STUDY_CLASSES).set_index("model")
    assert check.loc["angry_bias", "finding"].startswith("same numbers")
    assert check.loc["angry_bias", "films_same_counts"] == 7
    assert "duplicate rows" in check.loc["good", "finding"]
    assert check.loc["good", "count_ratio_study_to_ours"] == pytest.approx(2.0)
    assert check.loc["good", "pct_max_abs_diff"] <= 0.005
    # a summary that doubles a file without duplicates, and one that disagrees
    tripled = {"angry_bias": _study_summary(summary, "angry_bias", factor=3)}
    finding = check_study_summary(summary, tripled, normalised.quality, STUDY_CLASSES)["finding"].iloc[0]
    assert "exactly 3×" in finding
    wrong = _study_summary(summary, "angry_bias")
    wrong["pct_happy"] += 1.0
    finding = check_study_summary(summary, {"angry_bias": wrong}, normalised.quality, STUDY_CLASSES)
    assert "differ" in finding["finding"].iloc[0]
    # a single table with the study's own model names, mapped through aliases
    single = _study_summary(summary, "angry_bias")
    mapped = check_study_summary(
        summary, single, normalised.quality, STUDY_CLASSES, aliases={"study_angry_bias": "angry_bias"}
    )
    assert mapped["model"].tolist() == ["angry_bias"]
    assert check_study_summary(summary, None, normalised.quality, STUDY_CLASSES).empty
