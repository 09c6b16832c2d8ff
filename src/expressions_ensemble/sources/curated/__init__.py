"""Curated dataset readers (FER2013, RAF-DB, Aff-Wild2, the simulator's lab look, labelled folders).

Each reader takes a dataset in its *published* layout and returns the same labelled image table
(:data:`~.table.COLUMNS`): one row per input line, frame or file, with its canonical ``label``, the
published ``split``, a ``group`` for split-by-video datasets and an ``outcome`` ("ok" or why not).
:func:`read_curated` is the one place a ``kind`` name becomes a reader; :func:`load_image` gives any
row's RGB pixels. One module per dataset, because each layout has its own parsing and failure modes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from expressions_ensemble.sources.curated.affwild2 import read_affwild2
from expressions_ensemble.sources.curated.fer2013 import (
    pixels_to_image,
    read_fer2013_csv,
    read_fer2013_folders,
)
from expressions_ensemble.sources.curated.labelled_folder import read_labelled_folder
from expressions_ensemble.sources.curated.rafdb import read_rafdb
from expressions_ensemble.sources.curated.sim_lab import read_sim_lab
from expressions_ensemble.sources.curated.table import (
    CLASS_NOT_USED,
    COLUMNS,
    OK,
    OUTCOMES,
    REQUIRED,
    SPLITS,
    CuratedDataset,
    EmptyClassError,
    ParamError,
    image_bytes,
    load_image,
    outcome_counts,
    restrict_classes,
    split_by_group,
    validate_table,
)

#: kind name -> dataset; the ``kind`` key of a baseline's parameters picks one.
CURATED_KINDS: dict[str, CuratedDataset] = {
    d.kind: d
    for d in (
        CuratedDataset("fer2013_csv", read_fer2013_csv, "FER2013 Kaggle CSV (emotion,pixels,Usage)"),
        CuratedDataset("fer2013_folders", read_fer2013_folders, "FER2013 as train|test/<class>/*.jpg"),
        CuratedDataset("rafdb", read_rafdb, "RAF-DB basic: EmoLabel list + Image/aligned"),
        CuratedDataset("affwild2", read_affwild2, "Aff-Wild2 expressions: per-video txt + cropped frames"),
        CuratedDataset("sim_lab", read_sim_lab, "the simulator's posed grey 48×48 lab look"),
        CuratedDataset("folder", read_labelled_folder, "a labelled folder: class sub-folders or CSV"),
    )
}


def get_curated(kind: Any, where: str = "") -> CuratedDataset:
    """The dataset kind ``kind``; fail naming the ``kind`` key and the allowed kinds."""
    if kind not in CURATED_KINDS:
        key = f"{where}.kind" if where else "kind"
        raise ParamError(key, f"unknown curated dataset kind {kind!r}; allowed: {', '.join(CURATED_KINDS)}")
    return CURATED_KINDS[kind]


def read_curated(kind: str, params: Mapping[str, Any] | None = None, where: str = "") -> pd.DataFrame:
    """Read curated dataset ``kind`` with ``params`` into a labelled image table.

    ``where`` is the parameters' path (e.g. ``baselines.datasets.fer``) so errors name the full key.
    """
    return get_curated(kind, where).read(params, where)


__all__ = [
    "CLASS_NOT_USED",
    "COLUMNS",
    "CURATED_KINDS",
    "OK",
    "OUTCOMES",
    "REQUIRED",
    "SPLITS",
    "CuratedDataset",
    "EmptyClassError",
    "ParamError",
    "get_curated",
    "image_bytes",
    "load_image",
    "outcome_counts",
    "pixels_to_image",
    "read_affwild2",
    "read_curated",
    "read_fer2013_csv",
    "read_fer2013_folders",
    "read_labelled_folder",
    "read_rafdb",
    "read_sim_lab",
    "restrict_classes",
    "split_by_group",
    "validate_table",
]
