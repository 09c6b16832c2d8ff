"""Aff-Wild2 expression annotations: one ``<video>.txt`` per video beside cropped-aligned frames.

An annotation file is a header (``Neutral,Anger,…,Surprise[,Other]``; older releases lack ``Other``)
then one integer per frame, an index into that header, ``-1`` meaning not annotated. Line ``i + 1``
after the header is frame ``i``, stored as ``<cropped_root>/<video>/%05d.jpg``. The release gives its
sets as folders (``Train_Set/``, ``Validation_Set/``); ``group`` is the video so any further split can
keep a video on one side (see :func:`~expressions_ensemble.sources.curated.table.split_by_group`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.labels import AFFWILD2_HEADER, normalise_label
from expressions_ensemble.sources.curated.table import (
    MALFORMED_HEADER,
    MALFORMED_LINE,
    MISSING_FILE,
    NOT_ANNOTATED,
    OK,
    SUBSAMPLED,
    UNKNOWN_LABEL,
    ParamError,
    as_path,
    make_table,
    positive_int,
)

logger = logging.getLogger(__name__)

DATASET = "affwild2"
#: Set folders of the releases (``Training_Set`` in the first one) -> split.
SET_FOLDERS: dict[str, str] = {"train_set": "train", "training_set": "train", "validation_set": "val"}
#: Header variants we know; another header is still read by name (with a warning).
KNOWN_HEADERS: tuple[tuple[str, ...], ...] = (AFFWILD2_HEADER, AFFWILD2_HEADER[:7])
EXTRA = ("frame",)
_BAD = np.iinfo(np.int64).min


def _parse(values: list[str]) -> np.ndarray:
    """Integers of the frame lines; ``_BAD`` where a line is not one (fast path for clean files)."""
    try:
        return np.array(values, dtype=np.int64)
    except (ValueError, OverflowError):
        out = np.full(len(values), _BAD, dtype=np.int64)
        for i, text in enumerate(values):
            with contextlib.suppress(ValueError, OverflowError):
                out[i] = int(text)
        return out


def _is_header(tokens: list[str]) -> bool:
    def numeric(t: str) -> bool:
        return t.lstrip("+-").isdigit()

    return len(tokens) >= 2 and all(t and not numeric(t) for t in tokens)


def _read_video(
    txt: Path, split: str, cropped_root: Path, frame_step: int, suffix: str
) -> tuple[pd.DataFrame, tuple[str, ...] | None]:
    video = txt.stem
    lines = [t.strip() for t in txt.read_text(encoding="utf-8-sig").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    tokens = [t.strip() for t in lines[0].split(",")] if lines else []
    if not _is_header(tokens):
        if lines:
            what = f"first line {lines[0][:60]!r} is not a header like {','.join(AFFWILD2_HEADER)}"
        else:
            lines, what = [""], "empty file"
        n = len(lines)
        return pd.DataFrame(
            {
                "image_id": [f"{DATASET}/{video}/line-{i}" for i in range(1, n + 1)],
                "dataset": DATASET,
                "raw_label": [t[:60] for t in lines],
                "split": split,
                "group": video,
                "outcome": MALFORMED_HEADER,
                "line": np.arange(1, n + 1),
                "detail": f"{txt.name}: {what}",
            }
        ), None
    header = tuple(tokens)
    raw = lines[1:]
    n = len(raw)
    values = _parse(raw)
    frames = np.arange(1, n + 1)
    malformed = values == _BAD
    not_annotated = values == -1
    annotated = ~malformed & ~not_annotated
    rank = np.cumsum(annotated) - 1
    kept = annotated & (rank % frame_step == 0)
    in_range = (values >= 0) & (values < len(header))
    names = np.array([*header, ""], dtype=object)
    labels = np.array([*(normalise_label(t) for t in header), None], dtype=object)
    idx = np.where(in_range, values, len(header))
    label = labels[idx]
    raw_label = np.where(in_range, names[idx], np.array(raw, dtype=object))
    unknown = kept & np.array([lab is None for lab in label], dtype=bool)
    frame_dir = cropped_root / video
    present = {p.name for p in frame_dir.iterdir()} if frame_dir.is_dir() else set()
    files = [f"{f:05d}{suffix}" for f in frames]
    missing = kept & ~unknown & ~np.array([f in present for f in files], dtype=bool)

    outcome = np.full(n, OK, dtype=object)
    detail = np.full(n, None, dtype=object)
    outcome[missing] = MISSING_FILE
    detail[missing] = "no frame folder" if not present else "frame file absent (no face cropped?)"
    outcome[unknown] = UNKNOWN_LABEL
    other = unknown & in_range
    detail[other] = "label not one of ours"
    detail[unknown & ~in_range] = f"label outside 0–{len(header) - 1}"
    outcome[annotated & ~kept] = SUBSAMPLED
    detail[annotated & ~kept] = f"frame_step {frame_step}"
    outcome[not_annotated] = NOT_ANNOTATED
    outcome[malformed] = MALFORMED_LINE
    detail[malformed] = "not an integer label"
    label = np.where(outcome == OK, label, None)
    prefix = f"{frame_dir}{os.sep}"
    table = pd.DataFrame(
        {
            "image_id": [f"{DATASET}/{video}/{f:05d}" for f in frames],
            "dataset": DATASET,
            "label": label,
            "raw_label": raw_label,
            "split": split,
            "group": video,
            "path": [prefix + f for f in files],  # str concatenation: Path joins cost 10 µs a frame
            "outcome": outcome,
            "line": frames + 1,
            "detail": detail,
            "frame": frames,
        }
    )
    return table, header


def read_affwild2(
    annotations: str | Path, cropped_root: str | Path, frame_step: int = 1, suffix: str = ".jpg"
) -> pd.DataFrame:
    """Read the expression set: ``annotations`` holds ``Train_Set/`` and ``Validation_Set/``.

    ``frame_step`` keeps every Nth *annotated* frame of a video (consecutive frames are near copies);
    the others are ``subsampled`` rows. ``Other`` and indices outside the header are ``unknown_label``,
    ``-1`` is ``not_annotated``, a frame without its cropped file ``missing_file`` (checked only for
    frames kept), a non-integer line ``malformed_line``.
    """
    base = as_path(annotations, "annotations")
    frames_root = as_path(cropped_root, "cropped_root")
    step = positive_int(frame_step, "frame_step")
    if not isinstance(suffix, str) or not suffix.startswith("."):
        raise ParamError("suffix", f"expected a file ending such as '.jpg', got {suffix!r}")
    sets = {p: SET_FOLDERS[p.name.lower()] for p in sorted(base.iterdir()) if p.name.lower() in SET_FOLDERS}
    if not sets:
        found = sorted(p.name for p in base.iterdir())
        raise ParamError(
            "annotations",
            f"{base} has no set folder (Train_Set, Validation_Set); found {found[:10] or 'nothing'}",
        )
    files = [(txt, split) for folder, split in sets.items() for txt in sorted(folder.glob("*.txt"))]
    if not files:
        raise ParamError(
            "annotations", f"no <video>.txt annotation file in {', '.join(p.name for p in sets)}"
        )
    parts: list[pd.DataFrame] = []
    odd: dict[tuple[str, ...], int] = {}
    for txt, split in tqdm(files, desc="affwild2", unit="video", leave=False, disable=None):
        part, header = _read_video(txt, split, frames_root, step, suffix)
        parts.append(make_table(part, extra=EXTRA))  # compact text columns per video: lower peak memory
        if header is not None and header not in KNOWN_HEADERS:
            odd[header] = odd.get(header, 0) + 1
    for header, count in odd.items():
        logger.warning("%s: %d files with unexpected header %s (read by name)", base, count, ",".join(header))
    return make_table(pd.concat(parts, ignore_index=True), extra=EXTRA)
