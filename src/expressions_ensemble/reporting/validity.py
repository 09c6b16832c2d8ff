"""Ecological-validity tables: per film, per genre pair, between models, against a ground truth, per model.

The metric definitions live in :mod:`expressions_ensemble.metrics`; this module only groups the
canonical prediction table and the per-film summary and calls them.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from expressions_ensemble import metrics
from expressions_ensemble.labels import prob_column
from expressions_ensemble.reporting.config import ReportConfig

logger = logging.getLogger(__name__)

FILM_METRIC_COLUMNS = [
    "model",
    "movie",
    "genre",
    "n_faces",
    "top_emotion",
    "collapse",
    "entropy",
    "duration_min",
    "switches",
    "switches_per_min",
    "mean_abs_change",
]
SEPARATION_COLUMNS = [
    "model",
    "genre_a",
    "genre_b",
    "emotion",
    "n_films_a",
    "n_films_b",
    "share_a",
    "share_b",
    "diff",
    "ci_low",
    "ci_high",
]
DIVERGENCE_COLUMNS = ["model", "genre_a", "genre_b", "n_films_a", "n_films_b", "jsd", "ci_low", "ci_high"]
AGREEMENT_COLUMNS = ["model_a", "model_b", "n_aligned", "n_only_a", "n_only_b", "agreement", "kappa"]
TRUTH_COLUMNS = ["model", "n_truth_frames", "n_matched", "coverage", "accuracy", "macro_f1"]


def share_matrix(summary: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
    """Per-film emotion shares (rows of the summary, in [0, 1]) over the labelled faces."""
    return metrics.shares(summary[[f"count_{e}" for e in classes]].to_numpy(float))


def film_metrics(
    table: pd.DataFrame, summary: pd.DataFrame, classes: Sequence[str], config: ReportConfig
) -> pd.DataFrame:
    """Collapse, normalised entropy and temporal variation of every model on every film."""
    sh = share_matrix(summary, classes)
    top = np.nanargmax(np.nan_to_num(sh, nan=-1.0), axis=1)
    has = ~np.isnan(sh).any(axis=1)
    out = summary[["model", "movie", "genre", "total_faces"]].rename(columns={"total_faces": "n_faces"})
    out = out.assign(
        top_emotion=np.where(has, np.asarray(classes, dtype=object)[top], None),
        collapse=np.where(has, np.nanmax(np.nan_to_num(sh, nan=-1.0), axis=1), np.nan),
        entropy=metrics.normalised_entropy(sh),
    )
    temporal = []
    for (model, movie), group in table.groupby(["model", "movie"], sort=False):
        codes = metrics.encode_labels(group["emotion"].to_numpy(), classes)
        tv = metrics.temporal_variation(
            group["timestamp_sec"].to_numpy(), codes, len(classes), config.rolling_window_sec
        )
        temporal.append((model, movie, tv.duration_min, tv.switches, tv.switches_per_min, tv.mean_abs_change))
    temporal_df = pd.DataFrame(
        temporal,
        columns=["model", "movie", "duration_min", "switches", "switches_per_min", "mean_abs_change"],
    )
    out = out.merge(temporal_df, on=["model", "movie"], how="left")
    out["switches"] = out["switches"].fillna(0).astype("int64")
    out["top_emotion"] = out["top_emotion"].astype("str")
    return out[FILM_METRIC_COLUMNS]


def eligible_genres(summary: pd.DataFrame, min_films: int) -> tuple[list[str], dict[str, int]]:
    """Genres with at least ``min_films`` films with faces (per model the same films), and all counts."""
    with_faces = summary[(summary["total_faces"] > 0) & summary["genre"].notna()]
    counts = with_faces.groupby("genre")["movie"].nunique().to_dict()
    return sorted(g for g, n in counts.items() if n >= min_films), counts


def genre_separation(
    summary: pd.DataFrame, classes: Sequence[str], config: ReportConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model and pair of genres: share difference per emotion and JS divergence, with bootstrap CIs.

    Only films with faces and a genre count; genres with fewer than ``min_films_per_genre`` such films
    get no row (logged), since one film gives no between-film spread to put an interval on.
    """
    genres, counts = eligible_genres(summary, config.min_films_per_genre)
    skipped = {g: n for g, n in counts.items() if g not in genres}
    if skipped:
        logger.warning(
            "genre separation skips genres with fewer than %d films with faces: %s",
            config.min_films_per_genre,
            ", ".join(f"{g} ({n})" for g, n in sorted(skipped.items())),
        )
    sep_rows, div_rows = [], []
    for model, part in summary.groupby("model", sort=True):
        part = part[(part["total_faces"] > 0) & part["genre"].isin(genres)]
        sh = share_matrix(part, classes)
        by_genre = {g: sh[(part["genre"] == g).to_numpy()] for g in genres}
        for pair_i, (a, b) in enumerate(itertools.combinations(genres, 2)):
            res = metrics.genre_separation(
                by_genre[a], by_genre[b], config.n_resamples, config.confidence, config.seed + pair_i
            )
            na, nb = len(by_genre[a]), len(by_genre[b])
            for k, e in enumerate(classes):
                values = (res.share_a[k], res.share_b[k], res.diff[k], res.diff_low[k], res.diff_high[k])
                sep_rows.append((model, a, b, e, na, nb, *values))
            div_rows.append((model, a, b, na, nb, res.jsd, res.jsd_low, res.jsd_high))
    return pd.DataFrame(sep_rows, columns=SEPARATION_COLUMNS), pd.DataFrame(
        div_rows, columns=DIVERGENCE_COLUMNS
    )


def model_agreement(table: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Cohen's kappa between every pair of models on the faces both predicted (same film, frame, face)."""
    keys = ["movie", "frame_idx", "face_idx"]
    labels = {
        model: part.drop_duplicates(keys).set_index(keys)["emotion"]
        for model, part in table.groupby("model", sort=True)
    }
    rows = []
    for a, b in itertools.combinations(sorted(labels), 2):
        both = labels[a].to_frame("a").join(labels[b].to_frame("b"), how="inner")
        cm = metrics.confusion_matrix(
            metrics.encode_labels(both["a"].to_numpy(), classes),
            metrics.encode_labels(both["b"].to_numpy(), classes),
            len(classes),
        )
        n = len(both)
        rows.append(
            (a, b, n, len(labels[a]) - n, len(labels[b]) - n, metrics.accuracy(cm), metrics.cohen_kappa(cm))
        )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def frame_predictions(table: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """One prediction per model and frame: the argmax of the faces' mean probabilities.

    Frames whose model has no probabilities fall back on the first face's emotion.
    """
    probs = [prob_column(e) for e in classes]
    keys = ["model", "movie", "frame_idx"]
    grouped = table.groupby(keys, sort=False)
    means = grouped[probs].mean()
    first = grouped[["emotion", "timestamp_sec"]].first()
    values = means.to_numpy(float)
    has = ~np.isnan(values).all(axis=1)
    best = np.asarray(classes, dtype=object)[np.argmax(np.nan_to_num(values, nan=-1.0), axis=1)]
    first["predicted"] = np.where(has, best, first["emotion"].to_numpy(dtype=object))
    return first.reset_index()[[*keys, "timestamp_sec", "predicted"]]


def truth_metrics(
    table: pd.DataFrame, truth: pd.DataFrame | None, classes: Sequence[str], tolerance_sec: float
) -> pd.DataFrame:
    """Frame accuracy and macro-F1 of each model's timeline against a ground-truth timeline.

    Truth rows match prediction frames by ``frame_idx`` where the truth has it, else by the nearest
    ``timestamp_sec`` within ``tolerance_sec``. Truth frames without a prediction (no face, not
    sampled) are counted in ``n_truth_frames`` but not scored: ``coverage`` says how many were.
    """
    if truth is None or truth.empty:
        return pd.DataFrame(columns=TRUTH_COLUMNS)
    frames = frame_predictions(table, classes)
    scored_truth = truth[truth["movie"].isin(frames["movie"].unique())]
    by_frame = scored_truth["frame_idx"].notna().all() if "frame_idx" in scored_truth else False
    rows = []
    for model, pred in frames.groupby("model", sort=True):
        if by_frame:
            t = scored_truth.astype({"frame_idx": "int64"})
            matched = t.merge(
                pred[["movie", "frame_idx", "predicted"]], on=["movie", "frame_idx"], how="left"
            )
        else:
            t = scored_truth.dropna(subset=["timestamp_sec"]).sort_values("timestamp_sec")
            p = pred.dropna(subset=["timestamp_sec"]).sort_values("timestamp_sec")
            matched = pd.merge_asof(
                t,
                p[["movie", "timestamp_sec", "predicted"]],
                on="timestamp_sec",
                by="movie",
                direction="nearest",
                tolerance=tolerance_sec,
            )
        n_truth = int(len(truth))
        ok = matched["predicted"].notna()
        cm = metrics.confusion_matrix(
            metrics.encode_labels(matched.loc[ok, "emotion"].to_numpy(), classes),
            metrics.encode_labels(matched.loc[ok, "predicted"].to_numpy(), classes),
            len(classes),
        )
        n_matched = int(cm.sum())
        rows.append(
            (
                model,
                n_truth,
                n_matched,
                n_matched / n_truth,
                metrics.accuracy(cm),
                metrics.macro_f1(cm),
            )
        )
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


def model_metrics(
    table: pd.DataFrame,
    per_film: pd.DataFrame,
    divergence: pd.DataFrame,
    agreement: pd.DataFrame,
    truth: pd.DataFrame,
    classes: Sequence[str],
) -> pd.DataFrame:
    """The key table: one row per model with its collapse, entropy, genre separation, temporal
    variation, agreement with the other models and, where a truth exists, its accuracy."""
    rows = []
    for model, part in table.groupby("model", sort=True):
        counts = metrics.label_counts(
            metrics.encode_labels(part["emotion"].to_numpy(), classes), len(classes)
        )
        share = metrics.shares(counts)
        (top1,), collapse = metrics.top_k(share, 1)
        top2, top2_share = metrics.top_k(share, 2)
        films = per_film[per_film["model"] == model]
        with_faces = films[films["n_faces"] > 0]
        kappas = agreement.loc[(agreement["model_a"] == model) | (agreement["model_b"] == model), "kappa"]
        div = divergence.loc[divergence["model"] == model, "jsd"]
        row: dict[str, object] = {
            "model": model,
            "n_faces": len(part),
            "n_films": len(films),
            "n_films_with_faces": len(with_faces),
            "top_emotion": classes[top1],
            "collapse": collapse,
            "top2_emotions": "+".join(classes[i] for i in top2),
            "top2_share": top2_share,
            "collapse_film_mean": with_faces["collapse"].mean(),
            "films_top_is_overall_top": (with_faces["top_emotion"] == classes[top1]).mean(),
            "entropy": metrics.normalised_entropy(share),
            "entropy_film_mean": with_faces["entropy"].mean(),
            "switches_per_min": with_faces["switches_per_min"].mean(),
            "mean_abs_change": with_faces["mean_abs_change"].mean(),
            "genre_jsd_mean": div.mean() if len(div) else np.nan,
            "kappa_mean": kappas.mean() if len(kappas) else np.nan,
        }
        for k, e in enumerate(classes):
            row[f"share_{e}"] = share[k]
        truth_row = truth[truth["model"] == model]
        row["accuracy"] = truth_row["accuracy"].iloc[0] if len(truth_row) else np.nan
        row["macro_f1"] = truth_row["macro_f1"].iloc[0] if len(truth_row) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
