"""Face extraction nodes: detect, choose the face, crop; every kept photo gets a row with its outcome."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from expressions_ensemble.faces import BACKENDS, FaceDetector, create_detector, select_faces
from expressions_ensemble.imaging import (
    DEFAULT_MAX_PIXELS,
    CropGeometry,
    ImageDecodeError,
    decode_image,
    encode_jpeg,
)
from expressions_ensemble.parallel import map_ordered, resolve_workers

logger = logging.getLogger(__name__)

PHOTO_FACE_POLICIES = ("largest", "single_only")

FACE_COLUMNS = [
    "image_id", "source", "label", "path", "image_width", "image_height", "n_faces",
    "face_x", "face_y", "face_w", "face_h", "score", "kept", "reject_reason", "crop", "crop_geometry",
]  # fmt: skip


@dataclass(frozen=True)
class FaceParams:
    """Validated ``face_extraction`` parameters."""

    detector: str = "mediapipe"
    min_confidence: float = 0.5
    min_face_size: int = 24
    face_policy: str = "largest"
    margin: float = 0.2
    crop_size: int = 224
    jpeg_quality: int = 95
    workers: int = 1
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FaceParams:
        known = set(cls.__dataclass_fields__)
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"face_extraction: unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
        p = cls(**{**params, "workers": resolve_workers(params.get("workers", 1), "face_extraction.workers")})
        checks = [
            (p.detector in BACKENDS, "detector", f"one of {', '.join(BACKENDS)}"),
            (p.face_policy in PHOTO_FACE_POLICIES, "face_policy", f"one of {', '.join(PHOTO_FACE_POLICIES)}"),
            (0.0 <= p.min_confidence <= 1.0, "min_confidence", "a number in [0, 1]"),
            (p.min_face_size >= 0, "min_face_size", "a non-negative number of pixels"),
            (p.margin >= 0, "margin", "a non-negative fraction of the face size"),
            (16 <= p.crop_size <= 1024, "crop_size", "an integer from 16 to 1024"),
            (1 <= p.jpeg_quality <= 100, "jpeg_quality", "an integer from 1 to 100"),
            (p.max_pixels > 0, "max_pixels", "a positive number of pixels"),
        ]
        for ok, key, allowed in checks:
            if not ok:
                raise ValueError(f"face_extraction.{key}: got {getattr(p, key)!r}; allowed: {allowed}")
        return p

    def geometry(self) -> CropGeometry:
        """The crop geometry these settings make (recorded with every crop, then in each model)."""
        return CropGeometry(
            self.detector,
            self.margin,
            self.crop_size,
            self.face_policy,
            self.min_face_size,
            self.min_confidence,
        )


# Per-process state of the workers: the detector is built after the fork, once per process.
_state: dict[str, Any] = {}


def _init_worker(params: FaceParams, photos: Mapping[str, bytes]) -> None:
    """Build this process's detector. One inherited through fork is never reused: its threads are gone."""
    old: FaceDetector | None = _state.get("detector")
    if old is not None and _state.get("pid") == os.getpid():
        old.close()
    _state.update(
        pid=os.getpid(),
        params=params,
        photos=photos,
        detector=create_detector(params.detector, min_confidence=params.min_confidence),
    )


def _release_inline_state() -> None:
    """Close the detector that an inline run (one worker) built in this process and drop its photos:
    left for the interpreter's exit, mediapipe's finaliser prints a traceback after the run's end."""
    if _state.get("pid") == os.getpid():  # never a copy inherited through fork (see _init_worker)
        detector: FaceDetector = _state["detector"]
        _state.clear()
        detector.close()


def _extract_one(item: tuple[str, str, str]) -> tuple[dict[str, Any], bytes | None]:
    """Decode one photo, detect, apply the policy and crop; never raises for a bad photo."""
    image_id, path, label = item
    p: FaceParams = _state["params"]
    row: dict[str, Any] = {"image_id": image_id, "label": label, "path": path, "kept": False}
    try:
        rgb = decode_image(_state["photos"][path], max_pixels=p.max_pixels)
    except ImageDecodeError as exc:
        return row | {"reject_reason": exc.reason}, None
    except OSError as exc:  # the stored file went missing or cannot be read
        logger.warning("%s: %s", path, exc)
        return row | {"reject_reason": "unreadable"}, None
    row |= {"image_height": rgb.shape[0], "image_width": rgb.shape[1]}
    boxes = _state["detector"].detect(rgb)
    chosen, outcome = select_faces(boxes, p.face_policy, p.min_face_size)
    row["n_faces"] = len(boxes)
    if not chosen:
        return row | {"reject_reason": outcome}, None
    face = chosen[0]
    geometry = p.geometry()
    crop = geometry.crop(rgb, (face.x, face.y, face.w, face.h), face.eyes)
    row |= {"face_x": face.x, "face_y": face.y, "face_w": face.w, "face_h": face.h, "score": face.score}
    row |= {"kept": True, "reject_reason": None, "crop": f"{label}/{image_id}.jpg"}
    row["crop_geometry"] = json.dumps(geometry.to_dict(), sort_keys=True)
    return row, encode_jpeg(crop, p.jpeg_quality)


def extract_faces(
    source: str, manifest: pd.DataFrame, photos: Mapping[str, bytes], params: Mapping[str, Any]
) -> tuple[dict[str, bytes], pd.DataFrame]:
    """Crops of the chosen face of every kept photo (``<label>/<image_id>.jpg``) and a row per photo
    (``crop_geometry``: how its crop was made, JSON of :class:`~expressions_ensemble.imaging.CropGeometry`,
    which training stores in the model)."""
    p = FaceParams.from_params(params)
    kept = manifest[manifest["outcome"] == "kept"]
    items = list(zip(kept["image_id"], kept["path"], kept["label"], strict=True))
    crops: dict[str, bytes] = {}
    rows = []
    if not items:
        logger.warning("%s: no photo to extract faces from (the source kept none)", source)
    results = map_ordered(
        _extract_one,
        items,
        workers=min(p.workers, max(1, len(items))),
        total=len(items),
        desc=f"{source}: faces",
        initializer=_init_worker,
        initargs=(p, photos),
        chunksize=16,
    )
    try:
        for row, crop in results:
            rows.append(row)
            if crop is not None:
                crops[row["crop"]] = crop
    finally:
        _release_inline_state()
    faces = pd.DataFrame(rows, columns=FACE_COLUMNS)
    faces["source"] = source
    faces = faces.astype({"kept": bool})
    reasons = faces.loc[~faces["kept"], "reject_reason"].value_counts().to_dict()
    logger.info("%s: %d of %d photos give a face crop; skipped: %s", source, len(crops), len(faces), reasons)
    return crops, faces


def count_faces(source: str, manifest: pd.DataFrame, faces: pd.DataFrame) -> pd.DataFrame:
    """Per-class counts before and after extraction (the study's table), one row per (source, label)."""
    kept = manifest[manifest["outcome"] == "kept"]
    table = pd.DataFrame(
        {
            "hits": manifest[manifest["weak_label"].notna()].groupby("weak_label").size(),
            "photos": kept.groupby("label").size(),
            "faces": faces[faces["kept"]].groupby("label").size(),
        }
    )
    reasons = faces[~faces["kept"]].pivot_table(
        index="label", columns="reject_reason", values="image_id", aggfunc="count"
    )
    table = table.join(reasons).fillna(0).astype("int64")
    table.loc["all"] = table.sum()
    table["face_share"] = (table["faces"] / table["photos"].where(table["photos"] > 0)).round(4)
    table.index.name = "label"
    return table.reset_index().assign(source=source)[["source", "label", *table.columns]]


def combine_counts(*tables: pd.DataFrame) -> pd.DataFrame:
    """All sources' count tables in one (missing reason columns are zero)."""
    if not tables:
        return pd.DataFrame(columns=["source", "label", "hits", "photos", "faces", "face_share"])
    combined = pd.concat(tables, ignore_index=True)
    counts = [c for c in combined.columns if c not in ("source", "label", "face_share")]
    combined[counts] = combined[counts].fillna(0).astype("int64")
    return combined
