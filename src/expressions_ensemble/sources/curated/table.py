"""The labelled image table every curated reader returns, and the helpers that work on it.

One shape for FER2013, RAF-DB, Aff-Wild2, the simulator's lab look and labelled folders, so the
baselines pipeline handles them all with one code path. Every input row (CSV line, list line, annotated
frame, file) becomes a table row with an ``outcome``: rows are marked, never dropped, so what is left out
of training is counted with its reason.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from expressions_ensemble.imaging import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image
from expressions_ensemble.labels import validate_classes

logger = logging.getLogger(__name__)

#: Columns of every table, in this order; readers may add their own after them (``usage``, ``frame``).
COLUMNS: tuple[str, ...] = (
    "image_id",  # unique and stable: "<dataset>/<id inside the dataset>"
    "dataset",
    "label",  # canonical emotion, or NA where the row has none of ours
    "raw_label",  # the label as the dataset wrote it
    "split",  # train / val / test where the dataset publishes one, else NA
    "group",  # rows that must stay on one side of any split (Aff-Wild2: the video), else NA
    "path",  # absolute path of the image file, or NA for images stored inline in ``data``
    "data",  # encoded image bytes (PNG) for inline images, else None
    "outcome",  # "ok" or why the row cannot be used (see OUTCOMES)
    "line",  # 1-based line of the annotation/CSV file the row comes from, or NA
    "detail",  # human-readable reason for a non-ok outcome, else NA
)

OK = "ok"
UNKNOWN_LABEL = "unknown_label"  # a label outside the dataset's map, or one that is not ours (Other)
NOT_ANNOTATED = "not_annotated"  # Aff-Wild2 -1; a folder/CSV image without a label
MISSING_FILE = "missing_file"
MALFORMED_LINE = "malformed_line"  # wrong field count, non-integer label, wrong pixel count, …
MALFORMED_HEADER = "malformed_header"  # Aff-Wild2 file whose first line is not a header
SUBSAMPLED = "subsampled"  # left out by frame sub-sampling (Aff-Wild2 ``frame_step``)
DUPLICATE = "duplicate"  # the same image id listed again
CLASS_NOT_USED = "class_not_used"  # set by :func:`restrict_classes`
NO_FACE = "no_face"  # framing ``detect``: the detector found no face in the image (see .faces)
FACE_TOO_SMALL = "face_too_small"  # framing ``detect``: only faces under the minimum size
MULTIPLE_FACES = "multiple_faces"  # framing ``detect`` with face policy single_only

#: Every outcome a table may hold.
OUTCOMES: tuple[str, ...] = (
    OK,
    UNKNOWN_LABEL,
    NOT_ANNOTATED,
    MISSING_FILE,
    MALFORMED_LINE,
    MALFORMED_HEADER,
    SUBSAMPLED,
    DUPLICATE,
    CLASS_NOT_USED,
    NO_FACE,
    FACE_TOO_SMALL,
    MULTIPLE_FACES,
)

SPLITS: tuple[str, ...] = ("train", "val", "test")

#: Integer columns (nullable); every other column but ``data`` is text.
INT_COLUMNS: tuple[str, ...] = ("line", "frame")


class ParamError(ValueError):
    """A reader parameter with a bad value; ``key`` names it so the registry can prefix its path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class EmptyClassError(ValueError):
    """A requested class with no usable row in the dataset."""


# ----------------------------------------------------------------------------------------- parameters


def as_path(value: Any, key: str, *, kind: str = "dir") -> Path:
    """A parameter naming an existing folder (``kind="dir"``) or file (``kind="file"``)."""
    if not isinstance(value, (str, Path)) or not str(value):
        raise ParamError(key, f"expected a {'folder' if kind == 'dir' else 'file'} path, got {value!r}")
    path = Path(value).expanduser()
    if kind == "dir" and not path.is_dir():
        raise ParamError(key, f"folder {path} does not exist")
    if kind == "file" and not path.is_file():
        raise ParamError(key, f"file {path} does not exist")
    return path.resolve()


def choice(value: Any, key: str, allowed: Sequence[Any]) -> Any:
    """A parameter that must be one of ``allowed``."""
    if value not in allowed:
        raise ParamError(key, f"got {value!r}; allowed: {', '.join(map(str, allowed))}")
    return value


def positive_int(value: Any, key: str, minimum: int = 1) -> int:
    """An integer parameter ``>= minimum`` (booleans and floats with a fraction are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or int(value) != value:
        raise ParamError(key, f"expected an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ParamError(key, f"expected an integer >= {minimum}, got {value!r}")
    return int(value)


def as_fraction(value: Any, key: str) -> float:
    """A parameter strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ParamError(key, f"expected a number between 0 and 1 (exclusive), got {value!r}")
    return float(value)


# -------------------------------------------------------------------------------------------- the table


def label_from_index(raw: str, mapping: Mapping[int, str], field: str) -> tuple[str | None, str, str]:
    """A published integer label through its dataset map: (label, outcome, detail) for the row.

    A non-integer is a malformed line; an integer outside the map is an unknown label, named with the
    map's range, so every reader records the same outcomes in the same words.
    """
    try:
        index = int(raw)
    except ValueError:
        return None, MALFORMED_LINE, f"{field} {raw!r} is not an integer"
    if index not in mapping:
        return None, UNKNOWN_LABEL, f"{field} {index} outside {min(mapping)}–{max(mapping)}"
    return mapping[index], OK, ""


def make_table(rows: Iterable[Mapping[str, Any]] | pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Build a table from row dicts (or a frame): fixed column order and dtypes, unique ``image_id``.

    A repeated image id (the same file listed twice) keeps the first row; later ones get a ``#<n>``
    suffix and the ``duplicate`` outcome, so ids stay unique and the repetition is still counted.
    """
    columns = [*COLUMNS, *extra]
    table = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=columns)
    table = table.reindex(columns=columns)
    for col in columns:
        if col in INT_COLUMNS:
            table[col] = table[col].astype("Int64")
        elif col == "data":
            table[col] = table[col].astype(object).where(table[col].notna(), None)
        else:  # text: pandas' str dtype (Arrow-backed, compact for millions of ids), missing = NA
            table[col] = table[col].astype("str")
    table = table.reset_index(drop=True)
    dup = table["image_id"].duplicated(keep="first")
    if dup.any():
        nth = table.groupby("image_id").cumcount()
        was_ok = dup & (table["outcome"] == OK)
        table.loc[dup, "image_id"] = table.loc[dup, "image_id"] + "#" + nth[dup].astype(str)
        table.loc[was_ok, "outcome"] = DUPLICATE
        table.loc[was_ok, "detail"] = "listed again (an earlier row has the same image)"
    return table


def validate_table(table: pd.DataFrame, where: str = "table") -> pd.DataFrame:
    """Check a table's shape (columns, unique ids, known outcomes and splits); return it unchanged."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{where}: not a labelled image table; columns {missing} missing")
    dup = table["image_id"][table["image_id"].duplicated()]
    if len(dup):
        raise ValueError(f"{where}: image_id is not unique, e.g. {dup.iloc[0]!r}")
    bad = set(table["outcome"].dropna()) - set(OUTCOMES)
    if bad or table["outcome"].isna().any():
        raise ValueError(f"{where}: unknown outcomes {sorted(bad)}; allowed: {', '.join(OUTCOMES)}")
    bad_split = set(table["split"].dropna()) - set(SPLITS)
    if bad_split:
        raise ValueError(f"{where}: unknown splits {sorted(bad_split)}; allowed: {', '.join(SPLITS)}")
    return table


def outcome_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Rows per dataset, split and outcome: the "what was left out, and why" table."""
    return (
        table.groupby(["dataset", "split", "outcome"], dropna=False)
        .size()
        .rename("rows")
        .reset_index()
        .sort_values(["dataset", "split", "outcome"], na_position="last", ignore_index=True)
    )


def log_summary(table: pd.DataFrame, where: str) -> None:
    """Log rows per outcome; a warning (first image ids and line numbers) when any row is not usable."""
    if table.empty:
        logger.warning("%s: no rows at all; check the path parameters and the folder layout", where)
        return
    counts = table["outcome"].value_counts()
    usable = int(counts.get(OK, 0))
    bad = counts.drop(OK, errors="ignore")
    bad = bad[bad > 0]
    if bad.empty:
        logger.info("%s: %d rows, all usable", where, len(table))
        return
    parts = []
    for outcome, n in bad.items():
        first = table.loc[table["outcome"] == outcome, ["image_id", "line"]].head(3)
        examples = [i if pd.isna(ln) else f"{i} line {ln}" for i, ln in first.itertuples(index=False)]
        parts.append(f"{n} {outcome} (e.g. {', '.join(examples)}{', …' if n > len(examples) else ''})")
    logger.warning("%s: %d of %d rows usable; %s", where, usable, len(table), "; ".join(parts))


# ------------------------------------------------------------------------------------------------ images


def _field(row: Any, name: str) -> Any:
    try:
        return row[name]
    except (KeyError, TypeError, IndexError):
        return getattr(row, name, None)


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (bytes, bytearray, memoryview)) and bool(pd.isna(value)))


def image_bytes(row: Any) -> bytes:
    """The encoded image of a row (a Series, dict or itertuples record): inline ``data`` or the file."""
    data = _field(row, "data")
    if not _missing(data):
        return bytes(data)
    path = _field(row, "path")
    if _missing(path):
        raise ImageDecodeError("missing_file", f"row {_field(row, 'image_id')!r} has neither data nor path")
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError("missing_file", str(path)) from None


def load_image(row: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The RGB uint8 image of a row, decoded by :func:`~expressions_ensemble.imaging.decode_image`.

    The one way to get pixels from any curated table (inline PNG or file). Raises
    :class:`~expressions_ensemble.imaging.ImageDecodeError` whose ``reason`` (``missing_file``,
    ``not_an_image``, ``truncated`` …) a caller can record as the row's outcome.
    """
    return decode_image(image_bytes(row), max_pixels=max_pixels)


# ---------------------------------------------------------------------------------------- class sets


def restrict_classes(
    table: pd.DataFrame, classes: Iterable[str], key: str = "classes", searched_only: bool = False
) -> pd.DataFrame:
    """Mark usable rows outside ``classes`` as ``class_not_used`` (a copy; nothing is dropped).

    Fails when the table is empty or a requested class has no usable row, naming the class, the dataset
    and what the class's rows became instead, because training on a silently missing class is worse
    than stopping. ``searched_only`` (weak-label sources): a class without a single row (the source
    never searched for it) is left out with a log line instead; one whose rows all failed still fails.
    """
    wanted = validate_classes(classes, key)
    datasets = ", ".join(sorted(map(str, table["dataset"].dropna().unique()))) or "?"
    if table.empty:
        raise EmptyClassError(f"{key}: dataset {datasets} has no rows at all (check its path parameters)")
    out = table.copy()
    unused = (out["outcome"] == OK) & ~out["label"].isin(wanted)
    out.loc[unused, "outcome"] = CLASS_NOT_USED
    out.loc[unused, "detail"] = f"label not in {key} ({', '.join(wanted)})"
    usable = out.loc[out["outcome"] == OK, "label"].value_counts()
    empty = [c for c in wanted if int(usable.get(c, 0)) == 0]
    if searched_only and (never := [c for c in empty if not (out["label"] == c).any()]):
        logger.info("%s: dataset %s has no photo of %s at all: trained without them", key, datasets, never)
        empty = [c for c in empty if c not in never]
        wanted = [c for c in wanted if c not in never]
    if empty:
        notes = []
        for c in empty:
            other = out.loc[out["label"] == c, "outcome"].value_counts()
            notes.append(f"{c} ({', '.join(f'{n} {o}' for o, n in other.items()) or 'no rows'})")
        raise EmptyClassError(
            f"{key}: dataset {datasets} has no usable image of {', '.join(notes)}; usable rows per class: "
            f"{ {c: int(usable.get(c, 0)) for c in wanted} }. Remove the class from {key} or fix the data."
        )
    ok = out[out["outcome"] == OK]
    for split in sorted(ok["split"].dropna().unique()):
        present = set(ok.loc[ok["split"] == split, "label"])
        if absent := [c for c in wanted if c not in present]:
            logger.warning("%s: split %s of %s has no image of %s", key, split, datasets, ", ".join(absent))
    n_unused = int(unused.sum())
    if n_unused:
        logger.info("%s: %d rows of %s marked class_not_used", key, n_unused, datasets)
    return out


def split_by_group(
    table: pd.DataFrame,
    fraction: float,
    seed: int,
    *,
    from_split: str = "train",
    to_split: str = "val",
    key: str = "fraction",
) -> pd.DataFrame:
    """Move whole groups (Aff-Wild2 videos) from ``from_split`` to ``to_split``: a copy.

    Frames of one video are near-duplicates, so a frame-level split would leak; this picks a seeded
    random set of groups holding about ``fraction`` of the usable rows (at least one group, never all).
    Classes are not stratified (a group carries many classes); check the class counts afterwards.
    """
    fraction_value = as_fraction(fraction, key)
    choice(to_split, "to_split", SPLITS)
    rows = table["split"] == from_split
    if not rows.any():
        raise ValueError(f"split_by_group: no rows with split {from_split!r} to take groups from")
    if table.loc[rows, "group"].isna().any():
        raise ValueError(
            f"split_by_group: rows of split {from_split!r} without a group (dataset "
            f"{', '.join(map(str, table.loc[rows, 'dataset'].unique()))}); use a stratified split instead"
        )
    sizes = table.loc[rows & (table["outcome"] == OK), "group"].value_counts()
    groups = sorted(set(table.loc[rows, "group"]))
    if len(groups) < 2:
        raise ValueError(f"split_by_group: split {from_split!r} has {len(groups)} group; at least 2 needed")
    order = np.random.default_rng(seed).permutation(len(groups))
    target = fraction_value * max(1, int(sizes.sum()))
    chosen: list[str] = []
    taken = 0
    for i in order[:-1]:  # never move every group
        chosen.append(groups[i])
        taken += int(sizes.get(groups[i], 0))
        if taken >= target:
            break
    out = table.copy()
    out.loc[rows & out["group"].isin(chosen), "split"] = to_split
    return out


# ------------------------------------------------------------------------------------------ registry


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class CuratedDataset:
    """One curated dataset kind: a reader of its published layout, returning a labelled image table.

    The reader's keyword arguments *are* its parameters: :meth:`read` checks parameter names against
    them (unknown and missing keys fail naming the allowed ones), the reader checks values.
    """

    kind: str
    reader: Callable[..., pd.DataFrame]
    description: str

    def parameters(self) -> dict[str, Any]:
        """Parameter name -> default (:data:`REQUIRED` when there is none)."""
        sig = inspect.signature(self.reader)
        return {
            name: REQUIRED if p.default is inspect.Parameter.empty else p.default
            for name, p in sig.parameters.items()
        }

    def read(self, params: Mapping[str, Any] | None = None, where: str = "") -> pd.DataFrame:
        """Read the dataset; errors name the parameter as ``<where>.<key>``."""
        prefix = f"{where}." if where else ""
        params = {k: v for k, v in dict(params or {}).items() if k != "kind"}
        allowed = self.parameters()
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ParamError(
                f"{prefix}{unknown[0]}",
                f"unknown parameter for kind {self.kind!r}; allowed: {', '.join(allowed)}",
            )
        missing = [k for k, v in allowed.items() if v is REQUIRED and k not in params]
        if missing:
            raise ParamError(f"{prefix}{missing[0]}", f"required for kind {self.kind!r}")
        try:
            table = self.reader(**params)
        except ParamError as exc:
            raise ParamError(f"{prefix}{exc.key}", exc.message) from None
        log_summary(table, where or self.kind)
        return table

    @staticmethod
    def image(row: Any) -> np.ndarray:
        """The RGB uint8 image of a row (see :func:`load_image`)."""
        return load_image(row)
