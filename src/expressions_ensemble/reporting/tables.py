"""The study's per-film summary (wide and tidy) and its check against the study's own summary files."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from expressions_ensemble.labels import prob_column

#: Tolerances of the check: the study rounds percentages to two decimals.
PCT_TOLERANCE = 0.005 + 1e-9
PROB_TOLERANCE = 1e-6

CHECK_COLUMNS = [
    "model",
    "films_compared",
    "faces_ours",
    "rows_ours_with_duplicates",
    "faces_study",
    "count_ratio_study_to_ours",
    "films_same_counts",
    "pct_max_abs_diff",
    "mean_prob_max_abs_diff",
    "finding",
]


def film_summary(table: pd.DataFrame, films: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Per model and film: total faces, ``count_``, ``pct_`` (percent) and ``mean_prob_`` per emotion.

    Every film of ``films`` gets a row for every model, with 0 faces where the model saw none
    (pct and mean_prob NaN). ``count_unlabelled`` counts faces without a known emotion, so the counts
    always add up to ``total_faces``.
    """
    models = sorted(table["model"].unique())
    index = pd.MultiIndex.from_product([models, list(films["movie"])], names=["model", "movie"])
    keys = ["model", "movie"]
    total = table.groupby(keys).size().reindex(index, fill_value=0)
    counts = (
        table.groupby([*keys, "emotion"])
        .size()
        .unstack("emotion")
        .reindex(index=index, columns=list(classes))
    ).fillna(0)
    probs = [prob_column(e) for e in classes]
    means = table.groupby(keys)[probs].mean().reindex(index)
    out = pd.DataFrame(index=index)
    out["total_faces"] = total.astype("int64")
    for e in classes:
        out[f"count_{e}"] = counts[e].astype("int64")
    out["count_unlabelled"] = out["total_faces"] - counts.sum(axis=1).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        for e in classes:
            out[f"pct_{e}"] = (100.0 * out[f"count_{e}"] / out["total_faces"]).where(out["total_faces"] > 0)
    for e in classes:
        out[f"mean_prob_{e}"] = means[prob_column(e)]
    out = out.reset_index()
    meta = films[["movie", "title", "genre"]]
    return out.merge(meta, on="movie", how="left")[["model", "movie", "title", "genre", *out.columns[2:]]]


def tidy_summary(summary: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """The summary with one row per model, film and emotion: count, pct, mean_prob."""
    keys = ["model", "movie", "title", "genre", "total_faces"]
    parts = []
    for e in classes:
        part = summary[keys].copy()
        part["emotion"] = e
        part["count"] = summary[f"count_{e}"]
        part["pct"] = summary[f"pct_{e}"]
        part["mean_prob"] = summary[f"mean_prob_{e}"]
        parts.append(part)
    tidy = pd.concat(parts, ignore_index=True)
    tidy["emotion"] = pd.Categorical(tidy["emotion"], categories=list(classes))
    tidy = tidy.sort_values(["model", "movie", "emotion"], ignore_index=True)
    tidy["emotion"] = tidy["emotion"].astype("str")
    return tidy


def _study_tables(
    study: pd.DataFrame | Mapping[str, pd.DataFrame | Callable[[], pd.DataFrame]], aliases: Mapping[str, str]
) -> pd.DataFrame:
    if isinstance(study, pd.DataFrame):
        frame = study.copy()
        frame["model"] = frame["model"].map(lambda m: aliases.get(str(m), str(m)))
        return frame
    parts = []
    for key in sorted(study):
        value = study[key]
        frame = (value() if callable(value) else value).copy()
        frame["model"] = key
        parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["model", "movie"])


def check_study_summary(
    summary: pd.DataFrame,
    study: pd.DataFrame | Mapping[str, pd.DataFrame | Callable[[], pd.DataFrame]] | None,
    quality: pd.DataFrame,
    classes: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Compare our summary with the study's ``movie_emotion_summary`` per model (same numbers?).

    The study's tables are keyed like the predictions (partition = model) or carry a ``model`` column
    (mapped through ``aliases``, e.g. the study file's ``ensemble`` to ``ExE``). ``finding`` says in
    words what differs: the study counting duplicate rows shows as counts equal to our rows *with*
    duplicates while every share agrees.
    """
    if study is None:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    theirs = _study_tables(study, aliases or {})
    theirs = theirs.rename(columns={"total_frames": "total_faces"})
    rows_in = quality[quality["check"] == "rows_in"].set_index("model")["count"]
    out = []
    for model, ours in summary.groupby("model", sort=True):
        other = theirs[theirs["model"] == model]
        merged = ours.merge(other, on="movie", suffixes=("", "_study"))
        emotions = [e for e in classes if f"count_{e}_study" in merged.columns]
        if merged.empty or not emotions:
            continue
        count_cols = ["total_faces", *(f"count_{e}" for e in emotions)]
        mine = merged[count_cols].to_numpy(float)
        study_counts = merged[[f"{c}_study" for c in count_cols]].to_numpy(float)
        same = (mine == study_counts).all(axis=1)
        ratio = study_counts.sum() / mine.sum() if mine.sum() else np.nan
        multiple = (
            int(round(ratio))
            if np.isfinite(ratio) and np.array_equal(study_counts, round(ratio) * mine)
            else None
        )
        faces_ours = int(merged["total_faces"].sum())
        faces_study = int(merged["total_faces_study"].sum())
        pct = [f"pct_{e}" for e in emotions if f"pct_{e}_study" in merged.columns]
        prob = [f"mean_prob_{e}" for e in emotions if f"mean_prob_{e}_study" in merged.columns]
        pct_diff = _max_abs(merged, pct)
        prob_diff = _max_abs(merged, prob)
        with_dups = int(rows_in.get(model, faces_ours))
        out.append(
            {
                "model": model,
                "films_compared": len(merged),
                "faces_ours": faces_ours,
                "rows_ours_with_duplicates": with_dups,
                "faces_study": faces_study,
                "count_ratio_study_to_ours": faces_study / faces_ours if faces_ours else np.nan,
                "films_same_counts": int(same.sum()),
                "pct_max_abs_diff": pct_diff,
                "mean_prob_max_abs_diff": prob_diff,
                "finding": _finding(
                    same.all(), multiple, faces_ours, faces_study, with_dups, pct_diff, prob_diff
                ),
            }
        )
    return pd.DataFrame(out, columns=CHECK_COLUMNS)


def _max_abs(merged: pd.DataFrame, cols: list[str]) -> float:
    if not cols:
        return float("nan")
    diff = (merged[cols].to_numpy(float) - merged[[f"{c}_study" for c in cols]].to_numpy(float)).ravel()
    diff = diff[~np.isnan(diff)]
    return float(np.abs(diff).max()) if len(diff) else float("nan")


def _finding(
    same_counts: bool,
    multiple: int | None,
    faces_ours: int,
    faces_study: int,
    with_dups: int,
    pct_diff: float,
    prob_diff: float,
) -> str:
    shares_agree = not pct_diff > PCT_TOLERANCE and not prob_diff > PROB_TOLERANCE
    shares = "shares and mean probabilities agree" if shares_agree else "shares or mean probabilities differ"
    if same_counts:
        return f"same numbers: counts equal, {shares}"
    if faces_study == with_dups and with_dups != faces_ours:
        return f"study counted the {with_dups - faces_ours} exact duplicate rows of this file; {shares}"
    if multiple is not None:
        return f"study counts are exactly {multiple}× ours in every cell (no copies in this file); {shares}"
    return f"counts differ; {shares}"
