"""Figures render to real PNGs, the report page embeds them, and the report's datasets behave."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError
from PIL import Image

from expressions_ensemble.datasets.reporting_io import FigureFolderDataset, OptionalDataset
from expressions_ensemble.labels import STUDY_CLASSES
from expressions_ensemble.pipelines.reporting import nodes
from expressions_ensemble.reporting import figures
from expressions_ensemble.reporting.config import parse_config
from expressions_ensemble.reporting.films import match_films, normalise_movie_list
from expressions_ensemble.reporting.predictions import normalise_predictions
from expressions_ensemble.reporting.tables import film_summary
from expressions_ensemble.reporting.validity import genre_separation

CONFIG = parse_config({"bootstrap": {"n_resamples": 200}, "figures": {"dpi": 50}})


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    with Image.open(io.BytesIO(data)) as img:
        return img.size


@pytest.fixture(scope="module")
def inputs(study_layout, movie_list):  # type: ignore[no-untyped-def]
    normalised = normalise_predictions(study_layout)
    listed, _ = normalise_movie_list(movie_list)
    films, _ = match_films(normalised.films_seen, listed)
    summary = film_summary(normalised.table, films, STUDY_CLASSES)
    return normalised.table, films, summary


def test_figure_nodes_give_pngs(inputs, truth_table) -> None:  # type: ignore[no-untyped-def]
    table, films, summary = inputs
    separation, _ = genre_separation(summary, STUDY_CLASSES, CONFIG)
    groups = {
        "shares": nodes.plot_shares_all_films(summary, STUDY_CLASSES, CONFIG),
        "genres": nodes.plot_shares_by_genre(summary, STUDY_CLASSES, CONFIG),
        "timelines": nodes.plot_timelines(table, films, truth_table, STUDY_CLASSES, CONFIG),
        "benchmark": nodes.plot_benchmark_difference(summary, STUDY_CLASSES, CONFIG),
        "confidence": nodes.plot_confidence(table, STUDY_CLASSES, CONFIG),
        "separation": nodes.plot_genre_separation(separation, STUDY_CLASSES, CONFIG),
    }
    assert sorted(groups["genres"]) == [
        "shares_genre_Comedy.png",
        "shares_genre_Crime.png",
        "shares_genre_Horror.png",
    ]
    assert len(groups["timelines"]) == films["has_predictions"].sum()
    for group in groups.values():
        for name, data in group.items():
            width, height = png_size(data)
            assert name.endswith(".png") and width > 100 and height > 100


def test_timeline_subset_and_single_model(inputs) -> None:  # type: ignore[no-untyped-def]
    table, films, summary = inputs
    config = parse_config({"figures": {"timeline_films": ["crime_one", "not_a_film"], "dpi": 50}})
    assert list(nodes.plot_timelines(table, films, pd.DataFrame(), STUDY_CLASSES, config)) == [
        "timeline_crime_one.png"
    ]
    one_model = summary[summary["model"] == "good"]
    assert nodes.plot_benchmark_difference(one_model, STUDY_CLASSES, config) == {}


def test_evaluation_figures_where_given() -> None:
    assert nodes.plot_recall_by_run(None, CONFIG) == {}
    wide = pd.DataFrame({"run": ["r1", "r2"], "recall_happy": [0.9, 0.8], "recall_Anger": [0.4, 0.5]})
    png_size(nodes.plot_recall_by_run(wide, CONFIG)["recall_by_run.png"])
    confusion = pd.DataFrame(
        {
            "model": "m",
            "domain": ["fer", "fer", "film"],
            "true": ["happy", "sad", "sad"],
            "pred": ["happy", "happy", "sad"],
            "count": [5, 2, 3],
        }
    )
    assert sorted(nodes.plot_confusion(confusion, CONFIG)) == ["confusion_m_fer.png", "confusion_m_film.png"]
    evaluation = pd.DataFrame({"model": ["a", "b"], "domain": ["fer", "film"], "macro_f1": [0.7, 0.3]})
    png_size(nodes.plot_cross_domain(evaluation, CONFIG)["cross_domain_macro_f1.png"])
    with pytest.raises(ValueError, match=r"evaluation matrix: columns \['macro_f1'\] are missing"):
        figures.cross_domain_figure(evaluation.drop(columns=["macro_f1"]))


def test_report_embeds_every_figure_and_escapes_text(inputs) -> None:  # type: ignore[no-untyped-def]
    _table, _films, summary = inputs
    shares = nodes.plot_shares_all_films(summary, STUDY_CLASSES, CONFIG)
    empty = pd.DataFrame()
    claims = pd.DataFrame(
        {
            "claim": ["<script>alert(1)</script>"],
            "model": ["good"],
            "verdict": ["supported"],
            "evidence": ["x"],
            "rule": ["y"],
        }
    )
    quality = pd.DataFrame(
        {"model": ["good"], "check": ["exact_duplicate_rows"], "count": [3], "detail": ["d"]}
    )
    page = nodes.build_report(
        CONFIG,
        STUDY_CLASSES,
        model_metrics=pd.DataFrame({"model": ["good"], "n_faces": [10], "collapse": [0.5]}),
        claims=claims,
        data_quality=quality,
        study_summary_check=empty,
        film_metrics=empty,
        film_summary=summary,
        genre_separation=pd.DataFrame(columns=["genre_a", "genre_b"]),
        genre_divergence=pd.DataFrame(columns=["genre_a", "genre_b"]),
        agreement=empty,
        truth_metrics=empty,
        figures_shares=shares,
        figures_recall={},
    )
    assert "<script>" not in page and "&lt;script&gt;" in page
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == 1 and base64.b64decode(embedded[0]) == shares["shares_all_films.png"]
    assert "no training metrics given" in page and "exact_duplicate_rows" in page
    assert 'class="supported"' in page


def test_figure_folder_replaces_stale_figures(tmp_path: Path) -> None:
    folder = FigureFolderDataset(path=str(tmp_path / "figs"))
    assert dict(folder.load()) == {}
    folder.save({"a.png": b"1", "b.png": b"2"})
    (tmp_path / "figs" / "notes.txt").write_text("kept")
    folder.save({"b.png": b"3"})
    assert dict(folder.load()) == {"b.png": b"3"}
    assert (tmp_path / "figs" / "notes.txt").exists()
    with pytest.raises(DatasetError, match=r"plain '<name>\.png'"):
        folder.save({"../escape.png": b"x"})
    folder.save({})
    assert dict(folder.load()) == {}


def test_optional_dataset(tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    optional = OptionalDataset(dataset={"type": "pandas.CSVDataset", "filepath": str(path)})
    assert optional.load() is None and not optional.exists()
    optional.save(pd.DataFrame({"movie": ["a"], "emotion": ["sad"]}))
    assert optional.load().to_dict("records") == [{"movie": "a", "emotion": "sad"}]
    unset = OptionalDataset(dataset=None)
    assert unset.load() is None
    with pytest.raises(DatasetError, match="cannot save"):
        unset.save(pd.DataFrame())
