"""RAF-DB basic expressions: ``EmoLabel/list_patition_label.txt`` beside ``Image/aligned/``.

The list (the file name's typo is the release's) has lines ``train_00001.jpg 5`` with labels 1–7; the
split is the file-name prefix (``train_`` / ``test_``), the published protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.labels import RAFDB_INDEX
from expressions_ensemble.sources.curated.table import (
    MALFORMED_LINE,
    MISSING_FILE,
    OK,
    ParamError,
    as_path,
    label_from_index,
    make_table,
)

DATASET = "rafdb"
LIST_FILE = Path("EmoLabel") / "list_patition_label.txt"
PREFIXES: dict[str, str] = {"train_": "train", "test_": "test"}


def _image_name(name: str, aligned: bool) -> str:
    stem = name.rsplit(".", 1)[0]
    return f"{stem}_aligned.jpg" if aligned else name


def read_rafdb(root: str | Path, aligned: bool = True) -> pd.DataFrame:
    """Read RAF-DB basic from its release folder ``root``.

    ``aligned`` (default) uses ``Image/aligned/<stem>_aligned.jpg`` (100×100 aligned faces), else
    ``Image/original/<name>``. A line that is not ``<name> <int>`` or whose name lacks the train_/test_
    prefix is ``malformed_line``; a label outside 1–7 ``unknown_label``; an absent image ``missing_file``.
    """
    base = as_path(root, "root")
    if not isinstance(aligned, bool):
        raise ParamError("aligned", f"expected true or false, got {aligned!r}")
    list_path = base / LIST_FILE
    if not list_path.is_file():
        raise ParamError("root", f"{list_path} not found (root must be the RAF-DB basic release folder)")
    image_dir = base / "Image" / ("aligned" if aligned else "original")
    if not image_dir.is_dir():
        other = "false (Image/original)" if aligned else "true (Image/aligned)"
        raise ParamError("aligned", f"{image_dir} not found; set aligned: {other} or fix root")
    present = {p.name for p in image_dir.iterdir()}
    rows: list[dict[str, Any]] = []
    lines = list_path.read_text(encoding="utf-8-sig").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, text in enumerate(tqdm(lines, desc="rafdb", unit="line", leave=False, disable=None), 1):
        fields = text.split()
        row: dict[str, Any] = {"dataset": DATASET, "line": number, "outcome": OK}
        rows.append(row)
        if len(fields) != 2:
            row |= {
                "image_id": f"{DATASET}/line-{number}",
                "outcome": MALFORMED_LINE,
                "detail": f"{len(fields)} fields, expected '<file> <label>': {text[:60]!r}",
            }
            continue
        name, raw = fields
        stem = name.rsplit(".", 1)[0]
        split = next((s for p, s in PREFIXES.items() if name.startswith(p)), None)
        file = _image_name(name, aligned)
        row |= {
            "image_id": f"{DATASET}/{stem}",
            "raw_label": raw,
            "split": split,
            "path": str(image_dir / file),
        }
        if split is None:
            row |= {"outcome": MALFORMED_LINE, "detail": f"{name!r} does not start with train_ or test_"}
            continue
        label, outcome, detail = label_from_index(raw, RAFDB_INDEX, "label")
        if label is None:
            row |= {"outcome": outcome, "detail": detail}
            continue
        row["label"] = label
        if file not in present:
            row |= {"outcome": MISSING_FILE, "detail": f"{file} not in {image_dir}"}
    return make_table(rows)
