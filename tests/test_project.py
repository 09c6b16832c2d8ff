"""The project as a user meets it: the CLI, conf environments, kedro viz and telemetry."""

import json

import pandas as pd
import pytest
from kedro_telemetry.plugin import _check_for_telemetry_consent

from support import REPO_ROOT, run_kedro

SMALL = (
    "ingestion.sources.sim_v1.per_page=8,ingestion.sources.sim_v1.max_pages=1,"
    "ingestion.sources.sim_v2.per_page=3,ingestion.sources.sim_v2.max_pages=1,face_extraction.workers=2,"
    "training.epochs=2,training.input_size=64,baselines.datasets.lab.per_class=12"
)


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
    manifest = pd.read_parquet(data / "02_intermediate" / "sim_v2" / "photo_manifest.parquet")
    assert len(manifest) == 7 * 3 * 3  # 21 v2 keywords x 3 hits, every hit accounted for
    assert set(manifest["outcome"]) <= {"kept", "duplicate"}
    faces = pd.read_parquet(data / "03_primary" / "sim_v2" / "faces_manifest.parquet")
    assert len(faces) == (manifest["outcome"] == "kept").sum()
    crops = list((data / "03_primary" / "sim_v2" / "face_crops").rglob("*.jpg"))
    assert len(crops) == faces["kept"].sum() > 0.8 * len(faces)
    counts = pd.read_csv(data / "08_reporting" / "face_counts.csv")
    assert set(counts["source"]) == {"sim_v1", "sim_v2"}
    assert counts.query("label == 'all'")["faces"].sum() == len(crops) + faces.shape[0] * 0 + len(
        list((data / "03_primary" / "sim_v1" / "face_crops").rglob("*.jpg"))
    )

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
    for source in ("sim_v1", "sim_v2", "lab"):
        assert len(client.get_metric_history(run.info.run_id, f"{source}.val_macro_f1")) == 2
        assert {f"{source}.val.recall.{c}" for c in ("angry", "happy")} <= set(run.data.metrics)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, source)}
        assert {f"{source}/model.eemodel", f"{source}/confusion_matrix.png"} <= artifacts
        model = load_artifact(project / "data" / "06_models" / source / "model.eemodel")
        assert model.classes == ("angry", "fear", "happy", "sad", "surprise")


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
    assert {"__default__", "ingestion", "face_extraction", "training", "baselines"} <= {
        p["id"] for p in main["pipelines"]
    }
    assert {"sim_v1", "sim_v2", "lab"} <= set(main["modular_pipelines"])
    node_names = {n["name"] for n in main["nodes"]}
    assert {"sim_v1.photo_manifest", "sim_v2.face_crops", "face_counts_all"} <= node_names
