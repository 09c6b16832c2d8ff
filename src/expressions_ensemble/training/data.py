"""Training tables and the decoded-image cache.

A *training table* has one row per candidate image: ``image_id``, ``dataset``, ``label``, ``group``
(rows of one group never straddle train and validation: the photo's sha256, or a video), ``path`` and
``outcome`` (``ok`` or why the image cannot be used). Images are decoded and resized once into a uint8
array by :func:`decode_images`; a file that fails to decode becomes an outcome, not a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.imaging import ImageDecodeError, prepare_face, validate_preprocessing
from expressions_ensemble.parallel import available_cores

logger = logging.getLogger(__name__)

_DECODE_CHUNK = 512  # rows handed to the decoding threads at a time (bounds what waits in memory)

TABLE_COLUMNS = ["image_id", "dataset", "label", "group", "path", "split", "outcome"]


def weak_label_table(source: str, photo_manifest: pd.DataFrame, faces: pd.DataFrame) -> pd.DataFrame:
    """The training table of a weak-label source: every photo that reached face extraction.

    The label is the photo's weak label; ``group`` is its content hash, so an identical photo never sits
    on both sides of the split; ``path`` names its face crop. Photos without a crop keep the reason.
    """
    sha = photo_manifest.loc[photo_manifest["outcome"] == "kept", ["image_id", "sha256"]]
    table = faces.merge(sha, on="image_id", how="left", validate="one_to_one")
    return pd.DataFrame(
        {
            "image_id": table["image_id"].astype(str),
            "dataset": source,
            "label": table["label"],
            "group": table["sha256"].fillna(table["image_id"]).astype(str),
            "path": table["crop"],
            "split": None,
            "outcome": np.where(table["kept"].astype(bool), "ok", table["reject_reason"].fillna("no_crop")),
        },
        columns=TABLE_COLUMNS,
    )


def decode_images(
    table: pd.DataFrame,
    read: Callable[[Any], np.ndarray],
    size: int,
    variant: str = "rgb",
    desc: str = "decode",
    threads: int | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Decode the rows with a split into one uint8 array (N, 3, size, size), in table order.

    ``read(row)`` returns an RGB image; failures set the row's outcome to the decode reason and clear
    its split, so the returned table says exactly which rows the array holds (``split`` not null).
    Decoding runs in ``threads`` threads (default: one per core; Pillow and OpenCV release the GIL while
    they decode and resize), chunk by chunk, so the array fills in table order whatever the threads.
    """
    validate_preprocessing(variant)
    out = table.copy()
    rows = out.index[out["split"].notna()]
    images = np.empty((len(rows), 3, size, size), dtype=np.uint8)
    kept = 0
    failed: dict[str, int] = {}

    def load(idx: Any) -> tuple[Any, np.ndarray | None, str | None]:
        try:
            return idx, prepare_face(read(out.loc[idx]), size, variant).transpose(2, 0, 1), None
        except ImageDecodeError as exc:
            return idx, None, exc.reason

    workers = threads if threads is not None else available_cores()
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool,
        tqdm(total=len(rows), desc=desc, unit="img", leave=False, disable=None) as bar,
    ):
        for start in range(0, len(rows), _DECODE_CHUNK):
            for idx, image, reason in pool.map(load, rows[start : start + _DECODE_CHUNK]):
                if reason is None:
                    images[kept] = image
                    kept += 1
                else:
                    out.loc[idx, ["outcome", "split"]] = [reason, None]
                    failed[reason] = failed.get(reason, 0) + 1
                bar.update(1)
    if failed:
        logger.warning(
            "%s: %d images could not be decoded and are left out: %s", desc, sum(failed.values()), failed
        )
    return images[:kept], out


def iter_decoded(
    table: pd.DataFrame, read: Callable[[Any], np.ndarray], chunk: int = 256
) -> Iterator[tuple[list[np.ndarray], list[object], int]]:
    """Decoded RGB images of the table's rows, in chunks of ``chunk`` rows: ``(images, labels, failed)``.

    For scoring several models with their own input sizes on one test set: each chunk is decoded once,
    at its stored size, and memory stays flat however large the test set; rows that fail to decode are
    counted (``failed``) and logged, not scored.
    """
    for start in range(0, len(table), chunk):
        part = table.iloc[start : start + chunk]
        images, labels, failed = [], [], 0
        for _, row in part.iterrows():
            try:
                images.append(read(row))
                labels.append(row["label"])
            except ImageDecodeError as exc:
                failed += 1
                logger.warning("%s: left out of scoring (%s)", row["image_id"], exc.reason)
        yield images, labels, failed
