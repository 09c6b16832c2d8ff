"""Every model on a film in one decode pass: sampled frames → faces → crops → one shared batch.

Per film, each sampled frame is decoded once (:mod:`expressions_ensemble.video`: skipped frames are
decoded only when another frame refers to them, never converted) in a thread that runs ahead
(:class:`~expressions_ensemble.parallel.Prefetch`, with its share of the cores: :func:`plan_threads`),
faces are detected once (:mod:`expressions_ensemble.faces`), crops come from
:func:`~expressions_ensemble.imaging.crop_face` with the face-extraction margin and size (the crop a
training photo gets), crops of several frames are batched, and every model scores the same batch
(:func:`~expressions_ensemble.models.scoring.score_models`: one prepared tensor per preprocessing, one
forward pass per set of weights, an ensemble's members included).

Output, per film: a table with a row per face (the study's columns, each model's prefixed
``<model>__``) and a status row (frames read and sampled, faces, seconds, outcome). Films run in
parallel worker processes (spawned: torch after a fork can hang), each writing its own partition the
moment it is done, so a killed run loses only the films in flight.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.faces import FaceDetector, create_detector, select_faces
from expressions_ensemble.imaging import crop_face
from expressions_ensemble.labels import prob_column
from expressions_ensemble.models.scoring import Scorable, distinct_networks, score_models
from expressions_ensemble.parallel import Prefetch
from expressions_ensemble.video import (
    VIDEO_EXTENSIONS,
    Frame,
    Sampling,
    VideoError,
    film_stem,
    iter_frames,
)

logger = logging.getLogger(__name__)

#: Faces kept per frame: the largest (the study) or every face.
FILM_FACE_POLICIES = ("largest", "all")
#: The movie list's required columns (the study's format); other columns are kept.
MOVIE_LIST_COLUMNS = ("file_name", "title", "category")
#: Columns of a film's face table before the per-model columns.
FACE_COLUMNS = [
    "movie", "frame_idx", "timestamp_sec", "face_idx", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
    "face_area", "relative_face_area", "detector_score",
]  # fmt: skip
STATUS_COLUMNS = [
    "movie", "file_name", "title", "category", "path", "outcome", "detail", "frames_read",
    "frames_decoded", "frames_sampled", "frames_with_faces", "faces", "seconds", "fps", "frame_count",
    "width", "height", "rotation", "duration_sec", "resumed",
]  # fmt: skip


@dataclass(frozen=True)
class FilmEvalParams:
    """Validated ``movie_eval`` settings, with the crop geometry and detector of ``face_extraction``."""

    sampling: Sampling
    face_policy: str = "largest"
    # Films show drawings, posters and animation: BlazeFace gives those up to 0.61 on the real clip
    # no_face.mp4, real and simulated faces 0.83 and more; photos (face_extraction) keep 0.5.
    min_confidence: float = 0.7
    min_face_size: int = 24
    detector: str = "mediapipe"
    margin: float = 0.2
    crop_size: int = 224
    batch_size: int = 32
    workers: int = 1
    redo: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], face_extraction: Mapping[str, Any]) -> FilmEvalParams:
        from expressions_ensemble.parallel import resolve_workers

        allowed = {"sampling", "faces", "batch_size", "workers", "redo", "models", "simulated_films"}
        if unknown := set(params) - allowed:
            raise ValueError(f"movie_eval: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        faces = dict(params.get("faces") or {})
        face_keys = {"policy", "min_confidence", "min_face_size"}
        if unknown := set(faces) - face_keys:
            raise ValueError(
                f"movie_eval.faces: unknown keys {sorted(unknown)}; allowed: {sorted(face_keys)}"
            )
        p = cls(
            sampling=Sampling.from_params(params.get("sampling") or {}, "movie_eval.sampling"),
            face_policy=faces.get("policy", "largest"),
            min_confidence=faces.get("min_confidence", cls.min_confidence),
            min_face_size=faces.get("min_face_size", face_extraction.get("min_face_size", 24)),
            detector=face_extraction.get("detector", "mediapipe"),
            margin=face_extraction.get("margin", 0.2),
            crop_size=face_extraction.get("crop_size", 224),
            batch_size=params.get("batch_size", 32),
            workers=resolve_workers(params.get("workers", 1), "movie_eval.workers"),
            redo=params.get("redo", False),
        )
        policies = ", ".join(FILM_FACE_POLICIES)
        checks = [
            (p.face_policy in FILM_FACE_POLICIES, "faces.policy", p.face_policy, f"one of {policies}"),
            (_number(p.min_confidence) and 0 <= p.min_confidence <= 1, "faces.min_confidence",
             p.min_confidence, "a number in [0, 1]"),
            (_number(p.min_face_size) and p.min_face_size >= 0, "faces.min_face_size", p.min_face_size,
             "a number of pixels >= 0"),
            (isinstance(p.batch_size, int) and p.batch_size >= 1, "batch_size", p.batch_size,
             "an integer >= 1"),
            (isinstance(p.redo, bool), "redo", p.redo, "true or false"),
        ]  # fmt: skip
        for ok, key, value, allowed_values in checks:
            if not ok:
                raise ValueError(f"movie_eval.{key}: got {value!r}; allowed: {allowed_values}")
        return p


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------------- movie list


def validate_movie_list(table: pd.DataFrame, where: str = "movie_eval.movie_list") -> pd.DataFrame:
    """The movie list checked: required columns present, no column twice, no film twice.

    Errors name the columns or entries at fault; other columns are kept for the status table.
    """
    columns = [str(c) for c in table.columns]
    if dup := sorted({c for c in columns if columns.count(c) > 1}):
        raise ValueError(f"{where}: columns {dup} appear more than once")
    if missing := [c for c in MOVIE_LIST_COLUMNS if c not in columns]:
        raise ValueError(f"{where}: missing columns {missing}; required: {', '.join(MOVIE_LIST_COLUMNS)}")
    out = table.copy()
    out["file_name"] = out["file_name"].astype(str).str.strip()
    if (empty := out["file_name"].isin(["", "nan", "None"])).any():
        raise ValueError(f"{where}: entries {out.index[empty].tolist()} have no file_name")
    out["movie"] = out["file_name"].map(film_stem)
    if (dup_rows := out["movie"].duplicated(keep=False)).any():
        raise ValueError(
            f"{where}: films listed more than once: {sorted(set(out.loc[dup_rows, 'movie']))} "
            f"(file_name is matched by its stem, without extension)"
        )
    return out.reset_index(drop=True)


def match_films(movie_list: pd.DataFrame, files: Mapping[str, str]) -> pd.DataFrame:
    """Each listed film with the path of its file (``path``), matched by stem, or why there is none.

    ``files`` maps file names in the movies folder to paths. ``match`` is ``found``, ``missing_file``
    or ``ambiguous`` (several files share the stem, e.g. ``a.mp4`` and ``a.mkv``: named in ``detail``).
    """
    by_stem: dict[str, list[str]] = {}
    for name in sorted(files):
        if name.lower().endswith(VIDEO_EXTENSIONS):
            by_stem.setdefault(film_stem(name), []).append(name)
    out = movie_list.copy()
    paths, matches, details = [], [], []
    for movie in out["movie"]:
        found = by_stem.get(movie, [])
        if len(found) == 1:
            paths.append(str(files[found[0]]))
            matches.append("found")
            details.append("")
        else:
            paths.append(None)
            matches.append("missing_file" if not found else "ambiguous")
            details.append("no file with this stem" if not found else f"several files: {', '.join(found)}")
    return out.assign(path=paths, match=matches, detail=details)


# ------------------------------------------------------------------------------------------ one film


class PredictionStore(Protocol):
    """Where finished films are kept (see ``datasets.film_predictions``)."""

    def finished(self, movie: str) -> dict[str, Any] | None: ...

    def save(self, movie: str, faces: pd.DataFrame, status: Mapping[str, Any]) -> None: ...


def model_columns(name: str, classes: Sequence[str]) -> list[str]:
    """A model's columns in the face table: ``<model>__prob_<emotion>`` …, ``__emotion``, ``__confidence``."""
    return [f"{name}__{prob_column(c)}" for c in classes] + [f"{name}__emotion", f"{name}__confidence"]


def empty_faces(models: Mapping[str, Scorable]) -> pd.DataFrame:
    """A film's face table without rows (a film without faces still gets its partition)."""
    columns = FACE_COLUMNS + [c for n, m in models.items() for c in model_columns(n, m.classes)]
    return pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class ThreadPlan:
    """How a process's cores are used while a film is read (see :func:`plan_threads`)."""

    decoder: int  # FFmpeg decoder threads
    models: int  # torch intra-op threads of each model worker
    detect_apart: bool  # face detection in a thread of its own, between decoder and models
    model_workers: int = 1  # networks scored side by side, each in a thread of its own
    eager_batches: bool = False  # models the long pole: a batch starts when they are free (see evaluate)


def plan_threads(cores: int, mode: str, networks: int = 1) -> ThreadPlan:
    """Share ``cores`` between decoding, detection and the ``networks`` models, by which is the long pole.

    In stride and seconds modes every frame the samples depend on is decoded: the decoder is the long
    pole and gets half the cores (one of two), the models the rest, and detection runs in the models'
    thread unless there is a core for it, since a third busy thread would take a share of the
    decoder's core (measured on 2 cores, ``benchmarks/movie_eval.py``: 20.3 s with detection beside the
    models, 21.7 s apart; 24.8 s with FFmpeg and torch each on both cores). In keyframes mode decoding
    is light (a keyframe in hundreds of frames) and the models are the long pole: one decoder thread,
    every core for the models, and detection apart so that its ~4 ms a frame leaves the models' thread.

    The models' cores go to networks side by side, one intra-op thread each, as many as there are
    networks (:func:`~expressions_ensemble.models.scoring.score_models`), and the cores left over
    become intra-op threads of each. Where the models are the long pole (keyframes), batches are
    eager: the models never sit idle waiting for a full batch while faces are waiting.
    """
    cores = max(1, int(cores))
    if mode == "keyframes":
        decoder, model_cores, apart = 1, cores, True
    else:
        decoder = max(1, cores // 2)
        model_cores, apart = max(1, cores - decoder), cores >= 3
    workers = max(1, min(model_cores, int(networks)))
    return ThreadPlan(decoder=decoder, models=max(1, model_cores // workers), detect_apart=apart,
                      model_workers=workers, eager_batches=mode == "keyframes")  # fmt: skip


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``count`` for a block, then put back."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _ahead(items: Iterator[Any], apart: bool, depth: int) -> contextlib.AbstractContextManager[Iterator[Any]]:
    """``items`` produced in a background thread when ``apart``, else as they are (in the caller's)."""
    return Prefetch(items, depth=depth) if apart else contextlib.nullcontext(items)


def _model_pool(workers: int) -> contextlib.AbstractContextManager[Executor | None]:
    """Threads for networks side by side, made after torch's thread count is set (a thread takes the
    count current when it first runs an operator); none for a single worker."""
    return ThreadPoolExecutor(workers, "models") if workers > 1 else contextlib.nullcontext(None)


class FilmScorer:
    """A detector and the models, ready to evaluate films one after the other (one per process).

    ``cores``: the cores this process may use (default: all); see :func:`plan_threads`.
    """

    def __init__(
        self, models: Mapping[str, Scorable], params: FilmEvalParams, cores: int | None = None
    ) -> None:
        self.models = dict(models)
        self.params = params
        self.cores = cores if cores is not None else (os.cpu_count() or 1)
        self._detector: FaceDetector | None = None

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = create_detector(self.params.detector, min_confidence=self.params.min_confidence)
        return self._detector

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def _flush(
        self,
        crops: list[np.ndarray],
        meta: list[dict[str, Any]],
        out: list[dict[str, Any]],
        executor: Executor | None = None,
    ) -> None:
        if not crops:
            return
        probs = score_models(self.models, crops, self.params.batch_size, executor)
        for name, model in self.models.items():
            p = probs[name]
            best = p.argmax(axis=1)
            for row, values, k in zip(meta, p, best, strict=True):
                for c, v in zip(model.classes, values, strict=True):
                    row[f"{name}__{prob_column(c)}"] = float(v)
                row[f"{name}__emotion"] = model.classes[k]
                row[f"{name}__confidence"] = float(values[k])
        out.extend(meta)
        crops.clear()
        meta.clear()

    def _faces(
        self, frames: Iterator[Frame], movie: str, area: float
    ) -> Iterator[tuple[list[np.ndarray], list[dict[str, Any]]]]:
        """Per sampled frame, the crops of its chosen faces and their rows (without model columns)."""
        p = self.params
        for frame in frames:
            chosen, _ = select_faces(self.detector.detect(frame.rgb), p.face_policy, p.min_face_size)
            crops = [crop_face(frame.rgb, (b.x, b.y, b.w, b.h), p.margin, p.crop_size) for b in chosen]
            rows = [
                {
                    "movie": movie, "frame_idx": frame.frame_idx, "timestamp_sec": frame.timestamp_sec,
                    "face_idx": i, "bbox_x": box.x, "bbox_y": box.y, "bbox_w": box.w, "bbox_h": box.h,
                    "face_area": box.area, "relative_face_area": box.area / area,
                    "detector_score": box.score,
                }
                for i, box in enumerate(chosen)
            ]  # fmt: skip
            yield crops, rows

    def evaluate(self, movie: str, path: str, position: int = 0) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The film's face table and its status; a file that cannot be read gives an outcome, not an error."""
        p = self.params
        start = time.perf_counter()
        status: dict[str, Any] = {"movie": movie, "path": path, "detail": ""}
        plan = plan_threads(self.cores, p.sampling.mode, len(distinct_networks(self.models.values())))
        try:
            reader = iter_frames(path, p.sampling, threads=plan.decoder)
        except VideoError as exc:
            logger.warning("%s: %s", movie, exc)
            return empty_faces(self.models), status | {
                "outcome": exc.reason, "detail": exc.detail, "frames_read": 0, "frames_decoded": 0,
                "frames_sampled": 0, "frames_with_faces": 0, "faces": 0,
                "seconds": time.perf_counter() - start,
            }  # fmt: skip
        info = reader.info
        area = float(info.width * info.height) or 1.0
        expected = (
            math.ceil(info.frame_count / p.sampling.stride)
            if p.sampling.mode == "stride" and info.frame_count
            else None
        )
        rows: list[dict[str, Any]] = []
        crops: list[np.ndarray] = []
        meta: list[dict[str, Any]] = []
        with_faces = 0
        # Eager batches (models the long pole): rather than wait for a full batch, the models take what
        # is waiting when nothing more is ready, from a quarter batch on, so they start on the first
        # faces instead of after a batch's worth of decoding (on the long-GOP benchmark film that is
        # 32 keyframes, ~0.4 s of ~2.6 s); batches grow back to full while the models are busy.
        eager_min = max(1, p.batch_size // 4)
        bar = tqdm(total=expected, desc=movie, unit="frame", position=position, leave=False, disable=None)
        # Decoding runs in a thread ahead (FFmpeg releases the GIL), and detection with cropping either
        # in a thread of its own (MediaPipe releases it too) or here beside the models (see
        # plan_threads). The frame queue holds at most a batch of frames, the face queue (crops only,
        # small) two batches, so the models find a full batch as soon as they finish one.
        with (
            reader,
            bar,
            torch_threads(plan.models),
            _model_pool(plan.model_workers) as pool,
            Prefetch(reader, depth=p.batch_size) as frames,
            _ahead(self._faces(frames, movie, area), plan.detect_apart, 2 * p.batch_size) as found,
        ):
            eager = plan.eager_batches and isinstance(found, Prefetch)  # a queue to look into
            for frame_crops, frame_meta in found:
                with_faces += bool(frame_crops)
                crops.extend(frame_crops)
                meta.extend(frame_meta)
                if len(crops) >= p.batch_size or (eager and len(crops) >= eager_min and not found.ready()):
                    self._flush(crops, meta, rows, pool)
                bar.update(1)
            self._flush(crops, meta, rows, pool)
        columns = empty_faces(self.models).columns
        faces = pd.DataFrame(rows).reindex(columns=columns) if rows else empty_faces(self.models)
        outcome = reader.outcome or "ok"
        if outcome == "ok" and not rows:
            outcome = "no_faces"
        status |= {
            "outcome": outcome, "frames_read": reader.frames_read, "frames_decoded": reader.frames_decoded,
            "frames_sampled": reader.frames_sampled,
            "frames_with_faces": with_faces, "faces": len(rows), "seconds": time.perf_counter() - start,
            "fps": info.fps, "frame_count": info.frame_count, "width": info.width, "height": info.height,
            "rotation": info.rotation, "duration_sec": info.duration_sec,
        }  # fmt: skip
        if outcome not in ("ok", "no_faces"):
            logger.warning("%s: reading ended early (%s) after %d frames", movie, outcome, reader.frames_read)
        return faces, status


# ------------------------------------------------------------------------------- many films, workers


@dataclass(frozen=True)
class FilmJob:
    """One film to evaluate and where to put the result."""

    movie: str
    path: str
    store: Any  # a PredictionStore (picklable: it is sent to the worker)


_worker: dict[str, Any] = {}


def _init_worker(blobs: Mapping[str, bytes], params: FilmEvalParams, threads: int) -> None:
    """Build this process's models (from artifact bytes) and detector; set its share of the cores."""
    import cv2
    import torch

    from expressions_ensemble.models.artifact import read_artifact

    torch.set_num_threads(threads)
    cv2.setNumThreads(1)
    models = {name: read_artifact(blob, f"model {name}") for name, blob in blobs.items()}
    _worker["scorer"] = FilmScorer(models, params, cores=threads)


def _slot() -> int:
    identity = mp.current_process()._identity
    return identity[0] - 1 if identity else 0


def _run(job: FilmJob) -> dict[str, Any]:
    """Evaluate one film and store it; an unexpected failure is this film's outcome (``error``), is
    logged with its traceback, and leaves nothing stored, so a re-run tries the film again."""
    scorer: FilmScorer = _worker["scorer"]
    start = time.perf_counter()
    try:
        faces, status = scorer.evaluate(job.movie, job.path, position=_slot())
    except Exception as exc:
        logger.exception("%s: evaluation failed", job.movie)
        return {"movie": job.movie, "path": job.path, "outcome": "error", "detail": repr(exc)[:500],
                "seconds": time.perf_counter() - start}  # fmt: skip
    job.store.save(job.movie, faces, {**status, "models": sorted(scorer.models)})
    return status


def evaluate_films(
    films: pd.DataFrame,
    models: Mapping[str, Scorable],
    params: FilmEvalParams,
    store: PredictionStore,
) -> pd.DataFrame:
    """Evaluate the matched films (see :func:`match_films`); the status table has a row per listed film.

    A film finished before with the same models is not redone (``resumed`` true) unless ``redo``.
    """
    from expressions_ensemble.models.artifact import model_bytes
    from expressions_ensemble.parallel import map_ordered

    names = sorted(models)
    rows: dict[str, dict[str, Any]] = {}
    jobs = []
    for film in films.itertuples():
        base = {"movie": film.movie, "file_name": film.file_name, "title": film.title}
        base["category"] = film.category
        if film.match != "found":
            logger.warning("%s: %s (%s)", film.movie, film.match, film.detail)
            rows[film.movie] = base | {"outcome": film.match, "detail": film.detail, "resumed": False}
            continue
        before = None if params.redo else store.finished(film.movie)
        if before is not None and before.get("models") == names:
            rows[film.movie] = base | {k: v for k, v in before.items() if k != "models"} | {"resumed": True}
            continue
        if before is not None:
            logger.info("%s: evaluated before with models %s; again", film.movie, before.get("models"))
        rows[film.movie] = base
        jobs.append(FilmJob(film.movie, film.path, store))
    resumed = sum(bool(r.get("resumed")) for r in rows.values())
    logger.info(
        "movie_eval: %d films to evaluate, %d finished before, %d without a usable file",
        len(jobs), resumed, len(rows) - len(jobs) - resumed,
    )  # fmt: skip
    workers = max(1, min(params.workers, len(jobs)))
    if jobs:
        threads = max(1, (os.cpu_count() or 1) // workers)
        if workers == 1:
            _init_worker_inline(models, params)
            results = map(_run, jobs)
        else:
            blobs = {name: model_bytes(m) for name, m in models.items()}
            results = map_ordered(
                _run, jobs, workers=workers, total=len(jobs), desc="films", initializer=_init_worker,
                initargs=(blobs, params, threads), chunksize=1, start_method="spawn",
            )  # fmt: skip
        try:
            for job, status in zip(jobs, results, strict=True):
                rows[job.movie] |= {**status, "resumed": False}
        finally:
            if workers == 1:
                _worker.pop("scorer").close()
    table = pd.DataFrame([rows[m] for m in films["movie"]]).reindex(columns=STATUS_COLUMNS)
    return table


def _init_worker_inline(models: Mapping[str, Scorable], params: FilmEvalParams) -> None:
    """One process: the models already loaded are used as they are."""
    _worker["scorer"] = FilmScorer(models, params)
