"""A user's own labelled photos: class sub-folders, or one folder plus a CSV of (image, label)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from expressions_ensemble.datasets.photo_folder import IMAGE_SUFFIXES
from expressions_ensemble.labels import normalise_label, validate_label_aliases
from expressions_ensemble.sources.base import PhotoHit, PhotoSource, Query

logger = logging.getLogger(__name__)

#: Entry keys of ``kind: folder`` (besides the common ones, see :mod:`expressions_ensemble.sources`).
PARAMETER_KEYS = frozenset({"path", "labels_csv", "image_column", "label_column", "label_aliases"})


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _is_image_name(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


class FolderSource(PhotoSource):
    """Every file becomes a hit; its label comes from the CSV or from its class sub-folder.

    Files the CSV does not mention and CSV rows whose file is missing are hits too (unlabelled, or
    failing on fetch), so they show up in the manifest with their outcome rather than vanish.
    ``label_aliases`` are the folder's own words for emotions (a search's ``surpirse``), looked up
    before the project's label map. Files are read again on every run (see ``reuse_stored``).
    """

    reuse_stored = False

    def __init__(
        self,
        name: str,
        path: str | Path,
        labels_csv: str | Path | None = None,
        image_column: str = "image",
        label_column: str = "emotion",
        label_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.root = Path(path)
        if not self.root.is_dir():
            raise FileNotFoundError(f"ingestion.sources.{name}.path: folder {self.root} does not exist")
        self.labels_csv = Path(labels_csv) if labels_csv else None
        self.image_column = image_column
        self.label_column = label_column
        self.label_aliases = validate_label_aliases(label_aliases, f"ingestion.sources.{name}.label_aliases")

    def _labelled(self) -> list[tuple[str, str]]:
        if self.labels_csv is None:
            pairs = []
            for sub in sorted(p for p in self.root.iterdir() if p.is_dir()):
                pairs += [
                    (f.relative_to(self.root).as_posix(), sub.name)
                    for f in sorted(sub.rglob("*"))
                    if _is_image_name(f)
                ]
            return pairs
        if not self.labels_csv.is_file():
            raise FileNotFoundError(
                f"ingestion.sources.{self.name}.labels_csv: {self.labels_csv} does not exist"
            )
        table = pd.read_csv(self.labels_csv, dtype=str, keep_default_na=False)
        missing = {self.image_column, self.label_column} - set(table.columns)
        if missing:
            raise ValueError(
                f"ingestion.sources.{self.name}.labels_csv: columns {sorted(missing)} missing; "
                f"found {list(table.columns)} (set image_column / label_column)"
            )
        return list(
            zip(table[self.image_column].str.strip(), table[self.label_column].str.strip(), strict=True)
        )

    def hits(self, plan: Iterable[Query] = ()) -> Iterator[PhotoHit]:
        labelled = self._labelled()
        listed = {name for name, _ in labelled}
        extra = [
            (f.relative_to(self.root).as_posix(), "")
            for f in sorted(self.root.rglob("*"))
            if _is_image_name(f) and f.relative_to(self.root).as_posix() not in listed
        ]
        if self.labels_csv is not None and extra:
            logger.warning(
                "%s: %d files are not in %s (kept as unlabelled)", self.name, len(extra), self.labels_csv
            )
        for rank, (rel, raw_label) in enumerate(labelled + extra):
            yield PhotoHit(
                source_id=rel,
                reference=f"folder://{self.name}/{rel}",
                query="",
                keyword=raw_label,
                weak_label=normalise_label(raw_label, self.label_aliases) if raw_label else None,
                page=1,
                rank=rank,
                fetch=partial(_read, self.root / rel),
                raw_label=raw_label,
            )


def create_source(name: str, params: Mapping[str, Any], credentials: Mapping[str, Any]) -> FolderSource:
    """Factory for ``kind: folder``: ``path``, and ``labels_csv``, ``image_column``, ``label_column``,
    ``label_aliases``."""
    if "path" not in params:
        raise ValueError(f"ingestion.sources.{name}.path is required for kind 'folder'")
    return FolderSource(
        name,
        params["path"],
        params.get("labels_csv"),
        params.get("image_column", "image"),
        params.get("label_column", "emotion"),
        params.get("label_aliases"),
    )
