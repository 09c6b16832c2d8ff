"""API keys for photo sources, read from a YAML file (``conf/local/credentials.yml`` by default).

Kedro injects credentials only into datasets, by a key that must exist; photo sources need them in a
node and most sources need none, so this read-only dataset hands the whole mapping over and loads as
empty when the file is absent. Environment variables remain the fallback inside each source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kedro.io import AbstractDataset, DatasetError


class CredentialsFileDataset(AbstractDataset[None, dict[str, Any]]):
    """Read-only mapping from a YAML file; describing it never shows a value."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        if not self._path.is_file():
            return {}
        data = yaml.safe_load(self._path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise DatasetError(f"{self._path}: expected a mapping of credential names to values")
        return data

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: credentials are read-only")

    def _exists(self) -> bool:
        return self._path.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
