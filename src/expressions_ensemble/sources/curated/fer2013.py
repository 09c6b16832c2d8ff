"""FER2013 in both published layouts: the Kaggle CSV (pixels inline) and ``train|test/<class>/`` folders.

Usage → split: Training → train; PublicTest and PrivateTest → test (the published test set), or
PublicTest → val with ``public_test: val`` (the common "PublicTest as validation" protocol). The Usage
is kept in the ``usage`` column either way; in the folder layout it comes from the Kaggle export's file
names (``PublicTest_123.jpg``).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.datasets.photo_folder import IMAGE_SUFFIXES
from expressions_ensemble.labels import FER2013_INDEX, normalise_label
from expressions_ensemble.sources.curated.table import (
    MALFORMED_LINE,
    OK,
    UNKNOWN_LABEL,
    ParamError,
    as_path,
    choice,
    label_from_index,
    make_table,
)

logger = logging.getLogger(__name__)

DATASET = "fer2013"
SIDE = 48
USAGES: dict[str, str] = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
PUBLIC_TEST: tuple[str, ...] = ("test", "val")
#: Split folders of the folder layout (some redistributions add a validation folder).
SPLIT_FOLDERS: dict[str, str] = {"train": "train", "test": "test", "val": "val", "validation": "val"}


def pixels_to_image(pixels: str) -> np.ndarray:
    """The CSV's ``pixels`` string (2304 space-separated 0–255 values) as a 48×48 uint8 grey image.

    Raises ``ValueError`` saying what is wrong, which the reader turns into a ``malformed_line`` row.
    """
    try:
        values = np.fromstring(pixels, dtype=np.int64, sep=" ")
    except ValueError:
        raise ValueError("pixels: not space-separated integers") from None
    if values.size != SIDE * SIDE:
        raise ValueError(f"pixels: {values.size} values, expected {SIDE * SIDE}")
    if values.min() < 0 or values.max() > 255:
        raise ValueError("pixels: values outside 0–255")
    return values.astype(np.uint8).reshape(SIDE, SIDE)


def encode_png(grey: np.ndarray) -> bytes:
    """Lossless single-channel PNG, the inline storage of a FER2013 CSV image."""
    ok, buf = cv2.imencode(".png", grey)
    if not ok:  # pragma: no cover - OpenCV fails only on invalid arrays
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def _split(usage: str | None, public_test: str) -> str | None:
    split = USAGES.get(usage) if usage else None
    return "val" if usage == "PublicTest" and public_test == "val" else split


def _columns(header: list[str], csv_path: Path) -> dict[str, int]:
    names = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [c for c in ("emotion", "pixels") if c not in names]
    if missing:
        raise ValueError(
            f"{csv_path}: columns {missing} missing; found {header} (expected emotion,pixels,Usage)"
        )
    if "usage" not in names:
        logger.warning("%s: no Usage column; split left empty", csv_path)
    return names


def read_fer2013_csv(csv_path: str | Path, public_test: str = "test") -> pd.DataFrame:
    """Read Kaggle's ``fer2013.csv`` (``emotion,pixels,Usage``); images go inline as PNG in ``data``.

    Every line is a row: a wrong field or pixel count, or a non-integer emotion, is ``malformed_line``;
    an emotion outside 0–6 is ``unknown_label``; the 1-based line number is kept in ``line``.
    """
    path = as_path(csv_path, "csv_path", kind="file")
    choice(public_test, "public_test", PUBLIC_TEST)
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file (expected the header emotion,pixels,Usage)")
        cols = _columns(header, path)
        ie, ip, iu = cols["emotion"], cols["pixels"], cols.get("usage")
        for fields in tqdm(reader, desc="fer2013 csv", unit="line", leave=False, disable=None):
            line = reader.line_num
            row: dict[str, Any] = {
                "image_id": f"{DATASET}/csv/{line:06d}",
                "dataset": DATASET,
                "line": line,
                "outcome": OK,
            }
            rows.append(row)
            if len(fields) != len(header):
                row |= {"outcome": MALFORMED_LINE, "detail": f"{len(fields)} fields, expected {len(header)}"}
                continue
            usage = fields[iu].strip() if iu is not None else None
            raw = fields[ie].strip()
            row |= {"raw_label": raw, "usage": usage, "split": _split(usage, public_test)}
            if usage is not None and usage not in USAGES:
                row |= {"outcome": MALFORMED_LINE, "detail": f"Usage {usage!r}; allowed: {', '.join(USAGES)}"}
                continue
            try:
                row["data"] = encode_png(pixels_to_image(fields[ip]))
            except ValueError as exc:
                row |= {"outcome": MALFORMED_LINE, "detail": str(exc)}
                continue
            label, outcome, detail = label_from_index(raw, FER2013_INDEX, "emotion")
            if label is None:
                row |= {"outcome": outcome, "detail": detail}
                continue
            row["label"] = label
    return make_table(rows, extra=("usage",))


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def read_fer2013_folders(root: str | Path, public_test: str = "test") -> pd.DataFrame:
    """Read the image-folder layout ``<root>/train|test/<class>/*.jpg`` (class folders by name).

    A class folder whose name is not an emotion gives ``unknown_label`` rows. ``public_test: val`` needs
    the Kaggle export's ``PublicTest_`` / ``PrivateTest_`` file-name prefixes to tell the halves apart.
    """
    base = as_path(root, "root")
    choice(public_test, "public_test", PUBLIC_TEST)
    found = {
        p: SPLIT_FOLDERS[p.name.lower()]
        for p in sorted(base.iterdir())
        if p.is_dir() and p.name.lower() in SPLIT_FOLDERS
    }
    others = sorted(p.name for p in base.iterdir() if p not in found and not p.name.startswith("."))
    if not found:
        raise ValueError(
            f"root: {base} has no split folder ({', '.join(SPLIT_FOLDERS)}); found {others or 'nothing'}"
        )
    if others:
        logger.warning("%s: ignoring %s (not a split folder: %s)", base, others, ", ".join(SPLIT_FOLDERS))
    rows: list[dict[str, Any]] = []
    skipped = 0
    for folder, split in found.items():
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            label = normalise_label(class_dir.name)
            files = sorted(class_dir.rglob("*"))
            for file in tqdm(
                files, desc=f"fer2013 {folder.name}/{class_dir.name}", leave=False, disable=None
            ):
                if not file.is_file():
                    continue
                if not _is_image(file):
                    skipped += 1
                    continue
                prefix = file.name.split("_", 1)[0]
                usage = prefix if prefix in USAGES else None
                rows.append(
                    {
                        "image_id": f"{DATASET}/{file.relative_to(base).as_posix()}",
                        "dataset": DATASET,
                        "label": label,
                        "raw_label": class_dir.name,
                        "split": _split(usage, public_test) if split == "test" and usage else split,
                        "path": str(file),
                        "outcome": OK if label else UNKNOWN_LABEL,
                        "detail": None if label else f"class folder {class_dir.name!r} is not an emotion",
                        "usage": usage,
                    }
                )
    if skipped:
        logger.warning("%s: %d files that are not images ignored", base, skipped)
    table = make_table(rows, extra=("usage",))
    from_test = [s == "test" for s in found.values()]
    if public_test == "val" and any(from_test) and not (table["usage"] == "PublicTest").any():
        raise ParamError(
            "public_test",
            "'val' needs the Kaggle file-name prefixes PublicTest_ / PrivateTest_ in the test folder, "
            "none found; use 'test' (or give the CSV layout)",
        )
    return table
