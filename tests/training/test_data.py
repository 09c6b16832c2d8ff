"""Tests for training/data.py: decoding a training table once, in threads, in table order."""

from __future__ import annotations

import io
import threading

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from expressions_ensemble.imaging import decode_image
from expressions_ensemble.training.data import decode_images


def _png(value: int, size: int = 40) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def table_and_files() -> tuple[pd.DataFrame, dict[str, bytes]]:
    files = {f"img{i}.png": _png(i * 7 % 256) for i in range(1200)}  # more than one decoding chunk
    files["img5.png"] = b"not an image"
    files["img700.png"] = b""
    table = pd.DataFrame(
        {
            "image_id": list(files),
            "label": ["happy"] * len(files),
            "path": list(files),
            "split": ["train"] * 1000 + [None] * 50 + ["val"] * 150,
            "outcome": "ok",
        }
    )
    return table, files


@pytest.mark.parametrize("threads", [1, 3])
def test_decode_keeps_table_order_and_records_failures(table_and_files, threads: int) -> None:
    table, files = table_and_files
    seen: set[str] = set()

    def read(row: pd.Series) -> np.ndarray:
        seen.add(threading.current_thread().name)
        return decode_image(files[row["path"]])

    images, out = decode_images(table, read, 8, threads=threads)
    kept = out[out["split"].notna()]
    assert len(images) == len(kept) == 1150 - 2
    # each kept row's pixels are its own image's (the value encodes the row), in table order
    expected = np.array([int(p[3:-4]) * 7 % 256 for p in kept["path"]], dtype=np.uint8)
    np.testing.assert_array_equal(images[:, 0, 0, 0], expected)
    assert out.loc[out["path"] == "img5.png", "outcome"].item() == "not_an_image"
    assert out.loc[out["path"] == "img700.png", "outcome"].item() == "empty_file"
    assert out["split"].isna().sum() == 52  # 50 without a split, two that failed
    decoders = {name for name in seen if name.startswith("decode")}
    assert len(decoders) == 1 if threads == 1 else len(decoders) > 1
