"""Ecological-validity tables, the claims built on them, and the reporting parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from expressions_ensemble import metrics
from expressions_ensemble.labels import STUDY_CLASSES
from expressions_ensemble.reporting import validity
from expressions_ensemble.reporting.claims import evaluate_claims
from expressions_ensemble.reporting.config import Claim, ReportingConfigError, parse_config
from expressions_ensemble.reporting.films import match_films, normalise_movie_list
from expressions_ensemble.reporting.predictions import normalise_predictions, normalise_truth
from expressions_ensemble.reporting.tables import film_summary

CONFIG = parse_config({"bootstrap": {"n_resamples": 300, "seed": 7}})


@pytest.fixture(scope="module")
def tables(study_layout, movie_list):  # type: ignore[no-untyped-def]
    normalised = normalise_predictions(study_layout)
    listed, _ = normalise_movie_list(movie_list)
    films, _ = match_films(normalised.films_seen, listed)
    summary = film_summary(normalised.table, films, STUDY_CLASSES)
    return normalised.table, films, summary


def test_film_metrics(tables, study_layout) -> None:  # type: ignore[no-untyped-def]
    table, _films, summary = tables
    per_film = validity.film_metrics(table, summary, STUDY_CLASSES, CONFIG)
    assert len(per_film) == len(summary)
    row = per_film[(per_film["model"] == "angry_bias") & (per_film["movie"] == "crime_one")].iloc[0]
    raw = study_layout["angry_bias"]
    shares = raw.loc[raw["movie"] == "crime_one", "emotion"].value_counts(normalize=True)
    assert row["top_emotion"] == shares.idxmax()
    assert row["collapse"] == pytest.approx(shares.max())
    full = shares.reindex(STUDY_CLASSES, fill_value=0).to_numpy()
    assert row["entropy"] == pytest.approx(metrics.normalised_entropy(full))
    assert row["duration_min"] == pytest.approx(119 * 4 / 60)
    assert row["switches"] >= 0 and 0 <= row["mean_abs_change"] <= 1


def test_genre_separation_skips_single_film_genres(tables) -> None:  # type: ignore[no-untyped-def]
    _table, _films, summary = tables
    separation, divergence = validity.genre_separation(summary, STUDY_CLASSES, CONFIG)
    assert set(separation["genre_a"]) | set(separation["genre_b"]) == {"Comedy", "Crime"}  # Horror has 1 film
    assert len(separation) == 2 * len(STUDY_CLASSES) and len(divergence) == 2
    good_happy = separation[(separation["model"] == "good") & (separation["emotion"] == "happy")].iloc[0]
    # every comedy is mostly happy, no crime film is: the accurate model separates them
    assert good_happy["diff"] > 0 and good_happy["ci_low"] > 0
    films = summary[(summary["model"] == "good") & (summary["genre"] == "Comedy")]
    assert good_happy["share_a"] == pytest.approx((films["count_happy"] / films["total_faces"]).mean())
    assert (divergence["ci_low"] <= divergence["jsd"] + 1e-12).all()


def test_agreement_between_models(tables) -> None:  # type: ignore[no-untyped-def]
    table, _films, _summary = tables
    copy = table[table["model"] == "good"].assign(model="copy_of_good")
    agreement = validity.model_agreement(pd.concat([table, copy], ignore_index=True), STUDY_CLASSES)
    pair = agreement[(agreement["model_a"] == "copy_of_good") & (agreement["model_b"] == "good")].iloc[0]
    assert pair["kappa"] == pytest.approx(1.0) and pair["agreement"] == pytest.approx(1.0)
    assert pair["n_aligned"] == (table["model"] == "good").sum() and pair["n_only_a"] == 0
    biased = agreement[(agreement["model_a"] == "angry_bias") & (agreement["model_b"] == "good")].iloc[0]
    assert biased["kappa"] < pair["kappa"]


def test_truth_metrics_by_frame_and_by_time(tables, truth_table, study_layout) -> None:  # type: ignore[no-untyped-def]
    table, _films, _summary = tables
    truth, _ = normalise_truth(truth_table)
    by_frame = validity.truth_metrics(table, truth, STUDY_CLASSES, 0.5).set_index("model")
    raw = study_layout["good"]
    expected = (raw["emotion"].to_numpy() == truth_table["emotion"].to_numpy()).mean()
    assert by_frame.loc["good", "accuracy"] == pytest.approx(expected)
    assert by_frame.loc["good", "coverage"] == pytest.approx(1.0)
    assert by_frame.loc["good", "accuracy"] > by_frame.loc["angry_bias", "accuracy"]
    assert by_frame.loc["good", "macro_f1"] > by_frame.loc["angry_bias", "macro_f1"]
    # by time, shifted by 0.3 s: still matched within the 0.5 s tolerance; a denser truth lowers coverage
    timed = truth.drop(columns=["frame_idx"]).assign(timestamp_sec=truth["timestamp_sec"] + 0.3)
    between = timed.assign(timestamp_sec=timed["timestamp_sec"] + 2.0)
    by_time = validity.truth_metrics(table, pd.concat([timed, between]), STUDY_CLASSES, 0.5).set_index(
        "model"
    )
    assert by_time.loc["good", "accuracy"] == pytest.approx(expected)
    assert by_time.loc["good", "coverage"] == pytest.approx(0.5)
    assert validity.truth_metrics(table, None, STUDY_CLASSES, 0.5).empty


def test_model_metrics_and_claims(tables) -> None:  # type: ignore[no-untyped-def]
    table, _films, summary = tables
    per_film = validity.film_metrics(table, summary, STUDY_CLASSES, CONFIG)
    separation, divergence = validity.genre_separation(summary, STUDY_CLASSES, CONFIG)
    agreement = validity.model_agreement(table, STUDY_CLASSES)
    truth = pd.DataFrame(columns=validity.TRUTH_COLUMNS)
    result = validity.model_metrics(table, per_film, divergence, agreement, truth, STUDY_CLASSES)
    bias = result.set_index("model").loc["angry_bias"]
    raw_share = (table.loc[table["model"] == "angry_bias", "emotion"] == "angry").mean()
    assert bias["top_emotion"] == "angry" and bias["collapse"] == pytest.approx(raw_share)
    assert bias["share_angry"] == pytest.approx(raw_share)
    assert np.isnan(bias["accuracy"])
    assert result.set_index("model").loc["good", "entropy"] > bias["entropy"]
    claims = (
        Claim(
            kind="collapse",
            text="bias collapses onto angry",
            model="angry_bias",
            emotions=("angry",),
            min_share=0.3,
        ),
        Claim(kind="collapse", text="good collapses onto sad", model="good", emotions=("sad",)),
        Claim(kind="highest_entropy", text="good spreads most", model="good"),
        Claim(kind="highest_entropy", text="absent model", model="nobody"),
        Claim(kind="genre_difference", text="comedies happier", emotion="happy", genres=("Comedy", "Crime")),
        Claim(
            kind="genre_difference",
            text="crime less happy",
            emotion="happy",
            genres=("Crime", "Comedy"),
            direction="less",
        ),
        Claim(kind="genre_difference", text="horror", emotion="fear", genres=("Horror", "Crime")),
    )
    verdicts = evaluate_claims(claims, result, separation, STUDY_CLASSES)
    got = {(r.claim, r.model): r.verdict for r in verdicts.itertuples()}
    assert got[("bias collapses onto angry", "angry_bias")] == "supported"
    assert got[("good collapses onto sad", "good")] == "not supported"
    assert got[("good spreads most", "good")] == "supported"
    assert got[("absent model", "nobody")] == "not evaluated"
    assert got[("comedies happier", "good")] == "supported"
    assert got[("crime less happy", "good")] == "supported"
    assert got[("horror", "good")] == "not evaluated"


def test_genre_claim_flags_borderline_intervals() -> None:
    separation = pd.DataFrame(
        {
            "model": ["m", "n"],
            "genre_a": "Comedy",
            "genre_b": "Crime",
            "emotion": "happy",
            "n_films_a": 10,
            "n_films_b": 7,
            "share_a": [0.13, 0.13],
            "share_b": [0.08, 0.08],
            "diff": [0.05, 0.05],
            "ci_low": [0.002, 0.03],
            "ci_high": [0.099, 0.07],
        }
    )
    claim = Claim(kind="genre_difference", text="c", emotion="happy", genres=("Comedy", "Crime"))
    metrics_table = pd.DataFrame({"model": ["m", "n"]})
    rows = evaluate_claims((claim,), metrics_table, separation, STUDY_CLASSES).set_index("model")
    assert rows.loc["m", "verdict"] == rows.loc["n", "verdict"] == "supported"
    assert "borderline" in rows.loc["m", "evidence"] and "borderline" not in rows.loc["n", "evidence"]
    assert "+5.00 points" in rows.loc["m", "evidence"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"layout": "wide"}, r"reporting\.layout: unknown layout 'wide'; allowed: auto, study, movie_eval"),
        ({"colour": 1}, r"unknown keys \['colour'\]"),
        ({"classes": ["happy", "bored"]}, r"reporting\.classes: unknown emotion 'bored'"),
        ({"classes": ["happy"]}, r"reporting\.classes: needs at least two"),
        ({"rolling_window_sec": 0}, r"reporting\.rolling_window_sec: must be a number within"),
        ({"min_films_per_genre": 1}, r"reporting\.min_films_per_genre"),
        ({"bootstrap": {"n_resamples": 10}}, r"reporting\.bootstrap\.n_resamples"),
        ({"bootstrap": {"confidence": 1.0}}, r"reporting\.bootstrap\.confidence"),
        ({"focus_genres": "Comedy"}, r"reporting\.focus_genres: must be a list of two"),
        ({"figures": {"timeline_films": "some"}}, r"reporting\.figures\.timeline_films"),
        (
            {"claims": [{"kind": "vibes"}]},
            r"reporting\.claims\[0\]\.kind: unknown kind 'vibes'; allowed: collapse",
        ),
        ({"claims": [{"kind": "collapse", "emotions": ["sad"]}]}, r"claims\[0\]\.model"),
        (
            {"claims": [{"kind": "genre_difference", "emotion": "happy", "genres": ["A"]}]},
            r"claims\[0\]\.genres",
        ),
    ],
)
def test_config_errors_name_the_key(params: dict, message: str) -> None:
    with pytest.raises(
        ReportingConfigError if "unknown emotion" not in message else ValueError, match=message
    ):
        parse_config(params)


def test_config_defaults_and_values() -> None:
    config = parse_config({"classes": ["Anger", "joy"], "figures": {"timeline_films": ["a"]}})
    assert config.classes == ("angry", "happy")
    assert config.timeline_films == ("a",)
    assert parse_config(None).layout == "auto"
