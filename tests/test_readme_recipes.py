"""README.md's two recipes followed word for word, as a user would: "Your own films" and "Pointing it at
your own photos", in one conf env of the user's (``mine``) over a copy of the project.

The conf files are built from README.md's own text (its yaml block, the globals it names, the setting it
says to switch off), so these tests break when the README drifts from what works. The one full run
``kedro run --env mine`` trains tiny models on a few real photos and evaluates them on real MEAD clips.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from expressions_ensemble.models import load_artifact
from support import REPO_ROOT, copy_project, run_kedro

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

#: Tiny training for the full run (the README's recipe itself has no --params); one process per step,
#: as starting worker processes costs more than these few photos and short clips.
TINY = (
    "training.epochs=1,training.input_size=32,baselines.datasets.lab.per_class=12,"
    "face_extraction.workers=1,movie_eval.workers=1"
)
#: The photos of each class sub-folder: (folder name = the user's word, muxspace label, how many).
PHOTOS = (
    ("anger", "anger", 6),
    ("happy", "happiness", 6),
    ("surpirse", "surprise", 6),  # the folder's own misspelling, mapped by label_aliases
    ("contempt", "contempt", 2),  # no such emotion: unknown_label
    ("neutral", "neutral", 3),  # dropped by drop_classes: class_dropped
)
#: The real clips (MEAD, in sub-folder mead/ of shared_data/videos) and the names the user gives them.
CLIPS = {
    "angry": "mead/W009_front_angry_level3_001.mp4",
    "happy": "mead/W011_front_happy_level3_001.mp4",
    "sad": "mead/W011_front_sad_level3_001.mp4",
    "fear": "mead/W011_front_fear_level3_001.mp4",
}


def readme_section(title: str) -> str:
    """The text of README.md's ``### <title>`` section, up to the next heading."""
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^#)", text, re.S | re.M)
    assert match, f"README.md has no section '### {title}'"
    return match.group(1)


def readme_code(section: str, pattern: str) -> str:
    """The first inline code span of ``section`` matching ``pattern`` (backticks stripped, lines joined)."""
    prose = re.sub(r"```.*?```", "", section, flags=re.S)
    for span in re.findall(r"`([^`]+)`", prose):
        if re.fullmatch(pattern, " ".join(span.split())):
            return " ".join(span.split())
    raise AssertionError(f"README section has no `{pattern}`")


def photos_yaml(photos: Path, labels_csv: Path | None) -> str:
    """The README's yaml block with its paths replaced (the ``labels_csv`` line left out for class
    sub-folders), plus the ``label_aliases`` and ``drop_classes`` lines the README gives."""
    section = readme_section("Pointing it at your own photos")
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "README's photos recipe has no yaml block"
    lines = []
    for line in block.group(1).splitlines():
        if "/data/labels.csv" in line:
            if labels_csv is None:
                continue
            line = line.replace("/data/labels.csv", str(labels_csv))
        lines.append(line.replace("/data/my_photos", str(photos)))
    indent = re.match(r"\s*", next(line for line in lines if "kind: folder" in line)).group(0)
    for key in (r"label_aliases: \{.*\}", r"drop_classes: \[.*\]"):
        lines.append(indent + readme_code(section, key))
    return "\n".join(lines) + "\n"


def write_photos(shared_data: Path, dest: Path, labels_csv: Path | None = None) -> None:
    """A few muxspace photos in class sub-folders named by the user's words, or (``labels_csv``) in
    one folder with a CSV of (image, emotion)."""
    root = shared_data / "muxspace"
    with (root / "labels.csv").open() as fh:
        by_label: dict[str, list[str]] = {}
        for row in csv.DictReader(fh):
            by_label.setdefault(row["emotion"], []).append(row["image"])
    rows = []
    for word, label, n in PHOTOS:
        for name in sorted(by_label[label])[:n]:
            target = dest / name if labels_csv else dest / word / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / "images" / name, target)
            rows.append({"image": name, "emotion": word})
    if labels_csv:
        pd.DataFrame(rows).to_csv(labels_csv, index=False)


def write_films_env(env: Path, films: Path, movie_list: Path) -> None:
    """What "Your own films" says: both paths in conf/<env>/globals.yml, the simulator's films off."""
    section = readme_section("Your own films")
    keys = re.search(r"`conf/<env>/globals.yml`\s+\(`(\w+)`, `(\w+)`\)", section)
    assert keys, "README's films recipe no longer names the globals"
    films_key, list_key = keys.groups()
    (env / "globals.yml").write_text(yaml.safe_dump({films_key: str(films), list_key: str(movie_list)}))
    setting = readme_code(section, r"movie_eval\.simulated_films\.enabled: \w+")
    dotted, value = setting.split(": ")
    nested: object = yaml.safe_load(value)
    for part in reversed(dotted.split(".")):
        nested = {part: nested}
    (env / "parameters_movie_eval.yml").write_text(yaml.safe_dump(nested))


def set_movie_list(env: Path, movie_list: Path) -> None:
    """Point the env's globals at another movie list (JSON or CSV)."""
    globals_yml = env / "globals.yml"
    values = yaml.safe_load(globals_yml.read_text())
    values["movie_list"] = str(movie_list)
    globals_yml.write_text(yaml.safe_dump(values))


def failing_run(project: Path, *args: str) -> str:
    """The output of a kedro run that must fail."""
    with pytest.raises(pytest.fail.Exception) as failed:
        run_kedro(project, *args)
    return str(failed.value)


def status(project: Path) -> pd.DataFrame:
    """``film_status.csv`` of the last film evaluation, by film."""
    return pd.read_csv(project / "data" / "07_model_output" / "film_status.csv").set_index("movie")


@pytest.fixture(scope="module")
def mine(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The project after ``kedro run --env mine``: the user's photos (README's yaml) and films (a CSV
    movie list beside them: two MEAD clips, one truncated file; an unlisted film in the folder too)."""
    project = copy_project(tmp_path_factory.mktemp("readme") / "project")
    env = project / "conf" / "mine"
    env.mkdir()
    photos = project / "my_photos"
    write_photos(shared_data, photos)
    (env / "parameters_ingestion.yml").write_text(photos_yaml(photos, None))

    films = project / "my_films"
    videos = shared_data / "videos"
    (films / "mead").mkdir(parents=True)
    shutil.copyfile(videos / CLIPS["angry"], films / "mead" / "W009_angry.mp4")
    shutil.copyfile(videos / CLIPS["happy"], films / "W011_happy.mov")  # listed by stem only
    (films / "broken.mp4").write_bytes((videos / CLIPS["fear"]).read_bytes()[:20_000])  # cut short
    shutil.copyfile(videos / CLIPS["sad"], films / "unlisted.mp4")
    movie_list = films / "movie_list.csv"
    movie_list.write_text(
        "file_name,title,category,year\n"
        "mead/W009_angry,Angry take,Drama,2020\n"
        "W011_happy,Happy take,Comedy,2021\n"
        "broken,Cut short,Crime,2022\n"
    )
    write_films_env(env, films, movie_list)
    first = run_kedro(project, "run", "--env", "mine", "--params", TINY)
    return project, first.stdout + first.stderr


def test_own_photos_get_the_outcomes_the_readme_promises(mine: tuple[Path, str]) -> None:
    project, _ = mine
    manifest = pd.read_parquet(project / "data" / "02_intermediate" / "my_photos" / "photo_manifest.parquet")
    by_word = manifest.groupby("raw_label").agg(labels=("label", set), outcomes=("outcome", set))
    n = {word: count for word, _, count in PHOTOS}
    assert manifest["raw_label"].value_counts().to_dict() == n
    assert by_word.loc["anger", "labels"] == {"angry"} and by_word.loc["anger", "outcomes"] == {"kept"}
    assert by_word.loc["happy", "labels"] == {"happy"} and by_word.loc["happy", "outcomes"] == {"kept"}
    assert by_word.loc["surpirse", "labels"] == {"surprise"}  # label_aliases
    assert by_word.loc["contempt", "outcomes"] == {"unknown_label"}
    assert by_word.loc["neutral", "outcomes"] == {"class_dropped"}
    assert not (project / "data" / "02_intermediate" / "sim_v1").exists()
    model = load_artifact(project / "data" / "06_models" / "my_photos" / "model.eemodel")
    assert model.classes == ("angry", "happy", "surprise")


def test_own_films_go_on_past_a_broken_one_and_resume(mine: tuple[Path, str], shared_data: Path) -> None:
    project, log = mine
    films = project / "my_films"
    predictions = project / "data" / "07_model_output" / "film_predictions"
    first = status(project)
    assert list(first.index) == ["W009_angry", "W011_happy", "broken"]  # the list's films only
    assert first.loc["W009_angry", "file_name"] == "mead/W009_angry"
    assert first.loc["W011_happy", "path"] == str(films / "W011_happy.mov")  # listed by stem
    assert set(first.loc[["W009_angry", "W011_happy"], "outcome"]) == {"ok"}
    assert first.loc["broken", "outcome"] == "corrupt"
    angry = pd.read_parquet(predictions / "W009_angry.parquet")
    assert len(angry) == first.loc["W009_angry", "faces"] > 0
    assert {"my_photos__emotion", "lab__emotion"} <= set(angry.columns)
    assert pd.read_parquet(predictions / "broken.parquet").empty
    assert not (predictions / "unlisted.parquet").exists()
    plan = pd.read_csv(project / "data" / "02_intermediate" / "films" / "film_plan.csv")
    assert plan["year"].tolist() == [2020, 2021, 2022]  # extra columns are kept
    assert set(pd.read_csv(project / "data" / "08_reporting" / "films.csv")["movie"]) == set(first.index)
    assert (project / "data" / "08_reporting" / "report.html").is_file()
    assert "Pipeline execution completed successfully" in log

    # the recipe's command again: the finished films are skipped, the failed one is tried again
    again = run_kedro(project, "run", "--env", "mine", "--pipelines", "movie_eval")
    log = again.stdout + again.stderr
    second = status(project)
    assert second["resumed"].to_dict() == {"W009_angry": True, "W011_happy": True, "broken": False}
    assert "broken: evaluated again: it failed before (corrupt); trying again" in log, log[-3000:]
    assert second.loc["W009_angry", "faces"] == first.loc["W009_angry", "faces"]

    # a film replaced by another file, and a JSON list without the broken one: only the listed are
    # evaluated and reported
    shutil.copyfile(shared_data / "videos" / CLIPS["sad"], films / "W011_happy.mov")
    listed = [
        {"file_name": "mead/W009_angry", "title": "Angry take", "category": "Drama"},
        {"file_name": "W011_happy", "title": "Sad take", "category": "Comedy"},
    ]
    (films / "movie_list.json").write_text(json.dumps(listed))
    set_movie_list(project / "conf" / "mine", films / "movie_list.json")
    again = run_kedro(project, "run", "--env", "mine", "--pipelines", "movie_eval")
    log = again.stdout + again.stderr
    third = status(project)
    assert third["resumed"].to_dict() == {"W009_angry": True, "W011_happy": False}
    assert third.loc["W011_happy", "outcome"] == "ok" and third.loc["W011_happy", "title"] == "Sad take"
    assert "W011_happy: evaluated again: the film file changed" in log, log[-3000:]
    run_kedro(project, "run", "--env", "mine", "--pipelines", "reporting")
    reported = pd.read_csv(project / "data" / "08_reporting" / "films.csv")
    assert sorted(reported["movie"]) == ["W009_angry", "W011_happy"]
    quality = pd.read_csv(project / "data" / "08_reporting" / "data_quality.csv").set_index("check")
    assert "broken" in quality.loc["movie_not_in_list", "detail"]  # its partition is left out

    # values are type-checked: a number for file_name fails, naming the row and the column
    (films / "movie_list.json").write_text(json.dumps([*listed, {"file_name": 123, "title": "x"}]))
    output = failing_run(project, "run", "--env", "mine", "--pipelines", "movie_eval")
    assert "row 3, column file_name: got 123 (int); allowed: text" in output, output[-3000:]


def test_own_photos_from_a_labels_csv_and_a_misspelt_key(shared_data: Path, project_copy: Path) -> None:
    env = project_copy / "conf" / "mine"
    env.mkdir()
    photos, labels = project_copy / "photos", project_copy / "labels.csv"
    write_photos(shared_data, photos, labels)
    recipe = photos_yaml(photos, labels)
    (env / "parameters_ingestion.yml").write_text(recipe.replace("label_aliases:", "label_alias:"))
    output = failing_run(project_copy, "run", "--env", "mine", "--pipelines", "ingestion")
    assert "ingestion.sources.my_photos.label_alias: unknown key" in output, output[-3000:]
    assert "allowed: " in output and "label_aliases" in output.split("allowed: ")[-1]
    assert not (project_copy / "data" / "02_intermediate" / "my_photos").exists()

    (env / "parameters_ingestion.yml").write_text(recipe)
    run_kedro(project_copy, "run", "--env", "mine", "--pipelines", "ingestion")
    manifest = pd.read_parquet(
        project_copy / "data" / "02_intermediate" / "my_photos" / "photo_manifest.parquet"
    )
    outcome = manifest.groupby("raw_label")["outcome"].agg(set).to_dict()
    label = manifest.groupby("raw_label")["label"].agg(set).to_dict()
    assert outcome == {
        "anger": {"kept"}, "happy": {"kept"}, "surpirse": {"kept"}, "contempt": {"unknown_label"},
        "neutral": {"class_dropped"},
    }  # fmt: skip
    assert label["anger"] == {"angry"} and label["surpirse"] == {"surprise"}
