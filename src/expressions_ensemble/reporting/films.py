"""The movie list (file_name, title, category) and its match with the films named by the predictions."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from expressions_ensemble.reporting.predictions import QUALITY_COLUMNS, loose_movie_key, movie_key

logger = logging.getLogger(__name__)

FILM_COLUMNS = ["movie", "title", "genre", "in_movie_list", "has_predictions"]


def _records(raw: Any) -> list[Mapping[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, pd.DataFrame):
        return raw.to_dict("records")
    if isinstance(raw, Mapping):
        raw = raw.get("movies", raw.get("films"))
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not all(isinstance(r, Mapping) for r in raw):
        raise ValueError(
            "movie list: expected a list of {file_name, title, category} objects (or {'movies': [...]})"
        )
    return list(raw)


def normalise_movie_list(raw: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The movie list as ``movie, title, genre`` (movie = file_name stem), plus quality rows.

    ``None`` (no list given) is an empty list, reported once.
    ``category`` (the study's name) or ``genre`` gives the genre; a film listed twice keeps its first
    entry and is counted.
    """
    rows, quality = [], []
    if raw is None:
        quality.append({"model": "", "check": "no_movie_list", "count": 1, "detail": "films have no genre"})
        logger.warning("no movie list: films have no title or genre, genre metrics are skipped")
    for i, rec in enumerate(_records(raw)):
        name = rec.get("file_name", rec.get("movie"))
        if name is None or str(name).strip() == "":
            raise ValueError(f"movie list entry {i} has no file_name: {dict(rec)!r}")
        genre = rec.get("category", rec.get("genre"))
        rows.append(
            {
                "movie": movie_key(name),
                "title": str(rec.get("title") or movie_key(name)),
                "genre": None if genre is None or str(genre).strip() == "" else str(genre).strip(),
            }
        )
    table = pd.DataFrame(rows, columns=["movie", "title", "genre"]).astype("str")
    dup = table.duplicated("movie")
    if dup.any():
        quality.append(
            {
                "model": "",
                "check": "movie_listed_twice",
                "count": int(dup.sum()),
                "detail": ", ".join(table.loc[dup, "movie"]),
            }
        )
        logger.warning("movie list: %d films listed twice, first entry kept", int(dup.sum()))
    return table[~dup].reset_index(drop=True), pd.DataFrame(quality, columns=QUALITY_COLUMNS)


def match_films(films_seen: Iterable[str], movie_list: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every film of the predictions and of the list, with title and genre where the list has it.

    Names match exactly (after :func:`movie_key`), else by :func:`loose_movie_key` when that is unique.
    Films the list lacks keep genre NA (they are left out of genre comparisons, and counted); listed
    films without predictions stay in the table with ``has_predictions`` false.
    """
    seen = sorted(set(films_seen))
    seen_set = set(seen)
    listed = movie_list.reset_index(drop=True)
    quality: list[dict[str, object]] = []
    by_exact = {m: i for i, m in enumerate(listed["movie"])}
    loose: dict[str, list[int]] = {}
    for i, m in enumerate(listed["movie"]):
        loose.setdefault(loose_movie_key(m), []).append(i)
    used: set[int] = set()
    rows, loosely, unlisted = [], [], []
    for film in seen:
        idx = by_exact.get(film)
        if idx is None:
            candidates = [
                i for i in loose.get(loose_movie_key(film), []) if listed["movie"].iloc[i] not in seen_set
            ]
            if len(candidates) == 1 and candidates[0] not in used:
                idx = candidates[0]
                loosely.append(f"{film} = {listed['movie'].iloc[idx]}")
        if idx is None:
            unlisted.append(film)
            rows.append({"movie": film, "title": film, "genre": None, "in_movie_list": False})
        else:
            used.add(idx)
            rec = listed.iloc[idx]
            rows.append({"movie": film, "title": rec["title"], "genre": rec["genre"], "in_movie_list": True})
    without = [listed.iloc[i] for i in range(len(listed)) if i not in used]
    for rec in without:
        rows.append(
            {"movie": rec["movie"], "title": rec["title"], "genre": rec["genre"], "in_movie_list": True}
        )
    films = pd.DataFrame(rows, columns=FILM_COLUMNS[:-1])
    films["has_predictions"] = films["movie"].isin(seen)
    films = films.astype({"movie": "str", "title": "str", "genre": "str"}).sort_values(
        ["genre", "movie"], na_position="last", ignore_index=True
    )
    checks = [
        ("movie_matched_loosely", loosely, "name matched ignoring case and punctuation"),
        ("movie_not_in_list", unlisted, "no genre; left out of genre metrics"),
        ("listed_film_without_predictions", [r["movie"] for r in without], "film without faces or not run"),
    ]
    for check, names, why in checks:
        quality.append(
            {"model": "", "check": check, "count": len(names), "detail": f"{why}: {', '.join(names)}"}
        )
        if names:
            logger.warning("films %s: %d (%s)", check, len(names), ", ".join(names))
    genres = films.loc[films["has_predictions"]].dropna(subset=["genre"]).groupby("genre").size()
    for genre, n in genres.items():
        if n == 1:
            quality.append(
                {
                    "model": "",
                    "check": "genre_with_one_film",
                    "count": 1,
                    "detail": f"{genre}: no between-film spread, no separation interval",
                }
            )
    return films, pd.DataFrame(quality, columns=QUALITY_COLUMNS)
