"""The movie list (file_name, title, category) and its match with the films named by the predictions."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd

from expressions_ensemble.movies import parse_movie_list
from expressions_ensemble.reporting.predictions import QUALITY_COLUMNS, loose_movie_key

logger = logging.getLogger(__name__)

FILM_COLUMNS = ["movie", "title", "genre", "in_movie_list", "has_predictions"]


def normalise_movie_list(raw: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The movie list as ``movie, title, genre`` (movie = file_name stem), plus quality rows.

    ``raw`` is what ``reporting.movie_list`` loads (a table checked by
    :mod:`expressions_ensemble.movies`, the parser movie_eval uses too) or the records of one; it is
    checked again here, so a film listed twice or a value of the wrong type fails naming it. ``None``
    (no list given) is an empty list, reported once: then every film is reported, without genre.
    """
    quality = []
    if raw is None:
        quality.append({"model": "", "check": "no_movie_list", "count": 1, "detail": "films have no genre"})
        logger.warning("no movie list: films have no title or genre, genre metrics are skipped")
        raw = []
    listed = parse_movie_list(raw, "reporting.movie_list")
    table = pd.DataFrame(
        {
            "movie": listed["movie"].astype(str),
            "title": listed["title"].astype(str),
            "genre": listed["category"].astype(object).where(listed["category"].notna(), None),
        },
        columns=["movie", "title", "genre"],
    )
    return table.reset_index(drop=True), pd.DataFrame(quality, columns=QUALITY_COLUMNS)


def listed_only(table: pd.DataFrame, films: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` (a ``movie`` column) whose film is in ``films`` (see :func:`match_films`)."""
    return table[table["movie"].isin(set(films["movie"]))]


def match_films(films_seen: Iterable[str], movie_list: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The films to report: those of the list, with title and genre, and whether they have predictions.

    Names match exactly (after :func:`~expressions_ensemble.reporting.predictions.movie_key`), else by
    :func:`loose_movie_key` when that is unique. Films with predictions that the list lacks (an old
    partition, another run's film) are skipped, logged with their names and counted; listed films
    without predictions stay in the table with ``has_predictions`` false. Without a list (an empty
    one) every film with predictions is reported, without genre.
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
        if idx is None and listed.empty:
            rows.append({"movie": film, "title": film, "genre": None, "in_movie_list": False})
        elif idx is None:
            unlisted.append(film)
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
        ("movie_not_in_list", unlisted, "skipped, not in the movie list"),
        ("listed_film_without_predictions", [r["movie"] for r in without], "film without faces or not run"),
    ]
    for check, names, why in checks:
        quality.append(
            {"model": "", "check": check, "count": len(names), "detail": f"{why}: {', '.join(names)}"}
        )
        if names:
            logger.warning("films %s (%s): %d: %s", check, why, len(names), ", ".join(names))
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
