"""Movie lists: the one parser and rule set that the movie list dataset, movie_eval and the report share.

A movie list names films (``file_name``), with a ``title`` and a ``category`` (the genre; ``genre`` is
accepted as the other name of that column); other columns are kept. ``file_name`` is the film's path
relative to the films folder, with or without a video extension (``heat``, ``heat.mkv``,
``mead/W009_angry``). A film's name (``movie``, the key of its predictions, its truth and the report)
is the file name's stem without folder (:func:`~expressions_ensemble.video.film_stem`), so two entries
with the same stem are one film listed twice: an error naming it, whichever tool reads the list.

Values are type-checked where they come in, so an error names the row (1-based, the n-th object of a
JSON list or the n-th data line of a CSV) and the column: ``file_name`` must be text, ``title`` and
``category`` text or empty (an empty title is the film's name, an empty category means no genre).
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from expressions_ensemble.video import VIDEO_EXTENSIONS, film_stem

#: The columns a movie list must have (the study's format); ``genre`` may stand for ``category``.
MOVIE_LIST_COLUMNS = ("file_name", "title", "category")
#: The columns a checked list gains: the film's name, and its folder relative to the films folder.
DERIVED_COLUMNS = ("movie", "folder")
#: File extensions read as CSV (tab-separated for ``.tsv``); any other is JSON.
CSV_SUFFIXES = (".csv", ".tsv")


class MovieListError(ValueError):
    """A movie list that cannot be used; the message names the file, row and column at fault."""


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN: a missing cell of a DataFrame
        return True
    return isinstance(value, str) and value.strip() == ""


def _text(value: Any, where: str, row: int, column: str, required: bool) -> str | None:
    """The cell as stripped text, ``None`` when empty and allowed; anything else fails by row and column."""
    if _blank(value):
        if required:
            raise MovieListError(f"{where}: row {row} has no {column}")
        return None
    if not isinstance(value, str):
        raise MovieListError(
            f"{where}: row {row}, column {column}: got {value!r} ({type(value).__name__}); allowed: text"
        )
    return value.strip()


def _relative(name: str, where: str, row: int) -> tuple[str, str]:
    """``file_name`` as a clean relative POSIX path, and its folder ('' for the films folder itself)."""
    path = name.replace("\\", "/")
    clean = posixpath.normpath(path)
    if path.startswith("/") or clean == ".." or clean.startswith("../") or clean in ("", "."):
        raise MovieListError(
            f"{where}: row {row}, column file_name: {name!r} must be a path inside the films folder"
        )
    folder = posixpath.dirname(clean)
    return clean, folder


def _records(raw: Any, where: str) -> list[Mapping[str, Any]]:
    if isinstance(raw, pd.DataFrame):
        columns = [str(c) for c in raw.columns]
        if dup := sorted({c for c in columns if columns.count(c) > 1}):
            raise MovieListError(f"{where}: columns {dup} appear more than once")
        return raw.to_dict("records")
    if isinstance(raw, Mapping):
        raw = raw.get("movies", raw.get("films"))
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not all(isinstance(r, Mapping) for r in raw):
        raise MovieListError(
            f"{where}: expected a list of {{file_name, title, category}} objects (or {{'movies': [...]}})"
        )
    return list(raw)


def parse_movie_list(raw: Any, where: str = "movie list") -> pd.DataFrame:
    """The movie list checked, as a table: ``file_name`` (a clean relative path), ``title``,
    ``category``, the other columns as given, then ``movie`` and ``folder``.

    ``raw``: a table (e.g. a checked list, which passes unchanged), a list of mappings or
    ``{"movies": [...]}``. Errors name ``where``, the row and the column.
    """
    records = _records(raw, where)
    columns: list[str] = []
    for rec in records:
        columns.extend(str(c) for c in rec if str(c) not in columns)
    if isinstance(raw, pd.DataFrame):
        columns = [str(c) for c in raw.columns]
    columns = [c for c in columns if c not in DERIVED_COLUMNS]
    if "genre" in columns:
        if "category" in columns:
            raise MovieListError(f"{where}: both 'category' and 'genre' given; they name the same column")
        records = [{("category" if k == "genre" else k): v for k, v in rec.items()} for rec in records]
        columns = ["category" if c == "genre" else c for c in columns]
    if records and (missing := [c for c in MOVIE_LIST_COLUMNS if c not in columns]):
        raise MovieListError(
            f"{where}: missing columns {missing}; required: {', '.join(MOVIE_LIST_COLUMNS)} "
            f"(genre may stand for category)"
        )
    rows, seen = [], {}
    for row, rec in enumerate(records, start=1):
        name = _text(rec.get("file_name"), where, row, "file_name", required=True) or ""
        file_name, folder = _relative(name, where, row)
        movie = film_stem(file_name)
        if movie in seen:
            raise MovieListError(
                f"{where}: film {movie!r} listed twice (rows {seen[movie]} and {row}); a film is named by "
                f"its file's stem, without folder or extension"
            )
        seen[movie] = row
        title = _text(rec.get("title"), where, row, "title", required=False)
        category = _text(rec.get("category"), where, row, "category", required=False)
        others = {k: v for k, v in rec.items() if k not in (*MOVIE_LIST_COLUMNS, *DERIVED_COLUMNS)}
        rows.append(
            {"file_name": file_name, "title": title or movie, "category": category, **others,
             "movie": movie, "folder": folder}
        )  # fmt: skip
    order = [*MOVIE_LIST_COLUMNS, *[c for c in columns if c not in MOVIE_LIST_COLUMNS], *DERIVED_COLUMNS]
    return pd.DataFrame(rows, columns=order)


def read_movie_list(path: str | Path) -> pd.DataFrame:
    """The movie list file (JSON, or CSV/TSV by extension) read and checked (:func:`parse_movie_list`).

    A CSV header naming a column twice is reported by name (pandas would silently rename it).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise MovieListError(f"{where}: no movie list here")
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        delimiter = "\t" if suffix == ".tsv" else ","
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        names = [h.strip() for h in header]
        if dup := sorted({h for h in names if names.count(h) > 1}):
            raise MovieListError(f"{where}: columns {dup} appear more than once in the header")
        table = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False)
        table.columns = [str(c).strip() for c in table.columns]
        return parse_movie_list(table, where)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MovieListError(f"{where}: not valid JSON ({exc})") from None
    return parse_movie_list(raw, where)


def movie_list_bytes(table: pd.DataFrame, path: str | Path) -> bytes:
    """A movie list's file content in the format ``path``'s extension names (derived columns left out)."""
    table = table.drop(columns=[c for c in DERIVED_COLUMNS if c in table.columns])
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return table.to_csv(index=False, sep="\t" if suffix == ".tsv" else ",").encode()
    records = [{k: (None if _blank(v) else v) for k, v in rec.items()} for rec in table.to_dict("records")]
    return json.dumps(records, indent=2, ensure_ascii=False).encode()


def match_films(movie_list: Any, files: Mapping[str, str], where: str = "movie list") -> pd.DataFrame:
    """Each listed film with the path of its file (``path``), or why there is none (``match``).

    ``movie_list`` is checked first (:func:`parse_movie_list`, errors naming ``where``). ``files`` maps
    paths relative to the films folder (``heat.mkv``, ``mead/W009_angry.mp4``) to
    paths. A film matches the video files of its ``folder`` with its stem, whatever their video
    extension. ``match`` is ``found``, ``missing_file`` or ``ambiguous`` (several files share folder and
    stem, e.g. ``a.mp4`` and ``a.mkv``: named in ``detail``).
    """
    by_key: dict[tuple[str, str], list[str]] = {}
    for name in sorted(files):
        relative = name.replace("\\", "/")
        if relative.lower().endswith(VIDEO_EXTENSIONS):
            by_key.setdefault((posixpath.dirname(relative), film_stem(relative)), []).append(name)
    listed = parse_movie_list(movie_list, where)
    paths, matches, details = [], [], []
    for movie, folder in zip(listed["movie"], listed["folder"], strict=True):
        found = by_key.get((folder, movie), [])
        place = f"{folder}/" if folder else "the films folder"
        if len(found) == 1:
            paths.append(str(files[found[0]]))
            matches.append("found")
            details.append("")
        else:
            paths.append(None)
            matches.append("missing_file" if not found else "ambiguous")
            details.append(
                f"several files: {', '.join(found)}" if found else f"no video file with this stem in {place}"
            )
    return listed.assign(path=paths, match=matches, detail=details)
