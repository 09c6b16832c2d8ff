"""Datasets of the report: inputs that may be absent, and figure folders that hold exactly one run's figures.

* :class:`OptionalDataset` wraps any dataset config; loading gives ``None`` when its data does not
  exist (a ground truth, a study summary, training metrics), so a pipeline can use an input "where
  present" without a separate pipeline per combination.
* :class:`FigureFolderDataset` is a :class:`PhotoFolderDataset` whose save *replaces* the folder's
  PNG files: a figure that a run no longer draws (a film that left the data) must not linger and
  reappear in the next report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from expressions_ensemble.datasets.photo_folder import PhotoFolderDataset

logger = logging.getLogger(__name__)


class OptionalDataset(AbstractDataset[Any, Any]):
    """A dataset whose absence is not an error: ``load`` returns ``None`` when the data is missing.

    ``dataset`` is the wrapped dataset's config (``type`` plus its arguments, as in the catalog), or
    ``None`` for an input that is not configured in this environment.
    """

    def __init__(
        self, dataset: dict[str, Any] | str | None = None, metadata: dict[str, Any] | None = None
    ) -> None:
        self.metadata = metadata
        self._config = dataset
        if dataset is None:
            self._dataset: AbstractDataset | None = None
        else:
            config = {"type": dataset} if isinstance(dataset, str) else dict(dataset)
            self._dataset = AbstractDataset.from_config("optional", config)

    def load(self) -> Any:
        if self._dataset is None:
            logger.info("Optional input not configured; the report leaves out what needs it")
            return None
        if not self._dataset.exists():
            logger.info("Optional input %s is absent; the report leaves out what needs it", self._dataset)
            return None
        return self._dataset.load()

    def save(self, data: Any) -> None:
        if self._dataset is None:
            raise DatasetError("OptionalDataset without a 'dataset' config cannot save")
        self._dataset.save(data)

    def _exists(self) -> bool:
        return self._dataset is not None and self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._config}


class FigureFolderDataset(PhotoFolderDataset):
    """A folder of PNG figures (``name.png`` → bytes) that each save replaces as a whole.

    Loading is lazy, as for photos (a mapping that reads a file when asked). Saving writes changed
    files atomically and removes the folder's other ``.png`` files; other files are left alone.
    """

    def save(self, data: Mapping[str, bytes | Callable[[], bytes]]) -> None:
        names = set(data)
        bad = sorted(n for n in names if not n.endswith(".png") or "/" in n or "\\" in n)
        if bad:
            raise DatasetError(f"{self._path}: figure names must be plain '<name>.png', got {bad}")
        for old in Path(self._path).glob("*.png") if Path(self._path).is_dir() else []:
            if old.name not in names:
                old.unlink()
        Path(self._path).mkdir(parents=True, exist_ok=True)
        super().save(data)
