"""Every model on a film in one decode pass: sampled frames → faces → crops → one shared batch.

Per film, each sampled frame is decoded once (:mod:`expressions_ensemble.video`: skipped frames are
decoded only when another frame refers to them, never converted) in a thread that runs ahead
(:class:`~expressions_ensemble.parallel.Prefetch`, with its share of the cores: :func:`plan_threads`),
faces are detected once (:mod:`expressions_ensemble.faces`, with the detector the models were trained
with), each face is cropped once per distinct crop geometry of the models
(:class:`~expressions_ensemble.imaging.CropGeometry` in each artifact: every model, an ensemble's members
included, gets the crop it was trained on, and models that agree share it; see :func:`film_crops`),
crops of several frames are batched, and every model scores the same faces
(:func:`~expressions_ensemble.models.scoring.score_models`: one prepared tensor per framing and
preprocessing, one forward pass per set of weights).

Output, per film: a table with a row per face (the study's columns, each model's prefixed
``<model>__``) and a status row (frames read and sampled, faces, seconds, outcome). Films run in
parallel worker processes (spawned: torch after a fork can hang), each writing its own partition the
moment it is done, so a killed run loses only the films in flight.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.faces import FaceDetector, create_detector, select_faces
from expressions_ensemble.imaging import DATASET_FRAMING, CropGeometry, Framing
from expressions_ensemble.labels import prob_column
from expressions_ensemble.models.scoring import Scorable, distinct_networks, model_digest, score_models
from expressions_ensemble.parallel import Prefetch, available_cores
from expressions_ensemble.video import Frame, Sampling, VideoError, iter_frames

logger = logging.getLogger(__name__)

#: Faces kept per frame: the largest (the study) or every face.
FILM_FACE_POLICIES = ("largest", "all")
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
    """Validated ``movie_eval`` settings: sampling and the film's face selection (``face_extraction``
    gives only the default minimum face size). The detector, margin and crop size are each model's own
    (``spec.crop``, see :func:`film_crops`), never today's ``face_extraction`` settings."""

    sampling: Sampling
    face_policy: str = "largest"
    # Films show drawings, posters and animation: BlazeFace gives those up to 0.61 on the real clip
    # no_face.mp4, real and simulated faces 0.83 and more; photos (face_extraction) keep 0.5.
    min_confidence: float = 0.7
    min_face_size: int = 24
    batch_size: int = 32
    workers: int = 1
    redo: bool = False
    # true: each network's test-time flip as its artifact says; false: none on films, half the
    # passes (docs/benchmarks.md: the speed and accuracy it trades on the real clips)
    test_time_flip: bool = True

    @classmethod
    def from_params(cls, params: Mapping[str, Any], face_extraction: Mapping[str, Any]) -> FilmEvalParams:
        from expressions_ensemble.parallel import resolve_workers

        allowed = {
            "sampling", "faces", "batch_size", "workers", "redo", "models", "simulated_films",
            "test_time_flip",
        }  # fmt: skip
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
            batch_size=params.get("batch_size", 32),
            workers=resolve_workers(params.get("workers", 1), "movie_eval.workers"),
            redo=params.get("redo", False),
            test_time_flip=params.get("test_time_flip", cls.test_time_flip),
        )
        policies = ", ".join(FILM_FACE_POLICIES)
        checks = [
            (p.face_policy in FILM_FACE_POLICIES, "faces.policy", p.face_policy, f"one of {policies}"),
            (_number(p.min_confidence) and 0 <= p.min_confidence <= 1, "faces.min_confidence",
             p.min_confidence, "a number in [0, 1]"),
            (_number(p.min_face_size) and p.min_face_size >= 0, "faces.min_face_size", p.min_face_size,
             "a number of pixels >= 0"),
            (_integer(p.batch_size) and p.batch_size >= 1, "batch_size", p.batch_size,
             "an integer >= 1"),
            (isinstance(p.redo, bool), "redo", p.redo, "true or false"),
            (isinstance(p.test_time_flip, bool), "test_time_flip", p.test_time_flip,
             "true (each model's own, as trained) or false (none)"),
        ]  # fmt: skip
        for ok, key, value, allowed_values in checks:
            if not ok:
                raise ValueError(f"movie_eval.{key}: got {value!r}; allowed: {allowed_values}")
        return p


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    spare_workers: int = 1  # networks side by side in a batch that finds the decoder idle (its cores free)


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

    Which stage is the long pole in stride mode depends on the film: a 1080p film at stride 2 waits on
    its decoder, 256×256 clips at stride 10 (MEAD) on the models. A batch that finds the decoder idle
    (its frame queue full, or the film read: nothing is decoded until the models take a frame) runs
    ``spare_workers`` networks side by side, over the decoder's cores too; the others keep to the
    models' share. The choice is made per batch, from the queue, so no film size or stride has to
    be guessed (measured on 2 cores, ``benchmarks/real_clips.py``: see docs/benchmarks.md). With
    detection apart, its thread goes on taking frames during a batch and the decoder resumes at
    once: there are no spare cores to take.
    """
    cores = max(1, int(cores))
    if mode == "keyframes":
        decoder, model_cores, apart = 1, cores, True
    else:
        decoder = max(1, cores // 2)
        model_cores, apart = max(1, cores - decoder), cores >= 3
    workers = max(1, min(model_cores, int(networks)))
    spare = workers if apart else max(workers, min(cores, int(networks)))
    return ThreadPlan(decoder=decoder, models=max(1, model_cores // workers), detect_apart=apart,
                      model_workers=workers, eager_batches=mode == "keyframes",
                      spare_workers=spare)  # fmt: skip


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


@contextlib.contextmanager
def _model_pools(plan: ThreadPlan) -> Iterator[tuple[Executor | None, Executor | None]]:
    """The pool for batches while the decoder works (``model_workers``) and the one for batches that
    find it idle (``spare_workers``); one pool when the two counts agree."""
    with _model_pool(plan.model_workers) as busy:
        if plan.spare_workers == plan.model_workers:
            yield busy, busy
        else:
            with _model_pool(plan.spare_workers) as spare:
                yield busy, spare


class CropMismatchError(ValueError):
    """The models were trained on crops a film cannot serve them all with (faces are detected once)."""


def _geometries(models: Mapping[str, Scorable]) -> dict[str, CropGeometry]:
    """The crop geometry of every network the models run, named ``model`` or ``ensemble.member`` (an
    ensemble carries its members' geometries: ``crops``)."""
    out: dict[str, CropGeometry] = {}
    for name, model in models.items():
        members = getattr(model, "crops", None)
        if isinstance(members, Mapping):
            out |= {f"{name}.{member}": crop for member, crop in members.items()}
        else:
            nets = model.networks()
            out |= {name if len(nets) == 1 else f"{name}[{i}]": n.spec.crop for i, n in enumerate(nets)}
    return out


def film_crops(models: Mapping[str, Scorable]) -> tuple[str, dict[Framing, CropGeometry]]:
    """The detector a film's frames are searched with, and the distinct crop framings its faces are
    cropped with (one crop per framing per face, shared by the models whose geometry agrees).

    The detector is the one the models were trained with; a model whose photos a curated dataset framed
    (detector ``dataset_framing``) takes the others', or the default's when no model names one, and is
    cropped with its geometry's margin and size. Models trained with different detectors cannot be
    served by one detection per frame: :class:`CropMismatchError` names the models and their detectors
    (evaluate them in separate runs, ``movie_eval.models``). Geometries an old artifact did not record
    are the base env's defaults (logged).
    """
    by_detector: dict[str, list[str]] = {}
    framings: dict[Framing, CropGeometry] = {}
    for name, crop in _geometries(models).items():
        if crop.assumed:
            logger.info(
                "%s: no crop geometry in its artifact; cropped with the defaults %s", name, crop.to_dict()
            )
        if crop.detector != DATASET_FRAMING:
            by_detector.setdefault(crop.detector, []).append(name)
        framings.setdefault(crop.framing, crop)
    if len(by_detector) > 1:
        listed = "; ".join(f"{d}: {', '.join(names)}" for d, names in sorted(by_detector.items()))
        raise CropMismatchError(
            f"movie_eval: the models were trained on faces found by different detectors ({listed}); a "
            f"film's faces are detected once per frame: evaluate them in separate runs (movie_eval.models)"
        )
    detector = next(iter(by_detector), CropGeometry().detector)
    return detector, framings


class FilmScorer:
    """A detector and the models, ready to evaluate films one after the other (one per process).

    ``cores``: the cores this process may use (default: all); see :func:`plan_threads`. The detector
    and the crop framings come from the models' own geometries (:func:`film_crops`; a mismatch fails
    here, before any film).
    """

    def __init__(
        self, models: Mapping[str, Scorable], params: FilmEvalParams, cores: int | None = None
    ) -> None:
        self.models = dict(models)
        self.params = params
        self.cores = cores if cores is not None else available_cores()
        self.detector_name, self.framings = film_crops(self.models)
        self._detector: FaceDetector | None = None

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = create_detector(self.detector_name, min_confidence=self.params.min_confidence)
        return self._detector

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def _flush(
        self,
        crops: Mapping[Framing, list[np.ndarray]],
        meta: list[dict[str, Any]],
        out: list[dict[str, Any]],
        executor: Executor | None = None,
    ) -> None:
        if not meta:
            return
        probs = score_models(self.models, crops, self.params.batch_size, executor, self.params.test_time_flip)
        for name, model in self.models.items():
            p = probs[name]
            best = p.argmax(axis=1)
            for row, values, k in zip(meta, p, best, strict=True):
                for c, v in zip(model.classes, values, strict=True):
                    row[f"{name}__{prob_column(c)}"] = float(v)
                row[f"{name}__emotion"] = model.classes[k]
                row[f"{name}__confidence"] = float(values[k])
        out.extend(meta)
        for framed in crops.values():
            framed.clear()
        meta.clear()

    def _faces(
        self, frames: Iterator[Frame], movie: str, area: float
    ) -> Iterator[tuple[dict[Framing, list[np.ndarray]], list[dict[str, Any]]]]:
        """Per sampled frame, the crops of its chosen faces per framing and their rows (without model
        columns)."""
        p = self.params
        for frame in frames:
            chosen, _ = select_faces(self.detector.detect(frame.rgb), p.face_policy, p.min_face_size)
            crops = {
                framing: [geometry.crop(frame.rgb, (b.x, b.y, b.w, b.h), b.eyes) for b in chosen]
                for framing, geometry in self.framings.items()
            }
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
        crops: dict[Framing, list[np.ndarray]] = {framing: [] for framing in self.framings}
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
            _model_pools(plan) as (busy, spare),
            Prefetch(reader, depth=p.batch_size) as frames,
            _ahead(self._faces(frames, movie, area), plan.detect_apart, 2 * p.batch_size) as found,
        ):
            eager = plan.eager_batches and isinstance(found, Prefetch)  # a queue to look into
            for frame_crops, frame_meta in found:
                with_faces += bool(frame_meta)
                for framing, framed in frame_crops.items():
                    crops[framing].extend(framed)
                meta.extend(frame_meta)
                if len(meta) >= p.batch_size or (eager and len(meta) >= eager_min and not found.ready()):
                    self._flush(crops, meta, rows, spare if frames.producer_idle() else busy)
                bar.update(1)
            self._flush(crops, meta, rows, spare)  # the film is read: the decoder's cores are free
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
    key: Mapping[str, Any]  # the film's resume key (see resume_key), stored with its status


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
    """Evaluate one film and store it with its resume key.

    A file that cannot be read is this film's outcome (:meth:`FilmScorer.evaluate` turns it into one);
    any other exception is a bug or a bad setting that would fail every film alike, so it ends the
    run, with the film named, instead of becoming a per-film outcome.
    """
    scorer: FilmScorer = _worker["scorer"]
    try:
        faces, status = scorer.evaluate(job.movie, job.path, position=_slot())
    except Exception as exc:
        exc.add_note(f"while evaluating the film {job.movie!r} ({job.path})")
        raise
    job.store.save(job.movie, faces, {**status, "models": sorted(job.key["models"]), "resume_key": job.key})
    return status


# ------------------------------------------------------------------------------------------- resume

#: Outcomes of a film that was read to its end: kept by a re-run with the same key. Any other outcome
#: (``empty_file``, ``not_a_video``, ``corrupt``, ``no_frames``, ``truncated`` …) is tried again.
FINISHED_OUTCOMES = ("ok", "no_faces")
#: FilmEvalParams fields that change no number of the output (how the work is spread, resuming).
_NOT_IN_KEY = ("batch_size", "workers", "redo")


def settings_key(params: FilmEvalParams) -> dict[str, Any]:
    """The settings that change a film's output: the sampling (the field its mode uses) and the face
    choice (the detector and crop geometry are each model's, inside its digest)."""
    out = {k: v for k, v in asdict(params).items() if k not in _NOT_IN_KEY and k != "sampling"}
    sampling = params.sampling
    out["sampling"] = {"mode": sampling.mode}
    if sampling.mode in ("stride", "seconds"):
        out["sampling"][sampling.mode] = getattr(sampling, sampling.mode)
    return json.loads(json.dumps(out, sort_keys=True, default=str))  # as stored: tuples become lists


def file_key(path: str) -> dict[str, int]:
    """The film file as it is now: size and modification time (a replaced file changes either)."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def resume_key(path: str, digests: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a finished film's output depends on; a re-run keeps the film only when all of it is equal."""
    return {"file": file_key(path), "models": dict(sorted(digests.items())), "settings": dict(settings)}


def why_again(before: Mapping[str, Any], key: Mapping[str, Any]) -> str | None:
    """Why a film stored as ``before`` must be evaluated again under ``key``, or ``None`` to keep it."""
    if before.get("outcome") not in FINISHED_OUTCOMES:
        return f"it failed before ({before.get('outcome')}); trying again"
    old = before.get("resume_key")
    if not isinstance(old, Mapping):
        return "it was stored without a resume key (an older run)"
    if old.get("file") != key["file"]:
        return f"the film file changed (size, mtime {old.get('file')} -> {key['file']})"
    old_models, models = old.get("models") or {}, key["models"]
    if set(old_models) != set(models):
        return f"the models changed ({sorted(old_models)} -> {sorted(models)})"
    if changed := sorted(m for m in models if old_models[m] != models[m]):
        return f"models {changed} were retrained (their artifact changed)"
    if old.get("settings") != key["settings"]:
        old_settings, settings = old.get("settings") or {}, key["settings"]
        names = sorted(k for k in set(old_settings) | set(settings) if old_settings.get(k) != settings.get(k))
        return f"the settings {names} changed"
    return None


def evaluate_films(
    films: pd.DataFrame,
    models: Mapping[str, Scorable],
    params: FilmEvalParams,
    store: PredictionStore,
) -> pd.DataFrame:
    """Evaluate the matched films (see :func:`~expressions_ensemble.movies.match_films`); the status
    table has a row per listed film.

    A film read to its end before (outcome ok or no_faces) is not redone (``resumed`` true) while its
    file (size, mtime), every model (:func:`model_digest`) and the settings (:func:`settings_key`) are
    unchanged, unless ``redo``; a failed film is tried again. Each film redone says why in the log.
    """
    from expressions_ensemble.models.artifact import model_bytes
    from expressions_ensemble.parallel import map_ordered

    film_crops(models)  # models a film cannot serve fail here, not in every worker
    digests = {name: model_digest(m) for name, m in models.items()}
    settings = settings_key(params)
    rows: dict[str, dict[str, Any]] = {}
    jobs = []
    again = 0
    for film in films.itertuples():
        base = {"movie": film.movie, "file_name": film.file_name, "title": film.title}
        base["category"] = film.category
        if film.match != "found":
            logger.warning("%s: %s (%s)", film.movie, film.match, film.detail)
            rows[film.movie] = base | {"outcome": film.match, "detail": film.detail, "resumed": False}
            continue
        try:
            key = resume_key(film.path, digests, settings)
        except OSError as exc:  # gone since the folder was listed
            detail = f"{film.path}: {exc.strerror or exc}"
            logger.warning("%s: missing_file (%s)", film.movie, detail)
            rows[film.movie] = base | {"outcome": "missing_file", "detail": detail, "resumed": False}
            continue
        before = None if params.redo else store.finished(film.movie)
        reason = why_again(before, key) if before is not None else None
        if before is not None and reason is None:
            kept = {k: v for k, v in before.items() if k not in ("models", "resume_key")}
            rows[film.movie] = base | kept | {"resumed": True}
            continue
        if reason is not None:
            logger.info("%s: evaluated again: %s", film.movie, reason)
            again += 1
        rows[film.movie] = base
        jobs.append(FilmJob(film.movie, film.path, store, key))
    resumed = sum(bool(r.get("resumed")) for r in rows.values())
    logger.info(
        "movie_eval: %d films to evaluate (%d of them again, reasons above), %d skipped as finished before "
        "with the same file, models and settings, %d without a usable file",
        len(jobs), again, resumed, len(rows) - len(jobs) - resumed,
    )  # fmt: skip
    workers = max(1, min(params.workers, len(jobs)))
    if jobs:
        threads = max(1, available_cores() // workers)
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
