"""The env's models through ``movie_eval`` against the ``fer`` package on the real clips, in one run.

On the real clips of ``../shared/data/videos`` (the Pexels clip and the 16 MEAD clips; truth in
``truth.csv``, films in ``movie_list.json``), every ``--stride``-th frame (default 10), largest face:

(a) the project's ``movie_eval`` path: :func:`~expressions_ensemble.film_eval.evaluate_films` with the
    env's ``movie_eval`` and ``face_extraction`` parameters (the project's reader, detector, crop and
    scorer), all the models in one pass, on the trained artifacts of ``--models`` (default: every
    ``*/model.eemodel`` under this project's ``data/06_models``);
(b) the ``fer`` package from PyPI (Haar cascade, a mini-Xception on 64x64 grey, its default TF Lite
    interpreter), in a subprocess of a venv of its own that this script makes on first use (never a
    project dependency): fer installed without its dependencies, because it lists ``facenet-pytorch``
    (a second torch, only for its MTCNN detector, not used here), with ``tensorflow-cpu`` and OpenCV.
    It reads the same frames with OpenCV (every frame grabbed, every ``--stride``-th decoded).

Per clip group (the movie list's ``category``: the Pexels clip, the MEAD clips) and per model it prints
film frames/s (frames of the film covered per second of wall time) and sampled frames/s, and frame
accuracy and macro-F1 over the five study classes. A frame counts when its truth is one of them; a
frame without a face counts as wrong (and is counted apart); frames whose truth is another emotion
(MEAD's contempt, disgust, neutral) or that have no truth (the Pexels clip's turn, frames 200-259) are
counted apart and scored nowhere. A model's label is its most likely study class (the evaluation
matrix's rule: fer's disgust and neutral are set aside, and how often one was its top is counted);
fer rounds its scores to two decimals, ties go to the first class in ``STUDY_CLASSES`` order. Then the
target of issue 14: all the env's models together, film frames/s / fer's (target >= 1), and the
Pexels clip's timelines as runs of labels. Every sampled frame of every clip, per model, with its
outcome, goes to ``data/08_reporting/benchmarks/real_clips_frames.csv``; the Pexels timeline (frame,
truth, each model's label) to ``real_clips_timeline.csv``; the table to ``real_clips_summary.csv``.

    .venv/bin/python benchmarks/real_clips.py [--models data/06_models | a.eemodel b.eemodel ...]
        [--env base] [--stride 10] [--workers N] [--alone] [--repeat 1] [--skip-fer] [--no-flip]
        [--fer-venv ~/.cache/expressions_ensemble/fer-venv]

``--no-flip`` scores every network without its test-time flip (``movie_eval.test_time_flip: false``, the
trade-off of speed and accuracy). ``--alone`` also times each project model by itself (one pass per
model). Each timed run is done ``--repeat`` times and the best time kept (the machine is shared). Timing
starts after the models are loaded and warmed up (fer: its model loaded and one frame classified; the
project: one batch scored, MediaPipe loaded once); worker processes that ``movie_eval`` spawns
(``workers`` > 1) are timed.

Measured 2026-12-03 (2-core shared VM, the nine models of the default offline ``kedro run``,
``--workers 1 --alone --repeat 3``): all nine together 207.8 film frames/s on the Pexels clip and 194.8
on MEAD, fer 190.9 and 401.5: ratio 1.09 (met) and 0.49 (missed), 0.61 over all clips. Frame accuracy
/ macro-F1, Pexels and MEAD: ``exe`` 0.762 / 0.552 and 0.353 / 0.276, fer 0.833 / 0.595 and 0.672 /
0.669. With the base env's ``workers: auto`` (2 spawned processes) MEAD ran at 40.9 film frames/s: the
workers' start costs more than its 16 short clips. With the web env's eleven models (2026-12-04,
``--env web --workers 1 --repeat 3``, quiet): Pexels 1.00 and MEAD 0.63 (spare cores for a batch
that finds the decoder idle), 1.51 and 1.04 with ``--no-flip``. The whole table, the timelines:
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Only the standard library above: the fer child (``--fer-child``) runs this file in the fer venv,
# which has neither the project nor torch; everything else is imported where it is used.

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = REPO / "data" / "06_models"
OUT_DIR = REPO / "data" / "08_reporting" / "benchmarks"
DEFAULT_FER_VENV = Path.home() / ".cache" / "expressions_ensemble" / "fer-venv"
FER_VERSION = "25.10.3"
# fer's own list minus facenet-pytorch (torch, MTCNN only), moviepy/ffmpeg-python (its video writer),
# matplotlib (its plots); tensorflow-cpu for tensorflow; headless OpenCV (no GUI) for opencv-contrib.
# tensorflow-cpu below 2.20: fer's TF Lite path calls ``tf.lite.Interpreter``, deprecated for removal;
# OpenCV below 5, which moved ``cv2.CascadeClassifier`` (fer's Haar detector) out of the main package.
FER_DEPENDENCIES = (
    "tensorflow-cpu>=2.16,<2.20", "opencv-python-headless<5", "pandas", "pillow", "requests", "tqdm",
    "setuptools<81",  # fer imports pkg_resources
)  # fmt: skip
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NO_FACE = "no_face"
TIMELINE_MOVIE = "WolfgangLanger_Pexels"
#: Outcomes of a sampled frame for one model.
OUTCOMES = ("correct", "wrong", NO_FACE, "truth_outside", "no_truth")


# ------------------------------------------------------------------------------ pure parts (tested)


def read_truth(path: Path) -> pd.DataFrame:
    """``truth.csv`` as ``movie, frame_idx, truth`` (canonical names via labels.py; a name no map knows,
    e.g. ``contempt``, kept lower-cased so that it is counted as outside the classes, not lost)."""
    import pandas as pd

    from expressions_ensemble.labels import normalise_label

    table = pd.read_csv(path)
    if missing := [c for c in ("movie", "frame_idx", "emotion") if c not in table.columns]:
        raise ValueError(f"{path}: missing columns {missing}; required: movie, frame_idx, emotion")
    raw = table["emotion"].astype(str).str.strip().str.lower()
    out = pd.DataFrame(
        {
            "movie": table["movie"].astype(str),
            "frame_idx": table["frame_idx"].astype(int),
            "truth": [normalise_label(e) or e for e in raw],
        }
    )
    if (dup := out.duplicated(["movie", "frame_idx"], keep=False)).any():
        first = out[dup].iloc[0]
        raise ValueError(f"{path}: frame {first.frame_idx} of {first.movie} has more than one truth row")
    return out


def shared_top(probs: Mapping[str, float], classes: Sequence[str]) -> str | None:
    """The most likely of ``classes`` among a model's probabilities (ties: first in ``classes``);
    ``None`` when the model knows none of them."""
    known = [c for c in classes if c in probs]
    return max(known, key=lambda c: probs[c]) if known else None


def frame_outcomes(frames: pd.DataFrame, truth: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Each sampled frame (``movie, frame_idx, label``; label ``None`` without a face) with its truth and
    its outcome (one of :data:`OUTCOMES`)."""
    out = frames.merge(truth, on=["movie", "frame_idx"], how="left", validate="many_to_one")
    has_face = out["label"].notna()
    in_classes = out["truth"].isin(list(classes))
    outcome = [
        "no_truth" if not isinstance(t, str) else
        "truth_outside" if not inside else
        NO_FACE if not face else
        "correct" if label == t else "wrong"
        for t, inside, face, label in zip(out["truth"], in_classes, has_face, out["label"], strict=True)
    ]  # fmt: skip
    return out.assign(outcome=outcome)


def macro_f1_over(truth: Sequence[str], pred: Sequence[object], classes: Sequence[str]) -> float:
    """Macro-F1 over ``classes`` (those present in truth or predictions, as metrics.macro_f1); a
    prediction outside them (no face) is a miss of the true class, a false positive of none."""
    import numpy as np

    from expressions_ensemble import metrics

    k = len(classes)
    t = metrics.encode_labels(list(truth), classes)
    p = metrics.encode_labels(list(pred), classes)
    p[p == metrics.UNKNOWN_CODE] = k  # an extra column: counted in the truth's support only
    f1 = metrics.per_class_f1(metrics.confusion_matrix(t, p, k + 1))[:k]
    return float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")


def score_frames(outcomes: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
    """Counts per outcome, accuracy over the frames whose truth is one of ``classes`` (no face = wrong)
    and macro-F1 over them."""
    counts = outcomes["outcome"].value_counts()
    scored = outcomes[outcomes["outcome"].isin(["correct", "wrong", NO_FACE])]
    n = len(scored)
    return {
        "sampled": len(outcomes),
        "scored": n,
        **{o: int(counts.get(o, 0)) for o in OUTCOMES},
        "accuracy": float(counts.get("correct", 0) / n) if n else float("nan"),
        "macro_f1": macro_f1_over(scored["truth"], scored["label"].where(scored["label"].notna()), classes)
        if n
        else float("nan"),
    }


def run_lengths(labels: Iterable[object]) -> list[tuple[str, int]]:
    """Consecutive equal labels as ``(label, count)``; a missing label (no face) is ``no_face``."""
    runs: list[tuple[str, int]] = []
    for x in labels:
        name = x if isinstance(x, str) else NO_FACE
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + 1)
        else:
            runs.append((name, 1))
    return runs


def format_runs(runs: Sequence[tuple[str, int]]) -> str:
    """``sad×14 angry×2 …``: a timeline short enough to read in a terminal."""
    return " ".join(f"{label}×{count}" for label, count in runs)


def rates(frames: int, sampled: int, seconds: float) -> tuple[float, float]:
    """Film frames/s and sampled frames/s of ``seconds`` of wall time."""
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    return frames / seconds, sampled / seconds


def model_paths(items: Sequence[Path]) -> dict[str, Path]:
    """Model name → artifact: a folder gives every ``*/model.eemodel`` in it (named by its folder),
    a file is named by its stem, or by its folder when it is a ``model.eemodel``."""
    found: dict[str, Path] = {}
    for item in items:
        if item.is_dir():
            paths = sorted(item.glob("*/model.eemodel"))
            if not paths:
                raise ValueError(f"--models {item}: no */model.eemodel in this folder")
        elif item.is_file():
            paths = [item]
        else:
            raise ValueError(f"--models {item}: no such file or folder")
        for path in paths:
            name = path.parent.name if path.name == "model.eemodel" else path.stem
            if name in found:
                raise ValueError(f"--models: two artifacts named {name!r}: {found[name]} and {path}")
            found[name] = path
    return found


def timeline_of(frames: pd.DataFrame, movie: str) -> pd.DataFrame:
    """One movie's sampled frames as ``frame_idx, truth, <model> …`` (a label per model, ``no_face``
    where it found none), from the long per-frame table (``movie, frame_idx, truth, model, label``)."""
    part = frames[frames["movie"] == movie]
    labels = part.assign(label=part["label"].where(part["label"].notna(), NO_FACE))
    wide = labels.pivot(index="frame_idx", columns="model", values="label")
    wide = wide[list(dict.fromkeys(part["model"]))]  # the models in the order they ran
    truth = part.drop_duplicates("frame_idx").set_index("frame_idx")["truth"]
    out = wide.assign(truth=truth)[["truth", *wide.columns]].reset_index()
    out.columns.name = None
    return out


def rows_to_frames(
    faces: pd.DataFrame,
    sampled: Mapping[str, int],
    stride: int,
    models: Mapping[str, Sequence[str]],
    classes: Sequence[str],
) -> dict[str, pd.DataFrame]:
    """Per model, every sampled frame (``movie, frame_idx, label``) from ``movie_eval``'s face table
    (largest face: at most a row per frame); ``sampled``: frames read per movie."""
    import pandas as pd

    index = pd.DataFrame(
        [(m, i) for m, n in sampled.items() for i in range(0, n, stride)], columns=["movie", "frame_idx"]
    )
    if faces.duplicated(["movie", "frame_idx"]).any():
        raise ValueError("the face table has several faces on a frame: run with faces.policy largest")
    out = {}
    for name, model_classes in models.items():
        columns = {c: f"{name}__prob_{c}" for c in model_classes}
        labels = [
            shared_top({c: row[col] for c, col in columns.items()}, classes)
            for _, row in faces[list(columns.values())].iterrows()
        ]
        table = faces[["movie", "frame_idx"]].assign(label=labels)
        out[name] = index.merge(table, on=["movie", "frame_idx"], how="left", validate="one_to_one")
    return out


# ------------------------------------------------------------------------------------- the fer venv


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", *args], check=True)


def ensure_fer_venv(venv: Path) -> Path:
    """The fer venv's python: the venv made on first use (``python3.11 -m venv``) and its packages
    installed again whenever :data:`FER_VERSION` or :data:`FER_DEPENDENCIES` change; refuses a venv
    where torch can be imported (fer's own dependency list would pull one in)."""
    import hashlib

    python = venv / "bin" / "python"
    wanted = "\n".join((f"fer=={FER_VERSION}", *FER_DEPENDENCIES))
    marker = venv / f".installed-{hashlib.sha256(wanted.encode()).hexdigest()[:12]}"
    if not marker.is_file():
        print(f"preparing the fer venv at {venv}: {wanted.replace(chr(10), ', ')}", flush=True)
        if not python.is_file():
            subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
        _pip(python, "--no-deps", f"fer=={FER_VERSION}")
        _pip(python, *FER_DEPENDENCIES)
        check = "import importlib.util as u, fer.fer; raise SystemExit(u.find_spec('torch') is not None)"
        if subprocess.run([str(python), "-c", check], check=False).returncode != 0:
            sys.exit(f"{venv}: fer does not import, or torch is importable there; remove the venv")
        freeze = subprocess.run(
            [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
        )
        for old in venv.glob(".installed-*"):
            old.unlink()
        marker.write_text(freeze.stdout)
    return python


def fer_child(videos: Sequence[str], stride: int, repeat: int) -> None:
    """Hidden ``--fer-child`` (in the fer venv): fer on every ``stride``-th frame of each video, largest
    Haar face; one JSON line per video: frames read, best seconds, per sampled frame its scores."""
    import logging

    import cv2
    import numpy as np
    from fer.fer import FER

    logging.getLogger("fer").setLevel(logging.WARNING)
    detector = FER()  # Haar cascade, TF Lite mini-Xception: the package's defaults
    detector.detect_emotions(np.full((360, 640, 3), 128, np.uint8))  # loads the interpreter: untimed
    for video in videos:
        best, result = float("inf"), None
        for _ in range(repeat):
            start = time.perf_counter()
            cap = cv2.VideoCapture(video)
            frames: list[list[Any]] = []
            idx = 0
            while cap.grab():
                if idx % stride == 0:
                    ok, bgr = cap.retrieve()
                    faces = detector.detect_emotions(bgr) if ok else []
                    top = max(faces, key=lambda f: f["box"][2] * f["box"][3]) if faces else None
                    frames.append([idx, top["emotions"] if top else None])
                idx += 1
            cap.release()
            seconds = time.perf_counter() - start
            if seconds < best:
                best, result = (
                    seconds,
                    {"video": video, "frames_read": idx, "seconds": seconds, "frames": frames},
                )
        print(json.dumps(result), flush=True)


def run_fer(python: Path, films: pd.DataFrame, stride: int, repeat: int) -> dict[str, dict[str, Any]]:
    """fer's results per movie, from the child in the fer venv."""
    cmd = [str(python), str(Path(__file__).resolve()), "--stride", str(stride), "--repeat", str(repeat),
           "--fer-child", *films["path"]]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        sys.exit(f"the fer child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by_path = {r["video"]: r for r in lines}
    return {movie: by_path[path] for movie, path in zip(films["movie"], films["path"], strict=True)}


def fer_frames(results: Mapping[str, Mapping[str, Any]], classes: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """fer's sampled frames as ``movie, frame_idx, label`` (most likely study class, through labels.py)
    and how many of its top labels were outside ``classes``."""
    import pandas as pd

    from expressions_ensemble.labels import require_label

    rows, outside = [], 0
    for movie, result in results.items():
        for idx, scores in result["frames"]:
            label = None
            if scores is not None:
                probs = {require_label(k): float(v) for k, v in scores.items()}
                label = shared_top(probs, classes)
                outside += max(probs, key=lambda c: probs[c]) not in classes
            rows.append((movie, int(idx), label))
    return pd.DataFrame(rows, columns=["movie", "frame_idx", "label"]), outside


# ---------------------------------------------------------------------------------- the project side


def film_params(env: str | None, stride: int, workers: object | None) -> Any:
    """The env's ``movie_eval`` parameters (as ``kedro run --env`` reads them) at ``stride``, largest
    face, films always evaluated afresh."""
    from kedro.config import OmegaConfigLoader

    from expressions_ensemble.film_eval import FilmEvalParams
    from expressions_ensemble.settings import CONFIG_LOADER_ARGS

    with warnings.catch_warnings():  # omegaconf's deprecation of a resolver call inside Kedro
        warnings.simplefilter("ignore", UserWarning)
        params = OmegaConfigLoader(str(REPO / "conf"), env=env, **CONFIG_LOADER_ARGS)["parameters"]
    movie_eval = dict(params.get("movie_eval") or {})
    movie_eval["sampling"] = {"mode": "stride", "stride": stride}
    movie_eval["faces"] = {**(movie_eval.get("faces") or {}), "policy": "largest"}
    movie_eval["redo"] = True
    if workers is not None:
        movie_eval["workers"] = workers
    return FilmEvalParams.from_params(movie_eval, params.get("face_extraction") or {})


def warm_up(models: Mapping[str, Any], params: Any) -> None:
    """Untimed: oneDNN builds its kernels on the first convolutions, MediaPipe loads its graph."""
    import numpy as np

    from expressions_ensemble.faces import create_detector
    from expressions_ensemble.film_eval import film_crops
    from expressions_ensemble.models.scoring import score_models

    detector_name, framings = film_crops(models)  # each model's own crop geometry, from its artifact
    size = max(geometry.crop_size for geometry in framings.values())
    crop = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    for n in (1, params.batch_size):
        score_models(models, [crop] * n, params.batch_size)
    detector = create_detector(detector_name, min_confidence=params.min_confidence)
    detector.detect(np.zeros((360, 640, 3), np.uint8))
    detector.close()


def project_pass(films: pd.DataFrame, models: Mapping[str, Any], params: Any,
                 repeat: int) -> tuple[float, pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """``evaluate_films`` on ``films`` (best seconds of ``repeat``), its face table and its status."""
    import pandas as pd

    from expressions_ensemble.datasets.films import FilmPredictionStore
    from expressions_ensemble.film_eval import evaluate_films

    best, kept = float("inf"), None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="exe-real-clips-") as tmp:
            store = FilmPredictionStore(tmp)
            start = time.perf_counter()
            status = evaluate_films(films, models, params, store)
            seconds = time.perf_counter() - start
            if seconds < best:  # the status and faces of the run whose time is reported
                parts = [pd.read_parquet(Path(tmp) / f"{m}.parquet") for m in films["movie"]]
                best, kept = seconds, (status, parts)
    status, parts = kept
    if bad := status[~status["outcome"].isin(["ok", "no_faces"])]["movie"].tolist():
        sys.exit(f"movie_eval did not read these clips to the end: {bad}\n{status.to_string()}")
    return best, pd.concat(parts, ignore_index=True), status


# ------------------------------------------------------------------------------------------ main


def plan_clips(videos: Path) -> pd.DataFrame:
    """The movie list of ``videos`` matched to its files (sub-folders included, e.g. ``mead/``)."""

    from expressions_ensemble.datasets.films import MovieListDataset, VideoFolderDataset
    from expressions_ensemble.movies import match_films

    listed = MovieListDataset(str(videos / "movie_list.json")).load()
    films = match_films(listed, VideoFolderDataset(str(videos)).load())
    if missing := films.loc[films["match"] != "found", "movie"].tolist():
        sys.exit(f"{videos}: no usable file for {missing}")
    return films


def summary_row(group: str, name: str, kind: str, outcomes: pd.DataFrame, frames: int,
                 seconds: float | None, classes: Sequence[str]) -> dict[str, Any]:  # fmt: skip
    """One line of the table."""
    score = score_frames(outcomes, classes)
    film_fps, sampled_fps = rates(frames, score["sampled"], seconds) if seconds else (float("nan"),) * 2
    return {"group": group, "model": name, "timing": kind, "frames": frames, "seconds": seconds,
            "film_fps": film_fps, "sampled_fps": sampled_fps, **score}  # fmt: skip


def print_table(table: pd.DataFrame) -> None:
    for group, part in table.groupby("group", sort=False):
        sampled = part["sampled"].iloc[0]
        print(f"\n{group}: {part['frames'].iloc[0]} film frames, {sampled} sampled")
        print(f"  {'model':<16} {'timing':<9} {'film f/s':>9} {'smpl f/s':>9} {'acc':>6} {'macroF1':>8} "
              f"{'scored':>6} {'no_face':>7} {'outside':>7} {'no_truth':>8}")  # fmt: skip
        for r in part.itertuples():
            print(
                f"  {r.model:<16} {r.timing:<9} {r.film_fps:9.1f} {r.sampled_fps:9.2f} {r.accuracy:6.3f} "
                f"{r.macro_f1:8.3f} {r.scored:6d} {r.no_face:7d} {r.truth_outside:7d} {r.no_truth:8d}"
            )


def run(args: argparse.Namespace) -> None:
    import pandas as pd

    from expressions_ensemble.files import write_atomic
    from expressions_ensemble.labels import STUDY_CLASSES
    from expressions_ensemble.models import load_artifact

    classes = STUDY_CLASSES
    videos = args.videos
    truth = read_truth(videos / "truth.csv")
    films = plan_clips(videos)
    paths = model_paths(args.models or [DEFAULT_MODELS])
    models = {name: load_artifact(path) for name, path in paths.items()}
    params = film_params(args.env, args.stride, args.workers)
    if args.no_flip:  # movie_eval.test_time_flip: false
        params = dataclasses.replace(params, test_time_flip=False)
    from expressions_ensemble.film_eval import film_crops

    detector_name, framings = film_crops(models)
    print(
        f"{len(films)} clips in {videos}; stride {args.stride}, largest face, detector {detector_name} "
        f"(min confidence {params.min_confidence}), crops (margin, size, shift, aligned) {sorted(framings)}, "
        f"movie_eval workers {params.workers}, {os.cpu_count()} cores"
    )
    print(
        f"{len(models)} project models: "
        + ", ".join(f"{n} ({'/'.join(m.classes)})" for n, m in models.items())
    )

    fer_results = None
    if not args.skip_fer:
        python = ensure_fer_venv(args.fer_venv)
        print(f"fer {FER_VERSION} in {args.fer_venv} ...", flush=True)
        fer_results = run_fer(python, films, args.stride, args.repeat)

    warm_up(models, params)
    rows, frames_long = [], []
    in_films: dict[str, tuple[float, float, int]] = {}
    for group, part in films.groupby("category", sort=False):
        seconds, faces, status = project_pass(part, models, params, args.repeat)
        read = dict(zip(status["movie"], status["frames_read"].astype(int), strict=True))
        if (sampled := int(status["frames_sampled"].sum())) != sum(
            -(-n // args.stride) for n in read.values()
        ):
            sys.exit(
                f"{group}: movie_eval sampled {sampled} frames, expected every {args.stride}th of {read}"
            )
        n_frames = sum(read.values())
        in_films[group] = (seconds, float(status["seconds"].sum()), len(part))
        labelled = rows_to_frames(
            faces, read, args.stride, {n: m.classes for n, m in models.items()}, classes
        )
        for name, frames in labelled.items():
            alone = None
            if args.alone and len(models) > 1:
                alone, _, _ = project_pass(part, {name: models[name]}, params, args.repeat)
            outcomes = frame_outcomes(frames, truth, classes)
            rows.append(summary_row(group, name, "together", outcomes, n_frames, seconds, classes))
            if alone is not None:
                rows[-1]["alone_film_fps"] = n_frames / alone
            frames_long.append(outcomes.assign(group=group, model=name))
        if fer_results is not None:
            mine = {m: fer_results[m] for m in part["movie"]}
            if (fer_read := {m: r["frames_read"] for m, r in mine.items()}) != read:
                print(f"  warning: OpenCV read {fer_read} frames, the project's reader {read}")
            frames, outside = fer_frames(mine, classes)
            outcomes = frame_outcomes(frames, truth, classes)
            fer_seconds = sum(r["seconds"] for r in mine.values())
            fer_row = summary_row(
                group, "fer", "alone", outcomes, sum(fer_read.values()), fer_seconds, classes
            )
            rows.append(fer_row | {"top_outside_classes": outside})
            frames_long.append(outcomes.assign(group=group, model="fer"))

    table = pd.DataFrame(rows)
    print_table(table)
    print(
        f"\nwhere movie_eval's time goes (workers {params.workers}): wall time of evaluate_films, and the sum"
    )
    print("  of its films' own seconds (status; read, detect, crop, score: no process start, no model load)")
    for group, (wall, films_s, n) in in_films.items():
        print(f"  {group:<14} {wall:6.1f} s wall, {films_s:6.1f} s in {n} films ({films_s / n:.2f} s a film)")
    if "alone_film_fps" in table:
        print("\neach project model alone (one pass per model), film frames/s:")
        for r in table.dropna(subset=["alone_film_fps"]).itertuples():
            print(f"  {r.group:<14} {r.model:<16} {r.alone_film_fps:8.1f}")
    if "top_outside_classes" in table:
        for r in table.dropna(subset=["top_outside_classes"]).itertuples():
            print(f"  fer's top label was disgust or neutral on {int(r.top_outside_classes)} of {r.sampled} "
                  f"sampled frames of {r.group} (its most likely study class is used)")  # fmt: skip
    if fer_results is not None:
        print("\nall the project's models together, film frames/s / fer's (target >= 1):")
        for group, part in table.groupby("group", sort=False):
            ours = part.loc[part["timing"] == "together", "film_fps"].iloc[0]
            fer = part.loc[part["model"] == "fer", "film_fps"].iloc[0]
            verdict = "ok" if ours >= fer else "MISSED"
            print(f"  {group:<14} {ours:7.1f} / {fer:7.1f} = {ours / fer:5.2f}  ({verdict})")
        frames_all = table.groupby("model", sort=False)[["frames", "seconds"]].sum()
        first_model = next(iter(models))
        ours_all = frames_all.loc[first_model, "frames"] / frames_all.loc[first_model, "seconds"]
        fer_all = frames_all.loc["fer", "frames"] / frames_all.loc["fer", "seconds"]
        print(f"  {'all clips':<14} {ours_all:7.1f} / {fer_all:7.1f} = {ours_all / fer_all:5.2f}")

    frames_table = pd.concat(frames_long, ignore_index=True)
    timeline = timeline_of(frames_table, TIMELINE_MOVIE)
    if len(timeline):
        print(f"\n{TIMELINE_MOVIE}, every {args.stride}th frame (runs of labels; truth - = no truth):")
        for name in timeline.columns[1:]:
            print(f"  {name:<16} {format_runs(run_lengths(timeline[name].fillna('-')))}")
        write_atomic(args.out / "real_clips_timeline.csv", timeline.to_csv(index=False).encode())
    write_atomic(args.out / "real_clips_frames.csv", frames_table.to_csv(index=False).encode())
    write_atomic(args.out / "real_clips_summary.csv", table.to_csv(index=False).encode())
    print(f"\nwritten: {args.out}/real_clips_{{summary,frames,timeline}}.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", type=Path, nargs="+", help=f"folders or .eemodel files ({DEFAULT_MODELS})"
    )
    parser.add_argument("--env", help="conf env whose movie_eval/face_extraction parameters are used")
    parser.add_argument("--stride", type=int, default=10, help="every Nth frame")
    parser.add_argument("--workers", help="movie_eval.workers (default: the env's)")
    parser.add_argument("--alone", action="store_true", help="also time each project model alone")
    parser.add_argument("--repeat", type=int, default=1, help="best of k timed runs")
    parser.add_argument("--skip-fer", action="store_true", help="the project's models only")
    parser.add_argument(
        "--no-flip", action="store_true", help="movie_eval.test_time_flip: false (no network flips)"
    )
    parser.add_argument("--fer-venv", type=Path, default=DEFAULT_FER_VENV)
    parser.add_argument("--videos", type=Path, help="the clips, truth.csv, movie_list.json")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--fer-child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stride < 1 or args.repeat < 1:
        parser.error("--stride and --repeat must be >= 1")
    if args.fer_child is not None:
        fer_child(args.fer_child, args.stride, args.repeat)
        return
    if args.workers is not None and args.workers != "auto":
        if not args.workers.isdigit() or int(args.workers) < 1:
            parser.error(f"--workers: got {args.workers!r}; allowed: auto or an integer >= 1")
        args.workers = int(args.workers)
    sys.path.insert(0, str(REPO / "tests"))
    from support import shared_data_dir

    args.videos = args.videos or shared_data_dir() / "videos"
    started = time.perf_counter()
    run(args)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
