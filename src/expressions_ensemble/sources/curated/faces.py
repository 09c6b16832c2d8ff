"""A curated dataset's images through the films' detector and crop (``framing: {detect: true}``).

A dataset such as FER2013 cut its faces itself, each a little differently. Instead of framing a film's
detected face to look like them on average (the dataset framing), every image is searched with the
detector the films use (:func:`~expressions_ensemble.faces.detect_in_frame`, enlarged first where it is
small) and its face box recorded in the table; training and evaluation crop that box with the model's
:class:`~expressions_ensemble.imaging.CropGeometry`, the very crop a film's face gets. An image in which
no face is found keeps its row, with the outcome saying so, and is used nowhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.faces import (
    FaceDetector,
    create_detector,
    detect_in_frame,
    enlarge_small,
    select_faces,
)
from expressions_ensemble.imaging import DATASET_FRAMING, CropGeometry, ImageDecodeError
from expressions_ensemble.sources.curated.table import image_bytes, load_image

if TYPE_CHECKING:
    from expressions_ensemble.models.artifact import ModelSpec

logger = logging.getLogger(__name__)

#: Columns :func:`detect_table_faces` adds: the chosen face's box and eye centres in the pixels of the
#: image as searched (:func:`~expressions_ensemble.faces.enlarge_small`), and the detector's score.
FACE_COLUMNS: tuple[str, ...] = (
    "face_x", "face_y", "face_w", "face_h", "face_score", "eye_rx", "eye_ry", "eye_lx", "eye_ly",
)  # fmt: skip


def detect_table_faces(
    table: pd.DataFrame, crop: CropGeometry, where: str, detector: FaceDetector | None = None
) -> pd.DataFrame:
    """The table with the face of every row that has a split (a copy): its box in :data:`FACE_COLUMNS`,
    or the reason there is none as the row's ``outcome`` (``no_face``, ``face_too_small``, or the
    image's decode failure), its split cleared. ``crop`` says which detector, how confident, which face
    and how large (``crop.face_policy``, ``crop.min_face_size`` in the searched image's pixels);
    ``detector``: one to use instead of building ``crop.detector`` (left open)."""
    if crop.detector == DATASET_FRAMING:
        raise ValueError(f"{where}: a dataset's own framing detects no face; give a detector's geometry")
    out = table.copy()
    for column in FACE_COLUMNS:
        out[column] = np.nan
    rows = out.index[out["split"].notna()]
    own = detector is None
    if detector is None:
        detector = create_detector(crop.detector, min_confidence=crop.min_confidence)
    found: list[tuple[Any, tuple[float, ...]]] = []
    missed: list[tuple[Any, str]] = []
    try:
        for idx in tqdm(rows, desc=f"{where}: faces", unit="img", leave=False, disable=None):
            try:
                rgb = enlarge_small(load_image(out.loc[idx]))
            except ImageDecodeError as exc:
                missed.append((idx, exc.reason))
                continue
            chosen, outcome = select_faces(
                detect_in_frame(detector, rgb), crop.face_policy, crop.min_face_size
            )
            if not chosen:
                missed.append((idx, outcome))
                continue
            face = chosen[0]
            eyes = face.eyes or ((np.nan, np.nan), (np.nan, np.nan))
            found.append((idx, (face.x, face.y, face.w, face.h, face.score, *eyes[0], *eyes[1])))
    finally:
        if own:
            detector.close()
    if found:
        index, values = zip(*found, strict=True)
        out.loc[list(index), list(FACE_COLUMNS)] = np.array(values, dtype=float)
    for idx, reason in missed:
        out.loc[idx, ["outcome", "split"]] = [reason, None]
    reasons = pd.Series([r for _, r in missed], dtype=object).value_counts().to_dict()
    logger.info(
        "%s: a face in %d of %d images; left out: %s", where, len(found), len(rows), reasons or "none"
    )
    return out


def face_reader(crop: CropGeometry) -> Callable[[Any], np.ndarray]:
    """Read a row of a table that :func:`detect_table_faces` searched: its face cropped with ``crop``
    from the image as searched."""
    if crop.detector == DATASET_FRAMING:
        raise ValueError("face_reader: a dataset's own framing has no face box to crop; read the image")

    def read(row: Any) -> np.ndarray:
        box = tuple(int(row[c]) for c in FACE_COLUMNS[:4])
        eyes = None
        if not np.isnan(row["eye_rx"]):
            eyes = ((row["eye_rx"], row["eye_ry"]), (row["eye_lx"], row["eye_ly"]))
        return crop.crop(enlarge_small(load_image(row)), box, eyes)  # type: ignore[arg-type]

    return read


def reader_for(crop: CropGeometry, table: pd.DataFrame, where: str) -> Callable[[Any], np.ndarray]:
    """How a model of this geometry reads the rows of a curated table: the image as the dataset framed
    it, or the face :func:`detect_table_faces` found in it (:func:`face_reader`); a model that crops
    detected faces cannot read a table nobody searched."""
    if crop.detector == DATASET_FRAMING:
        return load_image
    if not set(FACE_COLUMNS) <= set(table.columns):
        raise ValueError(
            f"{where}: the model crops faces found by {crop.detector}, but this table's images were never "
            f"searched for faces (framing: {{detect: true}} searches them when the split is made)"
        )
    return face_reader(crop)


def searched(table: pd.DataFrame) -> bool:
    """Whether :func:`detect_table_faces` searched the table's images for their faces."""
    return set(FACE_COLUMNS) <= set(table.columns)


def scoring_readers(
    table: pd.DataFrame, specs: Iterable[ModelSpec], where: str
) -> tuple[Callable[[Any], Any], Callable[[Any], bytes]]:
    """``(read, raw)`` for scoring several models on a curated table's rows. On a table that was
    searched for faces, each model meets a row as it meets a film's face: ``read`` gives the row's crop
    per crop framing of the models (:class:`~expressions_ensemble.models.scoring.PreparedBatch`), the
    image as the dataset framed it for a model of the dataset's framing; ``raw`` (what a score cache
    keys on) is the image's bytes with the face box, so a box found again otherwise is scored again.
    On a table nobody searched, every model reads the image as the dataset framed it."""
    if not searched(table):
        return load_image, image_bytes
    readers: dict[Any, Callable[[Any], np.ndarray]] = {}
    for spec in specs:
        readers.setdefault(spec.crop.framing, reader_for(spec.crop, table, where))

    def read(row: Any) -> dict[Any, np.ndarray]:
        return {framing: reader(row) for framing, reader in readers.items()}

    def raw(row: Any) -> bytes:
        box = json.dumps([None if pd.isna(row[c]) else float(row[c]) for c in FACE_COLUMNS])
        return image_bytes(row) + box.encode()

    return read, raw
