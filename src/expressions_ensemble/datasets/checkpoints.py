"""A folder that keeps the last finished epoch of a training run, so an interrupted run can resume.

The training node receives the store object (loading this dataset) and saves into it after every
epoch; the file is replaced atomically, so a run killed mid-write leaves the previous epoch intact.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from kedro.io import AbstractDataset, DatasetError

from expressions_ensemble.files import write_atomic


class FileCheckpointStore:
    """``last.pt`` in a folder, tagged with the run's fingerprint (other runs' checkpoints are ignored)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def file(self) -> Path:
        return self.path / "last.pt"

    def load(self, fingerprint: str) -> dict[str, Any] | None:
        if not self.file.is_file():
            return None
        try:
            saved = torch.load(self.file, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged checkpoint must not block a fresh start
            raise DatasetError(
                f"{self.file} is not a readable checkpoint ({exc}); delete it to train from the start"
            ) from None
        if not isinstance(saved, dict) or saved.get("fingerprint") != fingerprint:
            return None  # another configuration or other data: start afresh
        return saved["state"]

    def save(self, fingerprint: str, state: dict[str, Any]) -> None:
        buf = io.BytesIO()
        torch.save({"fingerprint": fingerprint, "state": state}, buf)
        write_atomic(self.file, buf.getvalue())

    def clear(self) -> None:
        self.file.unlink(missing_ok=True)


class CheckpointFolderDataset(AbstractDataset[None, FileCheckpointStore]):
    """Kedro dataset whose ``load`` returns the checkpoint store of a folder (it is never saved)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> FileCheckpointStore:
        return FileCheckpointStore(self._path)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: the training node writes checkpoints through the store itself")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
