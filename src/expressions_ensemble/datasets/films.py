"""Kedro datasets of the film evaluation: a folder of films, a movie list, the per-film predictions.

- :class:`VideoFolderDataset`: ``load`` lists the folder and its sub-folders (relative path → path;
  films are never read into memory), ``save`` takes file name → writer ``f(path)`` and writes only
  films that are not there yet (the simulator's films are rendered once).
- :class:`MovieListDataset`: the study's movie list as a checked table, from JSON (a list of objects,
  or ``{"movies": [...]}``) or CSV, chosen by the file's extension (:mod:`expressions_ensemble.movies`).
- :class:`FilmPredictionsDataset`: ``load`` gives a :class:`FilmPredictionStore`, through which the
  evaluation writes each film's face table (``<movie>.parquet``) and its status
  (``<movie>.status.json``) the moment the film is done, atomically; the folder is the
  ``PartitionedDataset`` the reporting pipeline reads.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from expressions_ensemble.files import write_atomic
from expressions_ensemble.movies import MovieListError, movie_list_bytes, read_movie_list


class VideoFolderDataset(AbstractDataset[Mapping[str, Callable[[Path], Any]], dict[str, str]]):
    """A folder of films (``path``): ``load`` maps each file's path relative to the folder (``heat.mp4``,
    ``mead/W009_angry.mp4``: a movie list may name films in sub-folders) to its path; hidden files and
    folders are left out."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, str]:
        if not self._path.is_dir():
            raise DatasetError(f"{self._path}: the movies folder does not exist")
        files = {}
        for p in sorted(self._path.rglob("*")):
            relative = p.relative_to(self._path)
            if p.is_file() and not any(part.startswith(".") for part in relative.parts):
                files[relative.as_posix()] = str(p)
        return files

    def save(self, data: Mapping[str, Callable[[Path], Any]]) -> None:
        self._path.mkdir(parents=True, exist_ok=True)
        for name, write in data.items():
            if "/" in name or "\\" in name or name.startswith("."):
                raise DatasetError(f"{self._path}: film names must be plain file names, got {name!r}")
            target = self._path / name
            if not target.is_file():
                write(target)  # writers write beside the target and rename (see simulation.films)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class MovieListDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """The movie list (``file_name, title, category`` and any other columns) as JSON or CSV, by extension.

    ``load`` gives the checked table of :func:`~expressions_ensemble.movies.read_movie_list` (the one
    parser movie_eval and the report share), so a bad list fails where it is read, naming row and column.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        try:
            return read_movie_list(Path(self._filepath))
        except MovieListError as exc:
            raise DatasetError(str(exc)) from None

    def save(self, data: pd.DataFrame) -> None:
        write_atomic(Path(self._filepath), movie_list_bytes(data, Path(self._filepath)))

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _json_safe(value.item())
    return value


class FilmPredictionStore:
    """``<movie>.parquet`` (a row per face) and ``<movie>.status.json`` per finished film, in a folder.

    The status is written after the table, so a film counts as finished only when both are there; a
    killed run leaves at most a temporary file, never a table that looks finished.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _table(self, movie: str) -> Path:
        return self.path / f"{movie}.parquet"

    def _status(self, movie: str) -> Path:
        return self.path / f"{movie}.status.json"

    def finished(self, movie: str) -> dict[str, Any] | None:
        """The status saved with a finished film, or ``None`` when it is not (fully) there."""
        table, status = self._table(movie), self._status(movie)
        if not (table.is_file() and status.is_file()):
            return None
        try:
            return json.loads(status.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a damaged status means: evaluate again

    def save(self, movie: str, faces: pd.DataFrame, status: Mapping[str, Any]) -> None:
        if not movie or "/" in movie or "\\" in movie or movie.startswith("."):
            raise DatasetError(f"{self.path}: {movie!r} cannot name a partition file")
        self._status(movie).unlink(missing_ok=True)
        buf = io.BytesIO()
        faces.to_parquet(buf, index=False)
        write_atomic(self._table(movie), buf.getvalue())
        write_atomic(self._status(movie), json.dumps({k: _json_safe(v) for k, v in status.items()}).encode())

    def __getstate__(self) -> dict[str, Any]:  # sent to worker processes: only the path
        return {"path": str(self.path)}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.path = Path(state["path"])


class FilmPredictionsDataset(AbstractDataset[None, FilmPredictionStore]):
    """Kedro dataset whose ``load`` returns the store of a folder (the evaluation saves through it)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> FilmPredictionStore:
        os.makedirs(self._path, exist_ok=True)
        return FilmPredictionStore(self._path)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: the film evaluation writes each film through the store itself")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
