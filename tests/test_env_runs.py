"""Every conf environment's pipelines RUN end to end on tiny fixtures, so a broken env is caught.

``tests/test_conf_envs.py`` builds each env's pipelines; this module runs ``kedro run --env E`` in a
copy of the project. The envs are found by listing ``conf/``, and each needs a tiny recipe here
(:data:`RECIPES`): a new env without one fails :func:`test_every_env_has_a_tiny_recipe`.

The envs read their real data at ``../shared/data`` beside the project root: in the copy that is
``tmp_path/shared/data`` (``conf/web`` names it in its globals, which the copy points at another
folder, so a path that ignores them is caught). There each recipe puts a few files copied from the
real data: a handful of photos per class and source, a small FER2013 sample in its published layout,
a few muxspace photos with their labels, one short MEAD clip with its truth, a few films of the
study's predictions. The stock-photo envs search the loopback fakes of ``tests/sources/fake_apis.py``.
Training is one epoch at 32 px; what else each env leaves out to stay quick is said where it is set.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sources.fake_apis import CATALOGUE, KEY_PEXELS, KEY_PIXABAY, FakeApis, assert_no_secret
from support import conf_envs, run_kedro

ENVS = conf_envs()

#: Every env trains one epoch at 32 px, on one thread and in one process per stage: on a machine
#: with two busy cores, torch's second thread makes a step several times slower.
TINY: dict[str, Any] = {
    "training": {"epochs": 1, "input_size": 32, "batch_size": 16, "patience": 1, "threads": 1},
    "face_extraction": {"workers": 1},
    "movie_eval": {"workers": 1},
}
#: The base env's lab baseline, small.
TINY_LAB: dict[str, Any] = {"baselines": {"datasets": {"lab": {"per_class": 12}}}}
#: The envs that inherit base's simulated films score the short clip instead: rendering the films
#: costs about 20 s here (tests/test_project.py's default run renders and scores them).
CLIP_INSTEAD: dict[str, Any] = {"movie_eval": {"simulated_films": {"enabled": False}}}
#: The study's five classes plus the two it dropped (the FER2013 sample keeps all seven).
FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
STUDY_CLASSES = ("angry", "fear", "happy", "sad", "surprise")
ENSEMBLES = ("exe", "exe_weighted", "exe_vote", "exe_calibrated")
#: One short real clip (25 fps, about 4 s, one face), named as in the real movie list.
CLIP = "mead/W009_front_happy_level3_001"
#: --env web runs two of its six web searches (each model is loaded by every scoring node, so each
#: source costs seconds per test set): Bing's, whose neutral photos are dropped, and one whose
#: folders say "fearful" and "surpirse". Each trains on the study's classes its words name.
WEB_SEARCHES = {"bing_multi": ("angry", "happy", "sad"), "google_b": STUDY_CLASSES}
#: The stock-photo envs build only the study's ensemble exe of base's four (every ensemble is loaded
#: again by every scoring node); --env web builds all four, over members of different classes.
EXE_ONLY: dict[str, Any] = {"ensemble": {"ensembles": {name: {"enabled": False} for name in ENSEMBLES[1:]}}}
#: The stock-photo envs search two emotions only: their v1 and v2 keywords, as the fakes know them.
SEARCHED = {"angry": "angry", "happy": "happy"}


@dataclass(frozen=True)
class Setup:
    """Where a recipe writes: the project copy, its tiny ``../shared/data``; what it reads from."""

    project: Path
    tiny: Path
    real: Path
    apis: FakeApis

    @property
    def data(self) -> Path:
        return self.project / "data"


@dataclass(frozen=True)
class Recipe:
    """An env's tiny run: ``prepare`` writes its fixtures and returns the ``kedro run`` arguments
    after ``--env E``; ``check`` then asserts its main outputs (and may read the run's output);
    ``env`` adds environment variables."""

    prepare: Callable[[Setup], list[str]]
    check: Callable[[Setup, str], None]
    env: Callable[[Setup], dict[str, str]] = lambda setup: {}


# --- fixtures: a few real files in the real layout ---------------------------------------------------


def _copy_first(source: Path, dest: Path, n: int) -> None:
    """The first ``n`` files of ``source`` (sorted, so every run trains on the same ones) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.iterdir() if p.is_file())[:n]
    for f in files:
        shutil.copy2(f, dest / f.name)


def _fer2013(setup: Setup, n_train: int = 10, n_test: int = 4) -> None:
    """A FER2013 sample in the published folders: ``train/<class>``, ``test/<class>``."""
    for split, n in (("train", n_train), ("test", n_test)):
        for label in FER_CLASSES:
            _copy_first(setup.real / "fer2013" / split / label, setup.tiny / "fer2013" / split / label, n)


def _muxspace(setup: Setup, per_label: int = 8) -> None:
    """A few muxspace photos of each label (rare ones as they come) with their rows of ``labels.csv``."""
    labels = pd.read_csv(setup.real / "muxspace" / "labels.csv")
    picked = labels.sort_values("image").groupby("emotion").head(per_label)
    folder = setup.tiny / "muxspace" / "images"
    folder.mkdir(parents=True)
    for name in picked["image"]:
        shutil.copy2(setup.real / "muxspace" / "images" / name, folder / name)
    picked.to_csv(setup.tiny / "muxspace" / "labels.csv", index=False)


def _web_search(setup: Setup, search: str, per_word: int = 8) -> None:
    """The first photos of every search word of one web search (folder and file names as published)."""
    for word in sorted(p for p in (setup.real / "web_search" / search).iterdir() if p.is_dir()):
        _copy_first(word, setup.tiny / "web_search" / search / word.name, per_word)


def _clip(films_dir: Path, movie_list: Path, real: Path) -> pd.DataFrame:
    """One short MEAD clip in ``films_dir`` (its sub-folder kept) and a movie list naming it; its truth."""
    (films_dir / "mead").mkdir(parents=True, exist_ok=True)
    shutil.copy2(real / "videos" / f"{CLIP}.mp4", films_dir / f"{CLIP}.mp4")
    films = json.loads((real / "videos" / "movie_list.json").read_text())
    listed = [f for f in films if f["file_name"] == CLIP]
    assert len(listed) == 1, f"{CLIP} is not in the real movie list"
    movie_list.parent.mkdir(parents=True, exist_ok=True)
    movie_list.write_text(json.dumps(listed, indent=1))
    truth = pd.read_csv(real / "videos" / "truth.csv")
    return truth[truth["movie"] == Path(CLIP).name]


def _project_clip(setup: Setup) -> None:
    """The clip where conf/base/globals.yml (and conf/paper's) name the films: data/01_raw/films."""
    films = setup.data / "01_raw" / "films"
    _clip(films / "videos", films / "movie_list.json", setup.real)


def _study_predictions(setup: Setup, per_genre: int = 2) -> None:
    """The study's predictions and summaries of a few Comedy and Crime films, and their movie list."""
    source, dest = setup.real / "movie_predictions", setup.tiny / "movie_predictions"
    films = json.loads((source / "movie_list.json").read_text())
    by_genre = {
        genre: [f for f in films if f["category"] == genre][:per_genre] for genre in ("Comedy", "Crime")
    }
    kept = [f for chosen in by_genre.values() for f in chosen]
    names = [f["file_name"] for f in kept]
    for model in sorted(p.name for p in source.iterdir() if p.is_dir()):
        (dest / model).mkdir(parents=True)
        for table in ("all_movies", "movie_emotion_summary"):
            frame = pd.read_parquet(source / model / f"{table}.parquet")
            frame[frame["movie"].isin(names)].to_parquet(dest / model / f"{table}.parquet", index=False)
    (dest / "movie_list.json").write_text(json.dumps(kept, indent=1))


# --- parameters ---------------------------------------------------------------------------------------


def _merge(*trees: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tree in trees:
        for key, value in tree.items():
            both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
            out[key] = _merge(out[key], value) if both else value
    return out


def _params(*trees: Mapping[str, Any]) -> list[str]:
    """``--params`` of nested parameter trees, as dotted ``key=value`` items (deep-merged by Kedro)."""

    def flat(tree: Mapping[str, Any], prefix: str) -> Iterator[str]:
        for key, value in tree.items():
            if isinstance(value, Mapping) and value:
                yield from flat(value, f"{prefix}{key}.")
            else:
                text = json.dumps(value) if isinstance(value, list | bool) else str(value)
                assert "," not in text, f"{prefix}{key}: a --params value cannot hold a comma: {text}"
                yield f"{prefix}{key}={text}"

    return ["--params", ",".join(flat(_merge(*trees), ""))]


def _searched_keywords() -> dict[str, Any]:
    """Both keyword variants narrowed to :data:`SEARCHED` (the other emotions get no keyword)."""
    keywords = {emotion: [SEARCHED[emotion]] if emotion in SEARCHED else [] for emotion in FER_CLASSES}
    return {"ingestion": {"keyword_variants": {"v1": {"keywords": keywords}, "v2": {"keywords": keywords}}}}


def _search_sources(setup: Setup, sources: Mapping[str, str], **settings: Any) -> dict[str, Any]:
    """Each source (name -> the fake's path) at the fake, three pages of ten, no politeness pause."""
    base = {"per_page": 10, "max_pages": 3, "http": {"min_interval": 0, "max_retries": 1}, **settings}
    entries = {name: {**base, "base_url": f"{setup.apis.url}{path}"} for name, path in sources.items()}
    return {"ingestion": {"sources": entries}}


# --- checks -------------------------------------------------------------------------------------------


def _manifest(setup: Setup, source: str) -> pd.DataFrame:
    return pd.read_parquet(setup.data / "02_intermediate" / source / "photo_manifest.parquet")


def _check_models(setup: Setup, trained: Mapping[str, tuple[str, ...]], ensembles: tuple[str, ...]) -> None:
    """Each trained model (name -> its classes) and each ensemble is an artifact that loads."""
    from expressions_ensemble.models import load_artifact
    from expressions_ensemble.models.ensemble import EnsembleModel

    models = setup.data / "06_models"
    for name, classes in trained.items():
        assert load_artifact(models / name / "model.eemodel").classes == classes, name
    for name in ensembles:
        assert isinstance(load_artifact(models / name / "model.eemodel"), EnsembleModel), name
    runs = pd.read_csv(setup.data / "07_model_output" / "training_runs.csv")
    assert set(runs["run"]) == set(trained) and (runs["epochs"] == 1).all()


def _check_matrix(setup: Setup, models: set[str], domains: set[str]) -> pd.DataFrame:
    """The evaluation matrix scores every model of the env on every test set, with sensible numbers."""
    matrix = pd.read_csv(setup.data / "07_model_output" / "evaluation_matrix.csv")
    assert set(matrix["model"]) == models and set(matrix["domain"]) == domains, matrix[["model", "domain"]]
    assert len(matrix) == len(models) * len(domains)
    assert matrix["macro_f1"].between(0, 1).all() and (matrix["n_scored"] > 0).all()
    return matrix


def _check_films(setup: Setup, films: set[str], models: set[str]) -> None:
    """Every film was read to its end with faces found, scored by every model of the env."""
    status = pd.read_csv(setup.data / "07_model_output" / "film_status.csv")
    assert set(status["movie"]) == films and set(status["outcome"]) == {"ok"}, status
    assert (status["frames_sampled"] > 0).all() and (status["faces"] > 0).all()
    for movie in films:
        faces = pd.read_parquet(setup.data / "07_model_output" / "film_predictions" / f"{movie}.parquet")
        assert len(faces) == status.set_index("movie").at[movie, "faces"]
        assert {f"{m}__emotion" for m in models} <= set(faces.columns)


def _claim_texts(setup: Setup, env: str) -> set[str]:
    """The texts of the claims ``conf/<env>`` makes (the report has a row per claim, or per model)."""
    conf = yaml.safe_load((setup.project / "conf" / env / "parameters_reporting.yml").read_text())
    return {claim["text"] for claim in conf["reporting"]["claims"]}


def _check_report(setup: Setup, models: set[str]) -> pd.DataFrame:
    """The report exists and its validity table has a row per model; the claims, for checking further."""
    out = setup.data / "08_reporting"
    assert (out / "report.html").stat().st_size > 10_000
    metrics = pd.read_csv(out / "validity_metrics.csv")
    assert set(metrics["model"]) == models
    return pd.read_csv(out / "claims.csv")


# --- the recipes --------------------------------------------------------------------------------------


def _prepare_fer_halves(setup: Setup) -> list[str]:
    _fer2013(setup)
    _muxspace(setup, per_label=4)
    _project_clip(setup)
    return _params(TINY, CLIP_INSTEAD)


def _check_detected_fer2013(setup: Setup, *models: str) -> None:
    """FER2013's images went through the films' detector (``framing: {detect: true, margin: 0.0}``):
    every image of the split has its face box or the outcome that says why not, and the models crop
    films at that margin on the detector's boxes."""
    from expressions_ensemble.models import load_artifact

    split = pd.read_parquet(setup.data / "05_model_input" / "fer2013" / "training_split.parquet")
    used = split[split["split"].notna()]
    assert len(used) and used["face_w"].notna().all() and (used["outcome"] == "ok").all()
    assert split.loc[split["face_w"].isna() & (split["outcome"] == "ok"), "split"].isna().all()
    for name in models:
        crop = load_artifact(setup.data / "06_models" / name / "model.eemodel").spec.crop
        assert (crop.detector, crop.margin, crop.face_policy) == ("mediapipe", 0.0, "largest"), name


def _check_fer_halves(setup: Setup, log: str) -> None:
    trained = {n: STUDY_CLASSES for n in ("fer2013", "fer2013_bag1", "fer2013_bag2")}
    ensembles = ("fer_halves", "fer_halves_calibrated")
    _check_models(setup, trained, ensembles)
    _check_detected_fer2013(setup, *trained)
    models = {*trained, *ensembles}
    _check_matrix(setup, models, {"fer2013", "muxspace"})
    _check_films(setup, {Path(CLIP).name}, models)
    _check_report(setup, models)


def _prepare_muxspace(setup: Setup) -> list[str]:
    _muxspace(setup)
    _project_clip(setup)
    return _params(TINY, TINY_LAB, CLIP_INSTEAD)


def _check_muxspace(setup: Setup, log: str) -> None:
    manifest = _manifest(setup, "muxspace")
    assert len(manifest) == len(pd.read_csv(setup.tiny / "muxspace" / "labels.csv"))
    assert {"kept", "unknown_label"} <= set(manifest["outcome"])  # contempt is no emotion of the label map
    trained = {"muxspace": STUDY_CLASSES, "lab": STUDY_CLASSES}
    _check_models(setup, trained, ())  # one weak-label source: no ensemble
    _check_matrix(setup, set(trained), {"muxspace", "lab"})
    _check_films(setup, {Path(CLIP).name}, set(trained))
    _check_report(setup, set(trained))


OPENVERSE = {"openverse_v1": "/openverse/v1", "openverse_v2": "/openverse/v1"}


def _prepare_openverse(setup: Setup) -> list[str]:
    _project_clip(setup)
    sources = _search_sources(setup, OPENVERSE, per_page=20)
    return _params(TINY, TINY_LAB, CLIP_INSTEAD, EXE_ONLY, _searched_keywords(), sources)


def _check_search_manifests(setup: Setup, sources: Mapping[str, str]) -> None:
    """Every hit of the fake's answers is in the manifest: kept, or a duplicate of a photo found by
    another keyword before; each photo credits the service it came from."""
    for name in sources:
        manifest = _manifest(setup, name)
        template = "{} face" if name.endswith("_v1") else "{}"  # the v1 and v2 keyword variants
        found = [i for word in SEARCHED.values() for i in CATALOGUE[template.format(word)]]
        expected = {"kept": len(set(found)), "duplicate": len(found) - len(set(found))}
        assert manifest["outcome"].value_counts().to_dict() == {k: n for k, n in expected.items() if n}, name
        assert set(manifest.loc[manifest["outcome"] == "kept", "label"]) == set(SEARCHED), name
        service = {"pexels": "Pexels", "pixabay": "Pixabay", "openverse": "licensed under CC"}
        assert manifest["attribution"].str.contains(service[name.split("_")[0]]).all(), name


def _check_openverse(setup: Setup, log: str) -> None:
    _check_search_manifests(setup, OPENVERSE)
    assert _manifest(setup, "openverse_v1")["license"].str.startswith("CC ").all()
    searched = tuple(c for c in STUDY_CLASSES if c in SEARCHED)
    trained = {"openverse_v1": searched, "openverse_v2": searched, "lab": STUDY_CLASSES}
    _check_models(setup, trained, ("exe",))
    models = {*trained, "exe"}
    _check_matrix(setup, models, {"openverse_v1", "openverse_v2", "lab"})
    _check_films(setup, {Path(CLIP).name}, models)
    _check_report(setup, models)


PAPER = {
    "pexels_v1": "/pexels/v1",
    "pexels_v2": "/pexels/v1",
    "pixabay_v1": "/pixabay/api",
    "pixabay_v2": "/pixabay/api",
}


def _prepare_paper(setup: Setup) -> list[str]:
    _fer2013(setup)
    _project_clip(setup)  # where conf/paper/globals.yml expects the films
    return _params(TINY, EXE_ONLY, _searched_keywords(), _search_sources(setup, PAPER))


def _paper_keys(setup: Setup) -> dict[str, str]:
    return {"PEXELS_API_KEY": KEY_PEXELS, "PIXABAY_API_KEY": KEY_PIXABAY}


def _check_paper(setup: Setup, log: str) -> None:
    _check_search_manifests(setup, PAPER)
    searched = tuple(c for c in STUDY_CLASSES if c in SEARCHED)
    trained = {**dict.fromkeys(PAPER, searched), "fer2013": STUDY_CLASSES}
    _check_models(setup, trained, ("exe",))
    _check_detected_fer2013(setup, "fer2013")
    models = {*trained, "exe"}
    _check_matrix(setup, models, {*PAPER, "fer2013"})
    _check_films(setup, {Path(CLIP).name}, models)
    _check_report(setup, models)
    manifests = [_manifest(setup, name).to_csv() for name in PAPER]
    for key in (KEY_PEXELS, KEY_PIXABAY):
        assert_no_secret(key, [log, *manifests])


def _prepare_study(setup: Setup) -> list[str]:
    _study_predictions(setup)
    return ["--pipelines", "reporting"]


def _check_study(setup: Setup, log: str) -> None:
    films = json.loads((setup.tiny / "movie_predictions" / "movie_list.json").read_text())
    claims = _check_report(setup, {"ExE", "FER", "RAFDB"})
    metrics = pd.read_csv(setup.data / "08_reporting" / "validity_metrics.csv")
    assert (metrics["n_films"] == len(films)).all()
    check = pd.read_csv(setup.data / "08_reporting" / "study_summary_check.csv")
    assert set(check["model"]) == {"ExE", "FER", "RAFDB"}
    # two films of each of the two genres: every claim of conf/study is evaluated
    assert set(claims["claim"]) == _claim_texts(setup, "study")
    assert not claims["verdict"].str.contains("not evaluated").any(), claims


def _web_setup(setup: Setup) -> Setup:
    """--env web reads its data where its globals say: not ../shared/data, so every path must follow."""
    return replace(setup, tiny=setup.project.parent / "web_data")


def _prepare_web(setup: Setup) -> list[str]:
    setup = _web_setup(setup)
    _fer2013(setup)
    _muxspace(setup, per_label=4)
    for search in WEB_SEARCHES:
        _web_search(setup, search)
    videos = setup.tiny / "videos"
    _clip(videos, videos / "movie_list.json", setup.real).to_csv(videos / "truth.csv", index=False)
    paths = {"shared_data": setup.tiny, "films_dir": videos, "movie_list": videos / "movie_list.json"}
    (setup.project / "conf" / "web" / "globals.yml").write_text(
        yaml.safe_dump({k: str(v) for k, v in paths.items()})
    )
    conf = yaml.safe_load((setup.project / "conf" / "web" / "parameters_ingestion.yml").read_text())
    others = {
        name: {"enabled": False}
        for name, source in conf["ingestion"]["sources"].items()
        if "web_search" in str(source.get("path")) and name not in WEB_SEARCHES
    }
    assert others, "conf/web has no other web search to leave out: update WEB_SEARCHES"
    fer2013 = {"baselines": {"datasets": {"fer2013": {"training": TINY["training"]}}}}
    return _params(TINY, fer2013, {"ingestion": {"sources": others}})


def _check_web(setup: Setup, log: str) -> None:
    setup = _web_setup(setup)
    for search in WEB_SEARCHES:
        manifest = _manifest(setup, search)
        assert len(manifest) == len(list((setup.tiny / "web_search" / search).rglob("*.*"))), search
        assert manifest["outcome"].value_counts()["kept"] > len(manifest) / 2, search
    bing = _manifest(setup, "bing_multi")
    assert set(bing.loc[bing["raw_label"] == "neutral", "outcome"]) == {"class_dropped"}  # drop_classes
    google_b = _manifest(setup, "google_b")
    assert google_b.loc[google_b["reference"].str.contains("/surpirse/"), "label"].eq("surprise").all()
    trained = {**WEB_SEARCHES, "fer2013": STUDY_CLASSES}
    _check_models(setup, trained, ENSEMBLES)
    _check_detected_fer2013(setup, "fer2013")
    models = {*trained, *ENSEMBLES}
    _check_matrix(setup, models, {*WEB_SEARCHES, "muxspace", "fer2013"})
    _check_films(setup, {Path(CLIP).name}, models)
    claims = _check_report(setup, models)
    assert set(claims["claim"]) == _claim_texts(setup, "web")
    assert not claims["verdict"].str.contains("not evaluated").any(), claims  # fer2013 and exe ran
    truth = pd.read_csv(setup.data / "08_reporting" / "truth_metrics.csv")
    assert models <= set(truth["model"]), truth


RECIPES: dict[str, Recipe] = {
    "fer_halves": Recipe(_prepare_fer_halves, _check_fer_halves),
    "muxspace": Recipe(_prepare_muxspace, _check_muxspace),
    "openverse": Recipe(_prepare_openverse, _check_openverse),
    "paper": Recipe(_prepare_paper, _check_paper, env=_paper_keys),
    "study": Recipe(_prepare_study, _check_study),
    "web": Recipe(_prepare_web, _check_web),
}


# --- tests --------------------------------------------------------------------------------------------


def test_every_env_has_a_tiny_recipe() -> None:
    """A new conf env cannot go untested: it needs a recipe here (and a removed one loses its recipe)."""
    assert set(RECIPES) == set(ENVS), f"envs without a tiny recipe: {sorted(set(ENVS) - set(RECIPES))}"


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow store of ``conf/base/mlflow.yml`` (``sqlite:///mlflow.db``), made once: creating
    its tables takes seconds that every run would otherwise spend before its first node."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="module")
def fake_apis() -> Iterator[FakeApis]:
    apis = FakeApis()
    yield apis
    apis.close()


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("env", ENVS)
def test_env_runs_on_tiny_fixtures(
    env: str,
    project_copy: Path,
    shared_data: Path,
    fake_apis: FakeApis,
    mlflow_store: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if env not in RECIPES:
        pytest.fail(f"conf/{env} has no tiny recipe in RECIPES (tests/test_env_runs.py)")
    shutil.copy2(mlflow_store, project_copy / "mlflow.db")
    fake_apis.reset()
    recipe = RECIPES[env]
    setup = Setup(project_copy, project_copy.parent / "shared" / "data", shared_data, fake_apis)
    setup.tiny.mkdir(parents=True)
    args = recipe.prepare(setup)
    started = time.monotonic()
    env_vars = {"KEDRO_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1,localhost", **recipe.env(setup)}
    run = run_kedro(project_copy, "run", "--env", env, *args, env=env_vars)
    seconds = time.monotonic() - started
    log = run.stdout + run.stderr
    assert "Pipeline execution completed successfully" in log
    assert "Traceback" not in log, log[max(0, log.find("Traceback") - 500) :][:3000]  # nor at the exit
    recipe.check(setup, log)
    with capsys.disabled():
        print(f"\n--env {env}: kedro run took {seconds:.0f} s")
