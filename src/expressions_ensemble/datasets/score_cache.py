"""A folder of each model's probabilities on each test set, so a re-run scores only what changed.

The evaluation matrix scores every model on every test set; on real data that is most of a re-run's
time (FER2013's 5,846 test faces through every network). A test set's scores depend only on its rows
(ids, labels and the bytes of each image) and on the model (:func:`~expressions_ensemble.models.
scoring.model_digest`), so they are kept per ``(test set content, model digest)``: a retrained model,
a changed crop or an added photo misses the cache and is scored afresh; everything else is read back.

Files: ``<folder>/<domain>/<model>.<key>.npz`` (probabilities, the labels of the scored rows and the
count of unreadable rows). Saving a model's scores removes its older files for that test set, so the
folder holds one file per model and test set. A file that cannot be read is warned about and scored
again, never trusted; deleting the folder only costs time.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from expressions_ensemble.files import write_atomic

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoredSet:
    """One model's probabilities on one test set (rows in the order scored) and that set's labels."""

    probs: np.ndarray
    labels: tuple[str, ...]
    unreadable: int


class ScoreCache:
    """The cache folder; ``get`` and ``put`` take the test set's content key and the model's digest."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _file(self, domain: str, model: str, content: str, digest: str) -> Path:
        key = hashlib.sha256(f"{content}|{digest}".encode()).hexdigest()[:24]
        return self.path / domain / f"{model}.{key}.npz"

    def get(self, domain: str, model: str, content: str, digest: str) -> ScoredSet | None:
        """The stored scores, or ``None``: never scored so, or a file that cannot be read (warned)."""
        path = self._file(domain, model, content, digest)
        try:
            with np.load(path, allow_pickle=False) as data:
                return ScoredSet(data["probs"], tuple(data["labels"].tolist()), int(data["unreadable"]))
        except FileNotFoundError:
            return None
        except Exception as exc:  # numpy raises several types for a damaged file
            detail = f"{type(exc).__name__}: {exc}"
            logger.warning("%s: not a readable score file (%s); scoring again", path, detail)
            return None

    def put(self, domain: str, model: str, content: str, digest: str, scored: ScoredSet) -> None:
        """Store the scores and remove the model's older files for this test set."""
        path = self._file(domain, model, content, digest)
        buf = io.BytesIO()
        np.savez(buf, probs=scored.probs, labels=np.array(scored.labels, dtype=str),
                 unreadable=np.int64(scored.unreadable))  # fmt: skip
        write_atomic(path, buf.getvalue())
        for old in path.parent.glob(f"{model}.*.npz"):
            if old != path:
                old.unlink(missing_ok=True)


def content_key(domain: str, kind: str, rows: Any, raw: Any) -> str:
    """A checksum of what a test set's scores depend on: its name and kind, and per row the id, the
    label and the sha256 of the image bytes ``raw(row)`` returns (a file that cannot be read counts as
    such, so that it being restored changes the key)."""
    h = hashlib.sha256(f"{domain}|{kind}".encode())
    for _, row in rows.iterrows():
        try:
            image = hashlib.sha256(raw(row)).hexdigest()
        except (OSError, KeyError, ValueError) as exc:
            image = f"unreadable:{type(exc).__name__}"
        h.update(f"|{row['image_id']}|{row['label']}|{image}".encode())
    return h.hexdigest()


class ScoreCacheDataset(AbstractDataset[None, ScoreCache]):
    """Kedro dataset whose ``load`` returns the score cache of a folder (it is never saved)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> ScoreCache:
        return ScoreCache(self._path)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: the scoring nodes write scores through the cache itself")

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
