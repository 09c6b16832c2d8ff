"""A folder of image files as a Kedro dataset: loads lazily, saves incrementally and atomically.

Raw photos and face crops are many small files. Loading returns a read-only mapping that opens a file
only when asked; saving writes only files that are new or changed, each through a temporary name, so
a killed run never leaves a half-written image that looks finished, and a re-run rewrites nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from expressions_ensemble.files import write_atomic

#: File endings the folder lists (others, e.g. temporary files, are ignored).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".img")


class PhotoFolder(Mapping[str, bytes]):
    """Read-only view of an image folder: key = file name relative to the folder, value = its bytes."""

    def __init__(self, root: Path, names: list[str]) -> None:
        self.root = root
        self._names = names
        self._index = set(names)

    def __getitem__(self, key: str) -> bytes:
        if key not in self._index:
            raise KeyError(key)
        return (self.root / key).read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def path(self, key: str) -> Path:
        """Absolute path of one file (for tools that read files themselves)."""
        if key not in self._index:
            raise KeyError(key)
        return self.root / key


class PhotoFolderDataset(AbstractDataset[Mapping[str, "bytes | Callable[[], bytes]"], PhotoFolder]):
    """Kedro dataset for a folder of images (``path``), loaded lazily and saved incrementally.

    ``save`` takes a mapping of relative file name to bytes (or to a zero-argument callable returning
    bytes, evaluated one at a time so that memory stays flat). Files already present with the same bytes
    are left untouched; nothing is deleted.
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> PhotoFolder:
        if not self._path.exists():
            return PhotoFolder(self._path, [])
        names = sorted(
            p.relative_to(self._path).as_posix()
            for p in self._path.rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        return PhotoFolder(self._path, names)

    def save(self, data: Mapping[str, bytes | Callable[[], bytes]]) -> None:
        root = self._path.resolve()
        for name, value in data.items():
            target = (self._path / name).resolve()
            if root not in target.parents:
                raise DatasetError(f"{self._path}: refusing to write {name!r} outside the folder")
            payload = value() if callable(value) else value
            if not isinstance(payload, bytes | bytearray):
                raise DatasetError(f"{self._path}: {name!r} must be bytes, got {type(payload).__name__}")
            if target.is_file() and target.stat().st_size == len(payload) and target.read_bytes() == payload:
                continue
            write_atomic(target, bytes(payload))

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
