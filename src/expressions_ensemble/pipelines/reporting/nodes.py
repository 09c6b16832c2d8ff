"""Reporting nodes: each a thin call into :mod:`expressions_ensemble.reporting` (the home of the logic)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from expressions_ensemble.reporting import claims as claims_mod
from expressions_ensemble.reporting import figures, films, html, predictions, tables, validity
from expressions_ensemble.reporting.config import ReportConfig, parse_config

logger = logging.getLogger(__name__)

Figures = dict[str, bytes]
TRUTH_COLUMNS = ["movie", "frame_idx", "timestamp_sec", "emotion"]


def validate_params(params: Mapping[str, Any]) -> ReportConfig:
    """Fail before any work when a ``reporting`` parameter is wrong."""
    return parse_config(params)


def normalise_predictions(
    source: pd.DataFrame | Mapping[str, Callable[[], pd.DataFrame]],
    config: ReportConfig,
    film_status: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...], list[str], pd.DataFrame]:
    """Every layout into the canonical long table, its classes, all films named and the quality log,
    which also names the films ``movie_eval`` could not read (``film_status``; in the default run this
    input is the run's own status, so the predictions are read only after every film is done)."""
    result = predictions.normalise_predictions(source, layout=config.layout, classes=config.classes)
    logger.info(
        "reporting: %d faces of %d models on %d films, classes %s",
        len(result.table),
        result.table["model"].nunique(),
        len(result.films_seen),
        ", ".join(result.classes),
    )
    quality = pd.concat([result.quality, film_status_quality(film_status)], ignore_index=True)
    return result.table, result.classes, list(result.films_seen), quality


def normalise_movie_list(raw: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The movie list, checked as movie_eval checks it (absent: empty, and films get no genre)."""
    return films.normalise_movie_list(raw)


def match_films(films_seen: list[str], movie_list: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The films of the list, with title and genre; films with predictions the list lacks are skipped."""
    return films.match_films(films_seen, movie_list)


def keep_listed_films(table: pd.DataFrame, film_table: pd.DataFrame) -> pd.DataFrame:
    """The predictions of the films to report only (the list's; see :func:`match_films`)."""
    return films.listed_only(table, film_table)


def prepare_truth(raw: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ground-truth timeline in canonical names (empty when none is given)."""
    if raw is None:
        return pd.DataFrame(columns=TRUTH_COLUMNS), pd.DataFrame(columns=predictions.QUALITY_COLUMNS)
    return predictions.normalise_truth(raw)


#: Film outcomes of ``movie_eval`` that mean the film was read to the end.
_FILM_READ = ("ok", "no_faces")


def film_status_quality(status: pd.DataFrame | None) -> pd.DataFrame:
    """A data-quality row per outcome of the films ``movie_eval`` could not read to the end, naming
    them, so a report never looks complete over films it lacks (no status given: no rows)."""
    if status is None or status.empty:
        return pd.DataFrame(columns=predictions.QUALITY_COLUMNS)
    failed = status[~status["outcome"].isin(_FILM_READ)]
    rows = [
        {
            "model": "",
            "check": f"film_{outcome}",
            "count": len(group),
            "detail": "not in the report: " + ", ".join(map(str, group["movie"])),
        }
        for outcome, group in failed.groupby("outcome", sort=True)
    ]
    return pd.DataFrame(rows, columns=predictions.QUALITY_COLUMNS)


def combine_quality(*parts: pd.DataFrame) -> pd.DataFrame:
    """One data-quality table: what each input held and what was done with it."""
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=predictions.QUALITY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[predictions.QUALITY_COLUMNS]


def summarise_films(
    table: pd.DataFrame, film_table: pd.DataFrame, classes: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's per-film summary, wide and tidy."""
    summary = tables.film_summary(table, film_table, classes)
    return summary, tables.tidy_summary(summary, classes)


def check_study_summary(
    summary: pd.DataFrame, study: Any, quality: pd.DataFrame, classes: tuple[str, ...]
) -> pd.DataFrame:
    """Our summary against the study's own ``movie_emotion_summary`` (where given)."""
    return tables.check_study_summary(summary, study, quality, classes)


def compute_film_metrics(
    table: pd.DataFrame, summary: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig
) -> pd.DataFrame:
    """Collapse, entropy and temporal variation per model and film."""
    return validity.film_metrics(table, summary, classes, config)


def compute_genre_separation(
    summary: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share differences and JS divergence between genres, with bootstrap intervals over films."""
    return validity.genre_separation(summary, classes, config)


def compute_agreement(table: pd.DataFrame, classes: tuple[str, ...]) -> pd.DataFrame:
    """Cohen's kappa between every pair of models."""
    return validity.model_agreement(table, classes)


def compute_truth_metrics(
    table: pd.DataFrame, truth: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig
) -> pd.DataFrame:
    """Frame accuracy and macro-F1 of each model against the ground truth (empty without one)."""
    return validity.truth_metrics(table, truth, classes, config.truth_tolerance_sec)


def compute_model_metrics(
    table: pd.DataFrame,
    film_metrics: pd.DataFrame,
    divergence: pd.DataFrame,
    agreement: pd.DataFrame,
    truth_metrics: pd.DataFrame,
    classes: tuple[str, ...],
) -> pd.DataFrame:
    """The key table: ecological-validity metrics, one row per model."""
    return validity.model_metrics(table, film_metrics, divergence, agreement, truth_metrics, classes)


def evaluate_claims(
    model_metrics: pd.DataFrame, separation: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig
) -> pd.DataFrame:
    """The study's claims with verdict, evidence and rule."""
    result = claims_mod.evaluate_claims(config.claims, model_metrics, separation, classes)
    for row in result.itertuples():
        logger.info("claim %r [%s]: %s — %s", row.claim, row.model, row.verdict, row.evidence)
    return result


def plot_shares_all_films(summary: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig) -> Figures:
    """Stacked emotion share of every film, one panel per model."""
    fig = figures.shares_by_film_figure(summary, classes, "All films")
    return {"shares_all_films.png": figures.to_png(fig, config.figure_dpi)}


def plot_shares_by_genre(summary: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig) -> Figures:
    """The same stacked shares for the films of each genre (the study's Comedy and Crime views)."""
    out = {}
    for genre, part in summary.dropna(subset=["genre"]).groupby("genre", sort=True):
        fig = figures.shares_by_film_figure(part, classes, str(genre))
        out[f"shares_genre_{_slug(str(genre))}.png"] = figures.to_png(fig, config.figure_dpi)
    return out


def plot_timelines(
    table: pd.DataFrame,
    film_table: pd.DataFrame,
    truth: pd.DataFrame,
    classes: tuple[str, ...],
    config: ReportConfig,
) -> Figures:
    """One timeline per film with faces (all models, plus the truth where given)."""
    wanted = set(config.timeline_films) if config.timeline_films is not None else None
    titles = dict(zip(film_table["movie"], film_table["title"], strict=True))
    truth_by_film = dict(tuple(truth.groupby("movie"))) if not truth.empty else {}
    out, skipped = {}, []
    for movie, part in films.listed_only(table, film_table).groupby("movie", sort=True):
        if wanted is not None and movie not in wanted:
            skipped.append(movie)
            continue
        fig = figures.timeline_figure(
            part, classes, config.rolling_window_sec, titles.get(movie, movie), truth_by_film.get(movie)
        )
        out[f"timeline_{_slug(movie)}.png"] = figures.to_png(fig, config.figure_dpi, tight=False)
    if skipped:
        logger.info("timelines: %d films not in figures.timeline_films skipped", len(skipped))
    if wanted is not None and wanted - set(table["movie"]):
        logger.warning(
            "timelines: films without predictions: %s", ", ".join(sorted(wanted - set(table["movie"])))
        )
    return out


def plot_benchmark_difference(
    summary: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig
) -> Figures:
    """Per emotion, how each model's film shares differ from the other models'."""
    if summary["model"].nunique() < 2:
        logger.info("benchmark difference chart needs two models; skipped")
        return {}
    fig = figures.benchmark_difference_figure(summary, classes)
    return {"benchmark_difference.png": figures.to_png(fig, config.figure_dpi)}


def plot_confidence(table: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig) -> Figures:
    """Prediction confidence by emotion, per model."""
    fig = figures.confidence_figure(table, classes)
    return {"confidence_by_emotion.png": figures.to_png(fig, config.figure_dpi)}


def plot_genre_separation(
    separation: pd.DataFrame, classes: tuple[str, ...], config: ReportConfig
) -> Figures:
    """Share differences of the focus genres with their intervals."""
    fig = figures.genre_separation_figure(separation, config.focus_genres, classes)
    a, b = config.focus_genres
    return {f"genre_separation_{_slug(a)}_vs_{_slug(b)}.png": figures.to_png(fig, config.figure_dpi)}


def plot_recall_by_run(training: pd.DataFrame | None, config: ReportConfig) -> Figures:
    """Per-class recall by training run, where training metrics are given."""
    if training is None or training.empty:
        return {}
    return {"recall_by_run.png": figures.to_png(figures.recall_by_run_figure(training), config.figure_dpi)}


def plot_confusion(confusion: pd.DataFrame | None, config: ReportConfig) -> Figures:
    """Confusion matrices, where given."""
    if confusion is None or confusion.empty:
        return {}
    return {
        f"{_slug(name)}.png": figures.to_png(fig, config.figure_dpi)
        for name, fig in figures.confusion_figures(confusion).items()
    }


def plot_cross_domain(evaluation: pd.DataFrame | None, config: ReportConfig) -> Figures:
    """The cross-domain macro-F1 heatmap, where an evaluation matrix is given."""
    if evaluation is None or evaluation.empty:
        return {}
    return {
        "cross_domain_macro_f1.png": figures.to_png(
            figures.cross_domain_figure(evaluation), config.figure_dpi
        )
    }


def build_report(config: ReportConfig, classes: tuple[str, ...], **parts: Any) -> str:
    """The self-contained HTML page from the tables and figure folders."""
    figure_groups = {k.removeprefix("figures_"): v for k, v in parts.items() if k.startswith("figures_")}
    content = html.ReportContent(
        metrics=parts["model_metrics"],
        claims=parts["claims"],
        quality=parts["data_quality"],
        study_check=parts["study_summary_check"],
        film_metrics=parts["film_metrics"],
        summary=parts["film_summary"],
        separation=parts["genre_separation"],
        divergence=parts["genre_divergence"],
        agreement=parts["agreement"],
        truth=parts["truth_metrics"],
        figures=figure_groups,
    )
    notes = {
        "recall": "no training metrics given (reporting.training_metrics)",
        "confusion": "no confusion counts given (reporting.confusion)",
        "cross_domain": "no evaluation matrix given (reporting.evaluation_matrix)",
    }
    return html.build_report(config, tuple(classes), content, notes)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip()).strip("_") or "unnamed"
