"""A user's labelled folder (class sub-folders, or folder + CSV) as a labelled image table.

The listing and the CSV handling are :class:`~expressions_ensemble.sources.folder.FolderSource`'s (one
home); this only turns its hits into table rows with outcomes, so a user's own set can be a baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from expressions_ensemble.sources.curated.table import (
    MISSING_FILE,
    NOT_ANNOTATED,
    OK,
    SPLITS,
    UNKNOWN_LABEL,
    ParamError,
    as_path,
    choice,
    make_table,
)
from expressions_ensemble.sources.folder import FolderSource


def read_labelled_folder(
    path: str | Path,
    labels_csv: str | Path | None = None,
    image_column: str = "image",
    label_column: str = "emotion",
    name: str = "folder",
    split: str | None = None,
) -> pd.DataFrame:
    """Read a labelled folder; ``name`` fills the ``dataset`` column, ``split`` (optional) every row's.

    Files the CSV does not list are ``not_annotated``; CSV rows whose file is absent ``missing_file``;
    labels that are not an emotion ``unknown_label``.
    """
    root = as_path(path, "path")
    csv = as_path(labels_csv, "labels_csv", kind="file") if labels_csv is not None else None
    if not isinstance(name, str) or not name or "/" in name:
        raise ParamError("name", f"expected a short dataset name without '/', got {name!r}")
    if split is not None:
        choice(split, "split", SPLITS)
    source = FolderSource(name, root, csv, image_column, label_column)
    rows: list[dict[str, Any]] = []
    for hit in source.hits([]):
        file = root / hit.source_id
        if not hit.raw_label:
            outcome, detail = NOT_ANNOTATED, "no label (not in the labels CSV)"
        elif hit.weak_label is None:
            outcome, detail = UNKNOWN_LABEL, f"label {hit.raw_label!r} is not an emotion"
        elif not file.is_file():
            outcome, detail = MISSING_FILE, f"{file} not found"
        else:
            outcome, detail = OK, None
        rows.append(
            {
                "image_id": f"{name}/{hit.source_id}",
                "dataset": name,
                "label": hit.weak_label if outcome == OK else None,
                "raw_label": hit.raw_label,
                "split": split,
                "path": str(file),
                "outcome": outcome,
                "detail": detail,
            }
        )
    return make_table(rows)
