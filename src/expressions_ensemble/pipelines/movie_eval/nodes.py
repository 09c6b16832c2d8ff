"""Movie evaluation nodes: the simulator's films, the movie list matched to files, every model on them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from expressions_ensemble.film_eval import FilmEvalParams, evaluate_films
from expressions_ensemble.models.scoring import Scorable
from expressions_ensemble.movies import match_films
from expressions_ensemble.simulation.films import DEFAULT_FILMS, film_truth, movie_list, render_film


def _writer(spec: Any, seed: int) -> Callable[[Path], Any]:
    return partial(render_film, spec, seed=seed)


def simulated_films(
    params: Mapping[str, Any],
) -> tuple[dict[str, Callable[[Path], Any]], pd.DataFrame, pd.DataFrame]:
    """The simulator's default films (a comedy, a crime film, a drama): writers for the films folder,
    their movie list and their per-frame ground truth (``movie, frame_idx, timestamp_sec, face_idx,
    emotion, x, y, w, h``; a faceless frame has one row without emotion)."""
    allowed = {"enabled", "seed"}
    if unknown := set(params) - allowed:
        raise ValueError(
            f"movie_eval.simulated_films: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"movie_eval.simulated_films.seed: got {seed!r}; allowed: an integer")
    writers = {spec.video_file: _writer(spec, seed) for spec in DEFAULT_FILMS}
    truth = pd.concat(
        [film_truth(spec, seed).assign(movie=spec.name) for spec in DEFAULT_FILMS], ignore_index=True
    )
    truth = truth[["movie", *[c for c in truth.columns if c != "movie"]]]
    return writers, movie_list(DEFAULT_FILMS), truth


def plan_films(movie_list_table: pd.DataFrame, files: Mapping[str, str], *written: Any) -> pd.DataFrame:
    """The movie list checked and matched to the films folder by folder and stem (``files``: paths
    relative to the folder; ``written``: only orders the node after the films are rendered)."""
    return match_films(movie_list_table, files, "movie_eval.movie_list")


def evaluate_all_films(
    names: Sequence[str],
    films: pd.DataFrame,
    store: Any,
    params: Mapping[str, Any],
    face_extraction: Mapping[str, Any],
    *models: Scorable,
) -> pd.DataFrame:
    """Every model on every matched film; each film's faces land in the store as soon as it is done.

    The parameters (``movie_eval`` and the detector and crop of ``face_extraction``) are checked before
    the first film, so a bad value fails the node once, naming its key and the allowed values."""
    p = FilmEvalParams.from_params(params, face_extraction)
    if len(models) != len(names):
        raise ValueError(f"movie_eval: {len(models)} models loaded for {len(names)} names")
    return evaluate_films(films, dict(zip(names, models, strict=True)), p, store)
