"""The project as a user meets it: the CLI, conf environments, kedro viz and telemetry."""

import json

import pandas as pd
import pytest
from kedro_telemetry.plugin import _check_for_telemetry_consent

from support import REPO_ROOT, run_kedro

SOURCES = ("sim_v1", "sim_v2", "simb_v1", "simb_v2")
SMALL = (
    "ingestion.sources.sim_v1.per_page=8,ingestion.sources.sim_v1.max_pages=1,"
    "ingestion.sources.sim_v2.per_page=3,ingestion.sources.sim_v2.max_pages=1,"
    "ingestion.sources.simb_v1.per_page=8,ingestion.sources.simb_v1.max_pages=1,"
    "ingestion.sources.simb_v2.per_page=3,ingestion.sources.simb_v2.max_pages=1,face_extraction.workers=2,"
    "training.epochs=2,training.input_size=64,baselines.datasets.lab.per_class=12"
)
ENSEMBLES = ("exe", "exe_weighted", "exe_vote", "exe_calibrated")


def test_telemetry_is_opted_out_in_the_project():
    assert _check_for_telemetry_consent(REPO_ROOT) is False


def test_find_pipelines_registers_the_pipelines():
    from kedro.framework.project import configure_project, pipelines

    configure_project("expressions_ensemble")
    assert {"ingestion", "face_extraction", "__default__"} <= set(pipelines)
    names = {n.name for n in pipelines["__default__"].nodes}
    assert {"sim_v1.fetch_photos", "sim_v2.extract_faces", "combine_face_counts"} <= names


@pytest.mark.slow
def test_default_run_then_rerun_fetches_nothing(project_copy):
    first = run_kedro(project_copy, "run", "--params", SMALL)
    assert "Pipeline execution completed successfully" in first.stdout + first.stderr
    data = project_copy / "data"
    _check_training_tracked(project_copy)
    _check_ensembles_and_matrix(project_copy)
    _check_films_and_report(project_copy)
    manifest = pd.read_parquet(data / "02_intermediate" / "sim_v2" / "photo_manifest.parquet")
    assert len(manifest) == 7 * 3 * 3  # 21 v2 keywords x 3 hits, every hit accounted for
    assert set(manifest["outcome"]) <= {"kept", "duplicate"}
    faces = pd.read_parquet(data / "03_primary" / "sim_v2" / "faces_manifest.parquet")
    assert len(faces) == (manifest["outcome"] == "kept").sum()
    crops = list((data / "03_primary" / "sim_v2" / "face_crops").rglob("*.jpg"))
    assert len(crops) == faces["kept"].sum() > 0.8 * len(faces)
    counts = pd.read_csv(data / "08_reporting" / "face_counts.csv")
    assert set(counts["source"]) == set(SOURCES)
    all_crops = sum(len(list((data / "03_primary" / s / "face_crops").rglob("*.jpg"))) for s in SOURCES)
    assert counts.query("label == 'all'")["faces"].sum() == all_crops

    second = run_kedro(project_copy, "run", "--pipelines", "ingestion", "--params", SMALL)
    log = second.stdout + second.stderr
    assert "sim_v2: 63 hits, 0 photos fetched" in log, log[-3000:]
    again = pd.read_parquet(data / "02_intermediate" / "sim_v2" / "photo_manifest.parquet")
    pd.testing.assert_frame_equal(manifest, again)


def _check_training_tracked(project) -> None:
    """Each source's model, history, confusion matrix and metrics are in the run's local MLflow store."""
    from mlflow import MlflowClient

    from expressions_ensemble.models import load_artifact

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("expressions_ensemble")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["training.epochs"] == "2"
    evaluation = json.loads((project / "data" / "07_model_output" / "lab" / "evaluation.json").read_text())
    assert evaluation["split"] == "test" and evaluation["n_images"] == 5 * 2  # 20% of 12 per class, rounded
    for source in (*SOURCES, "lab"):
        assert len(client.get_metric_history(run.info.run_id, f"{source}.val_macro_f1")) == 2
        assert {f"{source}.val.recall.{c}" for c in ("angry", "happy")} <= set(run.data.metrics)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, source)}
        assert {f"{source}/model.eemodel", f"{source}/confusion_matrix.png"} <= artifacts
        model = load_artifact(project / "data" / "06_models" / source / "model.eemodel")
        assert model.classes == ("angry", "fear", "happy", "sad", "surprise")


def _check_ensembles_and_matrix(project) -> None:
    """The four ensembles load with the one call; every model is scored on every test set."""
    from expressions_ensemble.models import load_artifact
    from expressions_ensemble.models.ensemble import EnsembleModel

    data = project / "data"
    for name in ENSEMBLES:
        ensemble = load_artifact(data / "06_models" / name / "model.eemodel")
        assert isinstance(ensemble, EnsembleModel) and list(ensemble.members) == list(SOURCES)
    # a member inside the ensemble file has the same weights checksum as its own file, so scoring the
    # ensemble with its members (the film evaluation) runs each member once
    member = load_artifact(data / "06_models" / "sim_v1" / "model.eemodel")
    assert ensemble.members["sim_v1"].weights_digest == member.weights_digest
    calibration = pd.read_csv(data / "07_model_output" / "exe_calibrated" / "calibration.csv")
    assert list(calibration["member"]) == list(SOURCES) and (calibration["temperature"] > 0).all()
    matrix = pd.read_csv(data / "07_model_output" / "evaluation_matrix.csv")
    models = {*SOURCES, *ENSEMBLES, "lab"}
    assert set(matrix["model"]) == models and set(matrix["domain"]) == {*SOURCES, "lab"}
    assert len(matrix) == len(models) * 5 and matrix["macro_f1"].between(0, 1).all()
    assert set(matrix.loc[matrix["domain"] == "lab", "domain_kind"]) == {"dataset_test"}
    best = pd.read_csv(data / "08_reporting" / "evaluation_best.csv")
    assert sorted(best["domain"]) == sorted({*SOURCES, "lab"}) and set(best["best_model"]) <= models
    assert (data / "08_reporting" / "evaluation_macro_f1.png").stat().st_size > 1000
    confusion = pd.read_csv(data / "07_model_output" / "confusion.csv")
    scored = confusion.groupby(["model", "domain"])["count"].sum()
    assert scored.to_dict() == matrix.set_index(["model", "domain"])["n_scored"].to_dict()


def _check_films_and_report(project) -> None:
    """The simulator's films are evaluated by every model; the report reads them with their truth."""
    data = project / "data"
    status = pd.read_csv(data / "07_model_output" / "film_status.csv")
    films = {"sim_comedy", "sim_comedy_2", "sim_crime", "sim_crime_2", "sim_drama"}
    assert set(status["movie"]) == films
    assert set(status["outcome"]) == {"ok"} and (status["frames_sampled"] > 0).all()
    comedy = pd.read_parquet(data / "07_model_output" / "film_predictions" / "sim_comedy.parquet")
    assert len(comedy) == status.set_index("movie").at["sim_comedy", "faces"] > 0
    assert {f"{m}__emotion" for m in (*SOURCES, *ENSEMBLES, "lab")} <= set(comedy.columns)
    truth = pd.read_csv(data / "01_raw" / "films" / "ground_truth.csv")
    assert set(truth["movie"]) == set(status["movie"])
    # the default run ends with the report, on this run's films
    html = data / "08_reporting" / "report.html"
    assert html.stat().st_size > 10_000
    assert html.stat().st_mtime >= (data / "07_model_output" / "film_status.csv").stat().st_mtime
    truth_metrics = pd.read_csv(data / "08_reporting" / "truth_metrics.csv")
    assert set(truth_metrics["model"]) >= {"exe", "lab"}
    runs = pd.read_csv(data / "07_model_output" / "training_runs.csv").set_index("run")
    assert set(runs.index) == {*SOURCES, "lab"} and (runs["epochs"] == 2).all()
    assert runs.loc["lab", "scored_split"] == "test" and runs["recall_happy"].between(0, 1).all()
    assert list((data / "08_reporting" / "figures" / "recall").glob("*.png"))
    claims = pd.read_csv(data / "08_reporting" / "claims.csv")
    assert {"exe", "lab"} <= set(claims["model"]), claims
    assert not claims["verdict"].str.contains("not evaluated").any(), claims
    report = run_kedro(project, "run", "--pipelines", "reporting")
    assert "Pipeline execution completed successfully" in report.stdout + report.stderr


@pytest.mark.slow
def test_conf_env_chooses_the_source_namespaces(project_copy):
    """A conf env adds a folder source and disables the simulator: the namespaces follow the env."""
    photos = project_copy / "my_photos"
    for label in ("happiness", "sadness"):
        (photos / label).mkdir(parents=True)
        (photos / label / "x.jpg").write_bytes(b"not really a jpeg")
    env = project_copy / "conf" / "mine"
    env.mkdir()
    (env / "parameters_ingestion.yml").write_text(
        "ingestion:\n  sources:\n    sim_v1: {enabled: false}\n    sim_v2: {enabled: false}\n"
        "    simb_v1: {enabled: false}\n    simb_v2: {enabled: false}\n"
        f"    my_photos: {{kind: folder, path: {photos}}}\n"
    )
    run_kedro(project_copy, "run", "--env", "mine", "--pipelines", "ingestion")
    manifest = pd.read_parquet(
        project_copy / "data" / "02_intermediate" / "my_photos" / "photo_manifest.parquet"
    )
    assert manifest["outcome"].tolist() == ["not_an_image", "not_an_image"]
    assert not (project_copy / "data" / "02_intermediate" / "sim_v1").exists()
    # registry commands build pipelines without a session: the env comes from KEDRO_ENV
    listed = run_kedro(project_copy, "registry", "describe", "ingestion", env={"KEDRO_ENV": "mine"})
    assert "my_photos.fetch_photos" in listed.stdout


@pytest.mark.slow
def test_kedro_viz_build_shows_the_pipelines(project_copy):
    run_kedro(project_copy, "viz", "build")
    main = json.loads((project_copy / "build" / "api" / "main").read_text())
    assert {
        "__default__",
        "ingestion",
        "face_extraction",
        "training",
        "baselines",
        "ensemble",
        "movie_eval",
    } <= {p["id"] for p in main["pipelines"]}
    assert {"sim_v1", "sim_v2", "lab"} <= set(main["modular_pipelines"])
    node_names = {n["name"] for n in main["nodes"]}
    assert {"sim_v1.photo_manifest", "sim_v2.face_crops", "face_counts_all"} <= node_names
