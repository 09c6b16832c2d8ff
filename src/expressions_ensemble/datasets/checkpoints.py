"""A folder that keeps the last finished epoch of a training run, so an interrupted run can resume.

The training node receives the store object (loading this dataset) and saves into it after every
epoch; the file is replaced atomically, so a run killed mid-write leaves the previous epoch intact.

The file is a line ``expressions-ensemble/checkpoint sha256=<hex>`` followed by the ``torch.save``
bytes the digest covers, so a flipped byte (a bad disk, a copy gone wrong) is seen before any weight is
read. A checkpoint that fails the check, or cannot be read, or lacks the line (an older layout) is not
resumed: a warning names the file and training starts afresh. Deliberately not an error: a checkpoint
is only saved progress, the run can always redo it, and the next finished epoch replaces the file.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any

import torch
from kedro.io import AbstractDataset, DatasetError

from expressions_ensemble.files import write_atomic

logger = logging.getLogger(__name__)

#: First line of a checkpoint file, before the hex digest of the bytes after it.
MAGIC = b"expressions-ensemble/checkpoint sha256="
_DIGEST_CHARS = 64


class DamagedCheckpoint(ValueError):
    """A checkpoint file that fails its checksum or cannot be read (the message says which and why)."""


def checkpoint_bytes(fingerprint: str, state: dict[str, Any]) -> bytes:
    """The file content: the checksum line, then ``torch.save`` of the tagged state."""
    buf = io.BytesIO()
    torch.save({"fingerprint": fingerprint, "state": state}, buf)
    payload = buf.getvalue()
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def read_checkpoint(data: bytes, source: str) -> dict[str, Any]:
    """The tagged state of checkpoint bytes, checksum verified; :class:`DamagedCheckpoint` otherwise."""
    head = len(MAGIC) + _DIGEST_CHARS + 1
    if not data.startswith(MAGIC) or len(data) < head or data[head - 1 : head] != b"\n":
        raise DamagedCheckpoint(f"{source}: no checksum line (damaged, or written by an older version)")
    digest, payload = data[len(MAGIC) : head - 1], data[head:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise DamagedCheckpoint(f"{source}: checksum mismatch (damaged or altered file)")
    try:
        saved = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types; the checksum matched, so a foreign writer
        detail = f"{type(exc).__name__}: {exc}"
        raise DamagedCheckpoint(f"{source}: not a readable checkpoint ({detail})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict) or "fingerprint" not in saved:
        raise DamagedCheckpoint(f"{source}: not a checkpoint of this project (no fingerprint and state)")
    return saved


class FileCheckpointStore:
    """``last.pt`` in a folder, tagged with the run's fingerprint (other runs' checkpoints are ignored)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def file(self) -> Path:
        return self.path / "last.pt"

    def load(self, fingerprint: str) -> dict[str, Any] | None:
        """The saved state of the run ``fingerprint`` names, or ``None``: no checkpoint, another run's,
        or a damaged one (warned about, naming the file; see the module docstring)."""
        try:
            data = self.file.read_bytes()
        except FileNotFoundError:
            return None
        try:
            saved = read_checkpoint(data, str(self.file))
        except DamagedCheckpoint as exc:
            logger.warning("%s; not resuming from it, training from the start", exc)
            return None
        if saved["fingerprint"] != fingerprint:
            return None  # another configuration or other data: start afresh
        return saved["state"]

    def save(self, fingerprint: str, state: dict[str, Any]) -> None:
        write_atomic(self.file, checkpoint_bytes(fingerprint, state))

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
