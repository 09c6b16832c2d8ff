"""Prediction tables of every layout, normalised by one function into one canonical long table.

Canonical table: one row per (model, face) with ``movie, frame_idx, timestamp_sec, face_idx, model,
prob_<emotion>… (the report's classes, in :data:`labels.EMOTIONS` order), emotion, confidence`` and
every other input column after them (face_area, bbox_*, detector_score, …).

Layouts:

* ``study`` — one table per model (the study's ``all_movies.parquet``): ``prob_<emotion>``, ``emotion``,
  ``confidence``. The model is named by the partition key (the study's folder: ExE, FER, RAFDB); a
  ``model`` column inside the file is kept as ``source_model``.
* ``movie_eval`` — one table per film, a row per face, each model's columns prefixed ``<model>__``
  (``<model>__prob_<emotion>``, ``<model>__emotion``, ``<model>__confidence``).

Every input row is accounted for in the quality table (``model, check, count, detail``): exact
duplicate rows are counted once and their number reported, films without faces and missing class
columns are reported, nothing is dropped silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from expressions_ensemble.labels import EMOTIONS, normalise_label, prob_column
from expressions_ensemble.video import film_stem

logger = logging.getLogger(__name__)

MODEL_SEP = "__"
PROB_PREFIX = prob_column("")
KEY_COLUMNS = ("movie", "frame_idx", "timestamp_sec", "face_idx", "model")
QUALITY_COLUMNS = ["model", "check", "count", "detail"]

_WIDE = re.compile(rf"^(.+?){MODEL_SEP}({PROB_PREFIX}.+|emotion|confidence)$")

PartitionSource = pd.DataFrame | Mapping[str, "pd.DataFrame | Callable[[], pd.DataFrame]"]


class PredictionLayoutError(ValueError):
    """The prediction input cannot be read as any supported layout."""


@dataclass(frozen=True)
class NormalisedPredictions:
    """The canonical table, its classes, every film the input names (faces or not) and the quality log."""

    table: pd.DataFrame
    classes: tuple[str, ...]
    films_seen: tuple[str, ...]
    quality: pd.DataFrame


def movie_key(name: object) -> str:
    """A film's name as the report uses it: trimmed, without a video file extension (or the
    ``.parquet`` of a prediction partition) or folder."""
    return film_stem(name, (".parquet",))


def loose_movie_key(name: object) -> str:
    """A forgiving key for matching names across sources: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]+", "", movie_key(name).lower())


class _Log:
    """Collects quality rows; each row is also logged, so long runs say what they did with the data."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def add(self, model: str, check: str, count: int, detail: str = "", warn: bool = True) -> None:
        self.rows.append({"model": model, "check": check, "count": int(count), "detail": detail})
        if warn and count:
            logger.warning("predictions[%s] %s: %d %s", model or "-", check, count, detail)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=QUALITY_COLUMNS)


def _partitions(source: PartitionSource) -> list[tuple[str | None, pd.DataFrame]]:
    if isinstance(source, pd.DataFrame):
        return [(None, source)]
    if not isinstance(source, Mapping):
        raise PredictionLayoutError(
            f"predictions must be a DataFrame or a mapping of partitions, got {type(source).__name__}"
        )
    out = []
    for key in sorted(source):
        value = source[key]
        frame = value() if callable(value) else value
        if not isinstance(frame, pd.DataFrame):
            raise PredictionLayoutError(f"partition {key!r} loaded a {type(frame).__name__}, not a table")
        out.append((str(key), frame))
    return out


def _wide_column(column: object) -> tuple[str, str] | None:
    """``(model, field)`` of a ``<model>__prob_<emotion>``/``__emotion``/``__confidence`` column."""
    match = _WIDE.match(str(column))
    return (match.group(1), match.group(2)) if match else None


def _detect_layout(frame: pd.DataFrame, key: str | None, layout: str) -> str:
    wide = any(_wide_column(c) for c in frame.columns)
    flat = any(str(c).startswith(PROB_PREFIX) or str(c) == "emotion" for c in frame.columns)
    found = "movie_eval" if wide else "study" if flat else None
    where = f"partition {key!r}" if key is not None else "the prediction table"
    if found is None:
        raise PredictionLayoutError(
            f"{where}: no prediction columns (prob_<emotion>/emotion, or <model>__prob_<emotion>); "
            f"columns are {list(frame.columns)}"
        )
    if layout != "auto" and layout != found:
        raise PredictionLayoutError(
            f"{where} looks like the {found!r} layout but reporting.layout is {layout!r}; "
            f"allowed: auto, study, movie_eval"
        )
    return found


def _study_models(frame: pd.DataFrame, key: str | None, log: _Log) -> list[tuple[str, pd.DataFrame]]:
    frame = frame.rename(columns={"model": "source_model"}) if "model" in frame.columns else frame
    if key is not None:
        values = frame["source_model"].dropna().unique() if "source_model" in frame.columns else []
        if len(values) <= 1:
            if "source_model" not in frame.columns:
                log.add(
                    key, "no_model_column", len(frame), f"model named by its partition {key!r}", warn=False
                )
            return [(key, frame)]
    if "source_model" not in frame.columns:
        raise PredictionLayoutError(
            "a single study-layout table needs a 'model' column (or pass one table per model as partitions)"
        )
    return [(str(m), part) for m, part in frame.groupby("source_model", sort=True, dropna=False)]


def _movie_eval_models(frame: pd.DataFrame, key: str | None) -> list[tuple[str, pd.DataFrame]]:
    shared = [c for c in frame.columns if _wide_column(c) is None]
    per_model: dict[str, dict[str, str]] = {}
    for col in frame.columns:
        parsed = _wide_column(col)
        if parsed is not None:
            per_model.setdefault(parsed[0], {})[col] = parsed[1]
    if "movie" not in frame.columns and key is not None:
        frame = frame.assign(movie=key)
        shared.append("movie")
    return [
        (model, frame[shared + list(cols)].rename(columns=cols)) for model, cols in sorted(per_model.items())
    ]


def _canonical_probs(frame: pd.DataFrame, model: str, log: _Log) -> tuple[pd.DataFrame, list[str]]:
    """Rename ``prob_<alias>`` to canonical names; return the frame and the classes it has columns for."""
    renames: dict[str, str] = {}
    classes: list[str] = []
    for col in frame.columns:
        name = str(col)
        if not name.startswith(PROB_PREFIX):
            continue
        label = normalise_label(name[len(PROB_PREFIX) :])
        if label is None:
            log.add(model, "unknown_prob_column", 1, f"{name} kept as an extra column")
            continue
        if label in classes:
            raise PredictionLayoutError(f"model {model!r}: two probability columns mean {label!r}")
        classes.append(label)
        renames[name] = prob_column(label)
    return frame.rename(columns=renames), classes


def _map_unique(values: pd.Series, func: Callable[[object], str | None]) -> pd.Series:
    """``values.map(func)`` computed once per distinct value (films and labels repeat a lot)."""
    mapping = {u: func(u) for u in pd.unique(values.dropna())}
    return values.map(mapping).astype("str")


def _canonical_emotions(values: pd.Series) -> pd.Series:
    return _map_unique(values, normalise_label)


def _model_table(frame: pd.DataFrame, model: str, log: _Log) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One model's rows in canonical names; returns the table, its prob classes and its label classes."""
    rows_in = len(frame)
    frame, prob_classes = _canonical_probs(frame, model, log)
    for col in ("movie", "frame_idx"):
        if col not in frame.columns:
            raise PredictionLayoutError(f"model {model!r}: required column {col!r} is missing")
    frame = frame.copy()
    frame["movie"] = _map_unique(frame["movie"], movie_key)
    frame["model"] = model
    if "timestamp_sec" not in frame.columns:
        frame["timestamp_sec"] = np.nan
        log.add(model, "no_timestamps", rows_in, "temporal metrics and timelines need timestamp_sec")
    probs = [prob_column(c) for c in prob_classes]
    if "emotion" in frame.columns:
        raw = frame["emotion"]
        frame["emotion"] = _canonical_emotions(raw)
        unknown = int((frame["emotion"].isna() & raw.notna()).sum())
        log.add(model, "unknown_emotion_label", unknown, "label is not an emotion; counted as unlabelled")
        log.add(model, "missing_emotion", int(raw.isna().sum()), "counted as unlabelled")
    elif probs:
        values = frame[probs].to_numpy(dtype=float)
        best = np.argmax(np.nan_to_num(values, nan=-1.0), axis=1)
        labels = pd.Series(np.asarray(prob_classes, dtype=object)[best], index=frame.index)
        frame["emotion"] = labels.where(~np.isnan(values).all(axis=1)).astype("str")
        log.add(
            model, "emotion_derived_from_probs", rows_in, "no emotion column: argmax of prob_*", warn=False
        )
    else:
        raise PredictionLayoutError(f"model {model!r}: neither an emotion column nor prob_<emotion> columns")
    if "confidence" not in frame.columns:
        if probs and len(frame):
            frame["confidence"] = np.nanmax(frame[probs].to_numpy(dtype=float), axis=1)
        else:
            frame["confidence"] = np.nan
        log.add(model, "confidence_derived", rows_in, "no confidence column: max of prob_*", warn=False)
    label_classes = [str(e) for e in frame["emotion"].dropna().unique()]
    return frame, prob_classes, label_classes


def _assign_face_idx(table: pd.DataFrame) -> pd.DataFrame:
    """Number faces within a frame where the input has no ``face_idx`` (largest ``face_area`` first)."""
    if "face_idx" in table.columns and table["face_idx"].notna().all():
        return table.astype({"face_idx": "int64"})
    given = table["face_idx"] if "face_idx" in table.columns else pd.Series(np.nan, index=table.index)
    keys = ["model", "movie", "frame_idx"]
    by_area = "face_area" in table.columns
    ranked = table.sort_values(
        [*keys, "face_area"] if by_area else keys,
        ascending=[True] * 3 + ([False] if by_area else []),
        kind="stable",
    )
    numbered = ranked.groupby(keys, sort=False).cumcount().reindex(table.index)
    return table.assign(face_idx=given.fillna(numbered).astype("int64"))


def normalise_predictions(
    source: PartitionSource, layout: str = "auto", classes: tuple[str, ...] | None = None
) -> NormalisedPredictions:
    """Read predictions of any supported layout into the canonical long table (see the module doc).

    ``source`` is one table or a mapping of partition id to table (or to a loader, as Kedro's
    ``PartitionedDataset`` gives). ``classes`` fixes the report's emotions; by default they are the
    emotions found in the probability columns and labels, in :data:`labels.EMOTIONS` order.
    """
    log = _Log()
    parts: list[pd.DataFrame] = []
    films_seen: set[str] = set()
    prob_classes: dict[str, set[str]] = {}
    label_classes: set[str] = set()
    for key, frame in _partitions(source):
        if _detect_layout(frame, key, layout) == "movie_eval":
            if key is not None:  # a partition is a film, whether or not it has faces
                films_seen.add(movie_key(key))
                if len(frame) == 0:
                    log.add("", "film_without_faces", 1, f"{movie_key(key)} (empty partition)", warn=False)
            models = _movie_eval_models(frame, key)
        else:
            models = _study_models(frame, key, log)
        for model, part in models:
            table, probs, labels = _model_table(part, model, log)
            prob_classes.setdefault(model, set()).update(probs)
            label_classes.update(labels)
            films_seen.update(table["movie"].unique())
            parts.append(table)
    if not parts:
        raise PredictionLayoutError("no prediction tables in the input")
    found = set().union(*prob_classes.values()) | label_classes
    report_classes = classes if classes is not None else tuple(e for e in EMOTIONS if e in found)
    if len(report_classes) < 2:
        raise PredictionLayoutError(f"predictions name fewer than two emotions: {report_classes}")
    table = pd.concat(parts, ignore_index=True, sort=False)
    prob_cols = [prob_column(e) for e in report_classes]
    for col in prob_cols:
        if col not in table.columns:
            table[col] = np.nan
    for model in sorted(prob_classes):
        missing = [e for e in report_classes if e not in prob_classes[model]]
        if missing:
            log.add(model, "missing_prob_column", len(missing), f"no probability for {', '.join(missing)}")
        log.add(model, "rows_in", int((table["model"] == model).sum()), "input rows", warn=False)
    outside = table["emotion"].notna() & ~table["emotion"].isin(report_classes)
    for model, n in table.loc[outside, "model"].value_counts().sort_index().items():
        log.add(
            str(model), "emotion_outside_classes", int(n), "not in reporting.classes; counted as unlabelled"
        )
    table.loc[outside, "emotion"] = np.nan
    before = table.groupby("model").size()
    table = table.drop_duplicates(ignore_index=True)
    after = table.groupby("model").size()
    for model in sorted(before.index):
        dup = int(before[model] - after.get(model, 0))
        log.add(str(model), "exact_duplicate_rows", dup, "identical rows counted once", warn=dup > 0)
    table = _assign_face_idx(table)
    same_face = table.duplicated(["model", "movie", "frame_idx", "face_idx"], keep="first")
    for model, n in table.loc[same_face, "model"].value_counts().sort_index().items():
        log.add(str(model), "conflicting_rows_same_face", int(n), "same frame and face, other values; kept")
    for model, n in table.groupby("model").size().sort_index().items():
        log.add(str(model), "rows_used", int(n), "rows after counting exact duplicates once", warn=False)
    extras = [c for c in table.columns if c not in (*KEY_COLUMNS, *prob_cols, "emotion", "confidence")]
    table = table[[*KEY_COLUMNS, *prob_cols, "emotion", "confidence", *extras]]
    table = table.astype({"frame_idx": "int64", "timestamp_sec": "float64", "confidence": "float64"})
    table = table.sort_values(["model", "movie", "frame_idx", "face_idx"], kind="stable", ignore_index=True)
    return NormalisedPredictions(
        table=table, classes=report_classes, films_seen=tuple(sorted(films_seen)), quality=log.frame()
    )


# ---------------------------------------------------------------------------------------------------
# Ground-truth timelines
# ---------------------------------------------------------------------------------------------------


def normalise_truth(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A ground-truth timeline (movie, frame_idx or timestamp_sec, emotion) in canonical names.

    Returns the table (movie, frame_idx, timestamp_sec, emotion) and quality rows; rows whose label is
    not an emotion stay in the table with emotion NA and are counted.
    """
    log = _Log()
    missing = [c for c in ("movie", "emotion") if c not in frame.columns]
    if missing or not ({"frame_idx", "timestamp_sec"} & set(frame.columns)):
        raise PredictionLayoutError(
            "ground truth needs columns movie, emotion and frame_idx or timestamp_sec; "
            f"columns are {list(frame.columns)}"
        )
    out = pd.DataFrame(
        {
            "movie": _map_unique(frame["movie"], movie_key),
            "frame_idx": frame["frame_idx"].astype("Int64") if "frame_idx" in frame else pd.NA,
            "timestamp_sec": frame["timestamp_sec"].astype(float) if "timestamp_sec" in frame else np.nan,
            "emotion": _canonical_emotions(frame["emotion"]),
        }
    )
    out["frame_idx"] = out["frame_idx"].astype("Int64")
    unknown = int((out["emotion"].isna() & frame["emotion"].notna().to_numpy()).sum())
    log.add("truth", "unknown_emotion_label", unknown, "truth row kept, not scored")
    dup = int(out.duplicated().sum())
    log.add("truth", "exact_duplicate_rows", dup, "identical truth rows counted once", warn=dup > 0)
    out = out.drop_duplicates(ignore_index=True)
    log.add("truth", "rows_used", len(out), "truth rows", warn=False)
    return out, log.frame()
