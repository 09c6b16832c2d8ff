"""The HTML report opens in headless Chromium: every image loads, no console error; screenshot kept."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from expressions_ensemble.pipelines.reporting import nodes
from expressions_ensemble.reporting.config import parse_config
from reporting_support import ARTIFACTS


def build_synthetic_report(study_layout: dict, movie_list: list, truth: pd.DataFrame) -> str:
    """The whole chain of the pipeline's nodes on small tables, as the pipeline runs them."""
    config = parse_config(
        {
            "claims": [
                {"kind": "collapse", "model": "angry_bias", "emotions": ["angry"], "text": "bias collapses"},
                {"kind": "genre_difference", "genres": ["Comedy", "Crime"], "emotion": "happy"},
            ],
            "bootstrap": {"n_resamples": 200},
        }
    )
    table, classes, seen, pq = nodes.normalise_predictions(study_layout, config)
    movies, mq = nodes.normalise_movie_list(movie_list)
    films, fq = nodes.match_films(seen, movies)
    truth_table, tq = nodes.prepare_truth(truth)
    quality = nodes.combine_quality(pq, mq, fq, tq)
    summary, _tidy = nodes.summarise_films(table, films, classes)
    film_metrics = nodes.compute_film_metrics(table, summary, classes, config)
    separation, divergence = nodes.compute_genre_separation(summary, classes, config)
    agreement = nodes.compute_agreement(table, classes)
    truth_metrics = nodes.compute_truth_metrics(table, truth_table, classes, config)
    model_metrics = nodes.compute_model_metrics(
        table, film_metrics, divergence, agreement, truth_metrics, classes
    )
    claims = nodes.evaluate_claims(model_metrics, separation, classes, config)
    training = pd.DataFrame(
        {"run": ["a", "a", "b", "b"], "emotion": ["happy", "sad"] * 2, "recall": [0.9, 0.5, 0.7, 0.6]}
    )
    confusion = pd.DataFrame(
        {
            "model": "good",
            "true": ["happy", "happy", "sad"],
            "pred": ["happy", "sad", "sad"],
            "count": [8, 2, 5],
        }
    )
    evaluation = pd.DataFrame({"model": ["good", "good"], "domain": ["fer", "film"], "macro_f1": [0.6, 0.4]})
    return nodes.build_report(
        config,
        classes,
        model_metrics=model_metrics,
        claims=claims,
        data_quality=quality,
        study_summary_check=pd.DataFrame(),
        film_metrics=film_metrics,
        film_summary=summary,
        genre_separation=separation,
        genre_divergence=divergence,
        agreement=agreement,
        truth_metrics=truth_metrics,
        figures_shares=nodes.plot_shares_all_films(summary, classes, config),
        figures_genres=nodes.plot_shares_by_genre(summary, classes, config),
        figures_timelines=nodes.plot_timelines(table, films, truth_table, classes, config),
        figures_benchmark=nodes.plot_benchmark_difference(summary, classes, config),
        figures_confidence=nodes.plot_confidence(table, classes, config),
        figures_genre_separation=nodes.plot_genre_separation(separation, classes, config),
        figures_recall=nodes.plot_recall_by_run(training, config),
        figures_confusion=nodes.plot_confusion(confusion, config),
        figures_cross_domain=nodes.plot_cross_domain(evaluation, config),
    )


def check_page(browser, page: Path, shot: Path) -> None:  # type: ignore[no-untyped-def]
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html, "the page must not load anything from elsewhere"
    expected = len(re.findall(r"<img\b", html))
    seen = browser(page, shot)
    assert len(seen.images) == expected > 0
    broken = [img["alt"] for img in seen.images if not img["complete"] or img["naturalWidth"] <= 0]
    assert broken == [], f"images that did not load: {broken}"
    assert seen.errors == [], f"console errors: {seen.errors}"
    assert seen.overflow_px == 0, "the page is wider than the window"
    assert shot.stat().st_size > 10_000  # a real picture of the page, kept under test-artifacts/


def test_synthetic_report_renders_in_chromium(
    tmp_path: Path, browser, study_layout, movie_list, truth_table
) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "report.html"
    page.write_text(build_synthetic_report(study_layout, movie_list, truth_table), encoding="utf-8")
    check_page(browser, page, ARTIFACTS / "report_synthetic.png")


def test_broken_image_is_detected(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    """The browser check can fail: a corrupt embedded PNG and a script error are both seen."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"><title>t</title></head><body>'
        '<img alt="bad" src="data:image/png;base64,AAAA">'
        '<script>console.error("boom")</script></body></html>',
        encoding="utf-8",
    )
    seen = browser(page, tmp_path / "broken.png")
    assert [img["naturalWidth"] for img in seen.images] == [0]
    assert any("boom" in e for e in seen.errors)
