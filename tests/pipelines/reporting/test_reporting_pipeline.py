"""The reporting pipeline with the project's own conf: base env on film partitions, study env on real data.

Both run in a throw-away copy of the project, so ``data/`` is never touched: the base env with the
project's config loader and a runner (no other pipeline involved), the study env through the CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from expressions_ensemble import settings
from expressions_ensemble.pipelines.reporting import create_pipeline
from reporting_support import ARTIFACTS
from support import run_kedro

OPTIONAL_INPUTS = {
    "reporting.movie_list",
    "reporting.ground_truth",
    "reporting.study_summary",
    "reporting.training_metrics",
    "reporting.confusion",
    "reporting.evaluation_matrix",
    "reporting.film_status",
}


def run_reporting(project: Path, env: str | None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the pipeline in ``project`` (relative paths resolve there); returns its 08_reporting folder."""
    monkeypatch.chdir(project)
    loader = OmegaConfigLoader(conf_source=str(project / "conf"), env=env, **settings.CONFIG_LOADER_ARGS)
    catalog = DataCatalog.from_config(loader["catalog"])
    catalog["params:reporting"] = loader["parameters"]["reporting"]
    SequentialRunner().run(create_pipeline(), catalog)
    return project / "data" / "08_reporting"


def test_pipeline_shape() -> None:
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"params:reporting", "reporting.predictions", *OPTIONAL_INPUTS}
    names = {n.name for n in pipeline.nodes}
    assert {"reporting.normalise_predictions", "reporting.build_report", "reporting.plot_timelines"} <= names
    assert all(n.namespace == "reporting" for n in pipeline.nodes)
    assert pipeline.outputs() == {"reporting.report_html", "reporting.film_summary_tidy"}


def test_every_persisted_output_is_in_the_catalog() -> None:
    root = Path(__file__).resolve().parents[3]
    loader = OmegaConfigLoader(conf_source=str(root / "conf"), **settings.CONFIG_LOADER_ARGS)
    catalog = DataCatalog.from_config(loader["catalog"])
    persisted = {
        "reporting.report_html",
        "reporting.model_metrics",
        "reporting.claims",
        "reporting.data_quality",
        "reporting.film_summary",
        "reporting.genre_separation",
        "reporting.figures_timelines",
        "reporting.films",
    }
    for name in persisted | OPTIONAL_INPUTS | {"reporting.predictions"}:
        assert type(catalog.get(name)).__name__ != "MemoryDataset", name
    params = loader["parameters"]["reporting"]
    assert {c["kind"] for c in params["claims"]} == {"collapse", "highest_entropy", "genre_difference"}


def test_base_env_on_film_partitions(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch, movie_eval_layout, movie_list, truth_table
) -> None:  # type: ignore[no-untyped-def]
    films_dir = project_copy / "data" / "07_model_output" / "film_predictions"
    films_dir.mkdir(parents=True)
    for movie, part in movie_eval_layout.items():
        part.to_parquet(films_dir / f"{movie}.parquet")
    empty = next(iter(movie_eval_layout.values())).iloc[:0]
    empty.to_parquet(films_dir / "film_without_faces.parquet")
    # a partition of an earlier run's film, not in today's list: skipped, never reported
    old = next(iter(movie_eval_layout.values())).assign(movie="old_run_film")
    old.to_parquet(films_dir / "old_run_film.parquet")
    raw = project_copy / "data" / "01_raw" / "films"
    raw.mkdir(parents=True)
    listed = [*movie_list, {"file_name": "film_without_faces", "title": "No faces", "category": "Drama"}]
    (raw / "movie_list.json").write_text(json.dumps(listed))
    truth_table.to_csv(raw / "ground_truth.csv", index=False)
    stale = project_copy / "data" / "08_reporting" / "figures" / "timelines"
    stale.mkdir(parents=True)
    (stale / "timeline_old_film.png").write_bytes(b"stale")

    out = run_reporting(project_copy, None, monkeypatch)

    quality = pd.read_csv(out / "data_quality.csv")
    assert (
        quality.loc[quality["check"] == "film_without_faces", "detail"]
        .str.contains("film_without_faces")
        .any()
    )
    summary = pd.read_parquet(out / "movie_emotion_summary.parquet")
    without = summary.loc[summary["movie"] == "film_without_faces"]
    assert len(without) > 0 and (without["total_faces"] == 0).all()
    assert set(summary["movie"]) == {r["file_name"].removesuffix(".mp4") for r in listed}
    skipped = quality.loc[quality["check"] == "movie_not_in_list"]
    assert skipped["count"].sum() == 1 and skipped["detail"].str.contains("old_run_film").all()
    assert set(pd.read_csv(out / "films.csv")["movie"]) == set(summary["movie"])
    truth = pd.read_csv(out / "truth_metrics.csv").set_index("model")
    assert truth.loc["good", "accuracy"] > truth.loc["angry_bias", "accuracy"]
    claims = pd.read_csv(out / "claims.csv")
    assert (claims.loc[claims["model"].isin(["exe", "lab"]), "verdict"] == "not evaluated").all()  # absent
    timelines = sorted(p.name for p in (out / "figures" / "timelines").glob("*.png"))
    assert timelines == sorted(f"timeline_{m}.png" for m in movie_eval_layout)  # stale figure gone
    page = (out / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<img\b", page)) >= len(timelines) + 5


@pytest.mark.slow
@pytest.mark.shared_data
def test_study_env_on_real_predictions(project_copy: Path, shared_data: Path, browser) -> None:  # type: ignore[no-untyped-def]
    """``kedro run --pipelines reporting --env study`` as a user types it, in a copy of the project."""
    (project_copy.parent / "shared").mkdir()
    (project_copy.parent / "shared" / "data").symlink_to(shared_data)
    run = run_kedro(project_copy, "run", "--pipelines", "reporting", "--env", "study")
    assert "Pipeline execution completed successfully" in run.stdout + run.stderr
    out = project_copy / "data" / "08_reporting"

    source = shared_data / "movie_predictions"
    metrics = pd.read_csv(out / "validity_metrics.csv").set_index("model")
    quality = pd.read_csv(out / "data_quality.csv")
    check = pd.read_csv(out / "study_summary_check.csv").set_index("model")
    claims = pd.read_csv(out / "claims.csv")
    for model in ("ExE", "FER", "RAFDB"):
        raw = pd.read_parquet(source / model / "all_movies.parquet")
        unique = raw.drop_duplicates()
        shares = unique["emotion"].value_counts(normalize=True)
        assert metrics.loc[model, "n_faces"] == len(unique)
        for emotion, share in shares.items():
            assert metrics.loc[model, f"share_{emotion}"] == pytest.approx(share)
        dup = quality[(quality["model"] == model) & (quality["check"] == "exact_duplicate_rows")][
            "count"
        ].sum()
        assert dup == raw.duplicated().sum()
        theirs = pd.read_parquet(source / model / "movie_emotion_summary.parquet")
        assert check.loc[model, "faces_study"] == theirs["total_frames"].sum()
        ours = unique.groupby("movie").size()
        same = (theirs.set_index("movie")["total_frames"] == ours.reindex(theirs["movie"])).all()
        assert check.loc[model, "finding"].startswith("same numbers") == bool(same)
        collapse_claims = claims[(claims["model"] == model) & claims["claim"].str.contains("collapses")]
        for row in collapse_claims.itertuples():
            named = set(re.findall(r"onto (\w+) and (\w+)", row.claim)[0])
            top = set(shares.index[:2])
            expected = "supported" if top == named and shares.iloc[:2].sum() >= 0.5 else "not supported"
            assert row.verdict == expected
    films = json.loads((source / "movie_list.json").read_text())
    assert metrics["n_films"].eq(len(films)).all()

    page = out / "report.html"
    shot = ARTIFACTS / "report_study.png"
    html = page.read_text(encoding="utf-8")
    expected_images = len(re.findall(r"<img\b", html))
    assert expected_images >= len(films) + 5  # a timeline per film, and the other figures
    seen = browser(page, shot)
    assert len(seen.images) == expected_images
    assert [i["alt"] for i in seen.images if i["naturalWidth"] <= 0] == []
    assert seen.errors == []
    assert seen.overflow_px == 0
