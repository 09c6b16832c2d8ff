"""Simulated films with a per-frame truth: shots of drawn actors, camera moves, genre-typical emotions.

The study judged models on real films by genre (comedies should look happier than crime films) and over
time; the offline default run needs films whose truth is known frame by frame. A film here is a list of
:class:`Shot`s (duration, the emotions of its 0–2 faces, optionally a change of expression half-way,
a camera move). Each shot is drawn once per expression (a background from
:func:`~expressions_ensemble.simulation.render.render_background`, faces from
:func:`~expressions_ensemble.simulation.render.random_face_spec` and
:func:`~expressions_ensemble.simulation.render.draw_face`) on a canvas a little larger than the frame;
every frame is then one ``cv2.warpAffine`` of that picture (pan, push-in, handheld shake), so a minute
of film costs about as much as encoding it. The same affine maps each face's box into frame pixels,
which is the truth.

Knows nothing of Kedro: numpy, OpenCV, pandas and :mod:`expressions_ensemble.labels`; every pixel and
truth row is a pure function of the spec and the seed.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from expressions_ensemble.files import replaced_on_success
from expressions_ensemble.labels import EMOTIONS
from expressions_ensemble.simulation.render import (
    FaceSpec,
    draw_face,
    face_box,
    random_face_spec,
    render_background,
)

#: Camera moves a shot can have: a still frame with a little handheld shake, a slow zoom towards the
#: faces, a sideways pan.
CAMERA_MOVES: tuple[str, ...] = ("static", "push_in", "pan")

#: Most faces a shot shows (two-shots are the densest framing the detector sees reliably at 640×360).
MAX_FACES = 2

#: Columns of a film's truth: one row per (frame, face); a frame without faces has one row with
#: ``face_idx`` -1 and no emotion or box.
TRUTH_COLUMNS: tuple[str, ...] = (
    "frame_idx",
    "timestamp_sec",
    "shot",
    "face_idx",
    "emotion",
    "x",
    "y",
    "w",
    "h",
)

#: The study's movie-list columns.
MOVIE_LIST_COLUMNS: tuple[str, ...] = ("file_name", "title", "category")


@dataclass(frozen=True)
class Shot:
    """One shot: how long it lasts, the emotion of each face (``()`` = nobody in frame), optionally the
    emotions the same faces change to half-way (``later``), and the camera move."""

    duration_sec: float
    emotions: tuple[str, ...] = ()
    later: tuple[str, ...] | None = None
    camera: str = "static"

    def __post_init__(self) -> None:
        duration = self.duration_sec
        if isinstance(duration, bool) or not isinstance(duration, Real) or not 0 < duration < math.inf:
            raise ValueError(f"Shot.duration_sec must be a number > 0, got {self.duration_sec!r}")
        object.__setattr__(self, "emotions", tuple(self.emotions))
        if len(self.emotions) > MAX_FACES:
            raise ValueError(f"Shot.emotions: at most {MAX_FACES} faces per shot, got {len(self.emotions)}")
        if self.later is not None:
            object.__setattr__(self, "later", tuple(self.later))
            if len(self.later) != len(self.emotions):
                raise ValueError(
                    f"Shot.later must give one emotion per face ({len(self.emotions)}), got {self.later!r}"
                )
        for name in (*self.emotions, *(self.later or ())):
            if name not in EMOTIONS:
                raise ValueError(f"Shot: unknown emotion {name!r}; allowed: {', '.join(EMOTIONS)}")
        if self.camera not in CAMERA_MOVES:
            raise ValueError(f"Shot.camera: unknown move {self.camera!r}; allowed: {', '.join(CAMERA_MOVES)}")


@dataclass(frozen=True)
class FilmSpec:
    """A film to render: ``name`` is the file stem (the movie list's ``file_name``), ``genre`` its
    category as the study spells it, ``size`` is ``(width, height)``."""

    name: str
    title: str
    genre: str
    shots: tuple[Shot, ...]
    fps: float = 24.0
    size: tuple[int, int] = (640, 360)

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise ValueError(f"FilmSpec.name must be a plain file stem, got {self.name!r}")
        object.__setattr__(self, "shots", tuple(self.shots))
        if not self.shots:
            raise ValueError(f"FilmSpec {self.name!r}: at least one shot is required")
        if isinstance(self.fps, bool) or not isinstance(self.fps, Real) or not 0 < self.fps < math.inf:
            raise ValueError(f"FilmSpec {self.name!r}: fps must be a number > 0, got {self.fps!r}")
        width, height = self.size
        if width < 64 or height < 64 or width % 2 or height % 2:
            raise ValueError(f"FilmSpec {self.name!r}: size must be even and at least 64×64, got {self.size}")
        if min(self.shot_frames) < 1:
            raise ValueError(
                f"FilmSpec {self.name!r}: every shot must last at least one frame at {self.fps} fps"
            )

    @property
    def shot_frames(self) -> tuple[int, ...]:
        """Frames per shot; boundaries are rounded on the running time, so lengths never drift."""
        ends = np.round(np.cumsum([s.duration_sec for s in self.shots]) * self.fps).astype(int)
        return tuple(int(n) for n in np.diff(np.concatenate([[0], ends])))

    @property
    def frame_count(self) -> int:
        return int(sum(self.shot_frames))

    @property
    def duration_sec(self) -> float:
        return self.frame_count / self.fps

    @property
    def video_file(self) -> str:
        """File name of the rendered video."""
        return f"{self.name}.mp4"


# ---------------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class GenreMix:
    """How a genre's shots are drawn: emotion weights per act (a film is split into equal acts, so a
    drama can move from sad to happy), the share of shots without faces and of two-shots."""

    acts: tuple[Mapping[str, float], ...]
    no_face_share: float = 0.2
    two_face_share: float = 0.25
    change_share: float = 0.15  # face shots whose expression changes half-way
    grade: tuple[float, tuple[float, float, float]] = (1.0, (1.0, 1.0, 1.0))  # (gain, RGB cast)

    def __post_init__(self) -> None:
        for act in self.acts:
            unknown = set(act) - set(EMOTIONS)
            if unknown or not act or min(act.values()) <= 0:
                raise ValueError(f"GenreMix: weights must be > 0 for known emotions, got {dict(act)}")


#: The genres of the default films, named as the study's movie list names its categories.
GENRE_MIXES: dict[str, GenreMix] = {
    "Comedy": GenreMix(
        acts=({"happy": 0.55, "surprise": 0.3, "neutral": 0.15},),
        grade=(1.06, (1.05, 1.0, 0.93)),  # warm and bright
    ),
    "Crime": GenreMix(
        acts=({"angry": 0.36, "fear": 0.34, "sad": 0.3},),
        no_face_share=0.25,
        grade=(0.88, (0.92, 0.98, 1.08)),  # cool and darker
    ),
    "Drama": GenreMix(
        acts=(
            {"sad": 0.65, "neutral": 0.35},
            {"neutral": 0.5, "sad": 0.25, "happy": 0.25},
            {"happy": 0.75, "neutral": 0.25},
        ),
        grade=(0.97, (1.0, 0.99, 0.97)),
    ),
}


def _pick(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def plan_film(
    genre: str,
    *,
    name: str,
    title: str,
    duration_sec: float,
    seed: int,
    fps: float = 24.0,
    size: tuple[int, int] = (640, 360),
    shot_sec: tuple[float, float] = (2.0, 5.0),
) -> FilmSpec:
    """Draw a film's shot list from its genre's mix: a pure function of the arguments.

    Shots last ``shot_sec`` seconds (uniform); the last one is cut to end the film on time. Whatever the
    draw, the film has at least one shot without faces and, when it has three shots or more, a two-shot.
    """
    if genre not in GENRE_MIXES:
        raise ValueError(f"film genre: unknown {genre!r}; allowed: {', '.join(GENRE_MIXES)}")
    if not duration_sec > 0:
        raise ValueError(f"film duration_sec must be > 0, got {duration_sec!r}")
    mix = GENRE_MIXES[genre]
    rng = np.random.default_rng([seed, zlib.crc32(genre.encode())])
    durations: list[float] = []
    while sum(durations) < duration_sec - 1e-9:
        durations.append(min(float(rng.uniform(*shot_sec)), duration_sec - sum(durations)))
    if len(durations) > 1 and durations[-1] * fps < 12:  # a sliver of a shot: fold it into the previous one
        durations[-2] += durations.pop()
    n = len(durations)
    draws = rng.random(n)
    kinds = [
        "none" if r < mix.no_face_share else "two" if r < mix.no_face_share + mix.two_face_share else "one"
        for r in draws
    ]
    if "none" not in kinds:
        kinds[int(rng.integers(n))] = "none"
    if n >= 3 and "two" not in kinds:
        kinds[next(i for i in range(n) if kinds[i] != "none")] = "two"
    shots = []
    start = 0.0
    for duration, kind in zip(durations, kinds, strict=True):
        act = mix.acts[min(len(mix.acts) - 1, int(len(mix.acts) * (start + duration / 2) / duration_sec))]
        faces = {"none": 0, "one": 1, "two": 2}[kind]
        emotions = tuple(_pick(rng, act) for _ in range(faces))
        later = None
        if faces and len(act) > 1 and rng.random() < mix.change_share:
            later = tuple(_pick(rng, {e: w for e, w in act.items() if e != now}) for now in emotions)
        camera = CAMERA_MOVES[int(rng.choice(len(CAMERA_MOVES), p=[0.4, 0.35, 0.25]))]
        shots.append(Shot(duration, emotions, later, camera))
        start += duration
    return FilmSpec(name=name, title=title, genre=genre, shots=tuple(shots), fps=fps, size=size)


#: The offline default run's films: a comedy (happy, surprised), a crime film (angry, fearful, sad) and a
#: drama that moves from sad and neutral to happy; each with shots without faces and two-shots.
DEFAULT_FILMS: tuple[FilmSpec, ...] = (
    plan_film("Comedy", name="sim_comedy", title="Simulated Comedy", duration_sec=40.0, seed=1),
    plan_film("Crime", name="sim_crime", title="Simulated Crime", duration_sec=40.0, seed=2),
    plan_film("Drama", name="sim_drama", title="Simulated Drama", duration_sec=30.0, seed=3),
    # a second, shorter film of each of the report's two focus genres, so that the genre claim (which
    # needs reporting.min_films_per_genre films per genre) is evaluated on the demo
    plan_film("Comedy", name="sim_comedy_2", title="Simulated Comedy II", duration_sec=24.0, seed=4),
    plan_film("Crime", name="sim_crime_2", title="Simulated Crime II", duration_sec=24.0, seed=5),
)


def movie_list(films: Iterable[FilmSpec]) -> pd.DataFrame:
    """The study's movie list (``file_name`` = file stem, ``title``, ``category`` = genre) of ``films``."""
    rows = [{"file_name": f.name, "title": f.title, "category": f.genre} for f in films]
    names = [r["file_name"] for r in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"movie list: film names must be unique, got {names}")
    return pd.DataFrame(rows, columns=list(MOVIE_LIST_COLUMNS))


# --------------------------------------------------------------------------------------- rendering

#: Canvas size as a share of the frame: room for the camera to pan and shake without showing an edge.
_CANVAS = (1.2, 1.08)
#: Largest pan, as a share of the frame width (half of it each side of the canvas centre).
_PAN = 0.08
#: Zoom at the end of a push-in.
_PUSH = 1.12
#: Handheld shake amplitude in pixels.
_SHAKE = 1.5


@dataclass(frozen=True, eq=False)
class FilmFrame:
    """One rendered frame and the faces on it (emotion and ``(x, y, w, h)`` box in frame pixels)."""

    frame_idx: int
    timestamp_sec: float
    shot: int
    rgb: np.ndarray
    faces: tuple[tuple[str, tuple[int, int, int, int]], ...] = field(default=())


@dataclass(frozen=True)
class _ShotPlan:
    pictures: tuple[np.ndarray, ...]  # one per expression (before / after the change)
    faces: tuple[tuple[FaceSpec, ...], ...]
    camera: str
    focus: tuple[float, float]  # canvas point a push-in moves towards
    pan_dir: float
    phases: tuple[float, float, float, float]


def _place(
    rng: np.random.Generator, n: int, fw: int, fh: int, cw: int, ch: int
) -> list[tuple[float, float, float]]:
    """Centres and sizes (canvas pixels) of ``n`` faces that stay in view whatever the camera does."""
    pan = _PAN * fw / 2
    # region seen at every pan position and zoom (the push-in moves towards the faces, so it keeps them)
    x0, x1 = (cw - fw) / 2 + pan, (cw + fw) / 2 - pan
    y0 = (ch - fh) / 2
    if n == 1:
        room = x1 - x0 - 0.2 * fw  # a tenth of the frame free on each side
        size = min(float(rng.uniform(0.44, 0.58)) * fh, 0.95 * room)  # a portrait frame limits the width
        cx = float(rng.uniform(x0 + 0.1 * fw + size / 2, x1 - 0.1 * fw - size / 2))
        cy = float(rng.uniform(y0 + 0.5 * fh - 0.06 * fh, y0 + 0.5 * fh + 0.02 * fh))
        return [(cx, cy, size)]
    sizes = rng.uniform(0.36, 0.44, n) * fh
    gap = float(rng.uniform(0.02, 0.1)) * fw
    widths = 1.24 * sizes  # head with hair
    total = float(widths.sum()) + gap
    shrink = min(1.0, 0.96 * (x1 - x0) / total)  # two heads side by side must fit a narrow frame
    sizes, widths, gap, total = sizes * shrink, widths * shrink, gap * shrink, total * shrink
    left = float(rng.uniform(x0 + 0.02 * fw, max(x0 + 0.02 * fw, x1 - 0.02 * fw - total)))
    out = []
    for size, width in zip(sizes, widths, strict=True):
        cy = float(rng.uniform(y0 + 0.5 * fh - 0.05 * fh, y0 + 0.5 * fh + 0.05 * fh))
        out.append((left + width / 2, cy, float(size)))
        left += width + gap
    return out


def _grade(img: np.ndarray, rng: np.random.Generator, gain: float, cast: Sequence[float]) -> np.ndarray:
    """The genre's colour grade and a light film grain (drawn once per picture, not per frame)."""
    scale = np.asarray(cast, np.float32) * np.float32(gain)
    out = img.astype(np.float32) * scale
    out += rng.normal(0.0, 2.0, (*img.shape[:2], 1)).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _plan_shot(spec: FilmSpec, shot: Shot, rng: np.random.Generator) -> _ShotPlan:
    fw, fh = spec.size
    cw, ch = round(fw * _CANVAS[0]), round(fh * _CANVAS[1])
    mix = GENRE_MIXES.get(spec.genre)
    gain, cast = mix.grade if mix is not None else (1.0, (1.0, 1.0, 1.0))
    clutter = float(rng.uniform(0.5, 1.0) if not shot.emotions else rng.uniform(0.3, 0.9))
    background = render_background(rng, ch, cw, clutter)
    places = _place(rng, len(shot.emotions), fw, fh, cw, ch) if shot.emotions else []
    specs = tuple(
        random_face_spec(
            rng, emotion, (ch, cw), "stock", center=(cx, cy), size=size, intensity=rng.uniform(0.75, 1.0)
        )
        for emotion, (cx, cy, size) in zip(shot.emotions, places, strict=True)
    )
    versions = [specs]
    if shot.later is not None:
        versions.append(tuple(replace(s, emotion=e) for s, e in zip(specs, shot.later, strict=True)))
    grain_seed = int(rng.integers(2**31))
    pictures = []
    for faces in versions:
        canvas = background.copy()
        for face in sorted(faces, key=lambda f: f.center[1]):
            draw_face(canvas, face)
        pictures.append(_grade(canvas, np.random.default_rng(grain_seed), gain, cast))
    focus = (
        (float(np.mean([p[0] for p in places])), float(np.mean([p[1] for p in places])))
        if places
        else (cw / 2, ch / 2)
    )
    return _ShotPlan(
        pictures=tuple(pictures),
        faces=tuple(versions),
        camera=shot.camera,
        focus=focus,
        pan_dir=1.0 if rng.random() < 0.5 else -1.0,
        phases=tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 4)),  # type: ignore[arg-type]
    )


def _camera(plan: _ShotPlan, u: float, t: float, fw: int, fh: int, cw: int, ch: int) -> np.ndarray:
    """Affine canvas → frame at shot progress ``u`` in [0, 1] and time ``t`` seconds into the shot."""
    cx, cy, zoom = cw / 2, ch / 2, 1.0
    if plan.camera == "pan":
        cx += plan.pan_dir * (u - 0.5) * _PAN * fw
    elif plan.camera == "push_in":
        ease = u * u * (3 - 2 * u)
        zoom = 1.0 + (_PUSH - 1.0) * ease
        cx += (plan.focus[0] - cx) * 0.6 * ease
        cy += (plan.focus[1] - cy) * 0.6 * ease
    p = plan.phases
    cx += _SHAKE * (math.sin(2.1 * t + p[0]) + 0.5 * math.sin(5.3 * t + p[1]))
    cy += _SHAKE * (math.sin(1.7 * t + p[2]) + 0.5 * math.sin(4.1 * t + p[3]))
    half_w, half_h = fw / (2 * zoom), fh / (2 * zoom)  # keep the view on the canvas
    cx = min(max(cx, half_w), cw - half_w)
    cy = min(max(cy, half_h), ch - half_h)
    return np.array([[zoom, 0.0, fw / 2 - zoom * cx], [0.0, zoom, fh / 2 - zoom * cy]], dtype=np.float64)


def _box_in_frame(face: FaceSpec, m: np.ndarray, fw: int, fh: int) -> tuple[int, int, int, int]:
    x, y, w, h = face_box(face)
    zoom, tx, ty = m[0, 0], m[0, 2], m[1, 2]
    x0, y0 = max(0.0, x * zoom + tx), max(0.0, y * zoom + ty)
    x1, y1 = min(float(fw), (x + w) * zoom + tx), min(float(fh), (y + h) * zoom + ty)
    return round(x0), round(y0), max(0, round(x1) - round(x0)), max(0, round(y1) - round(y0))


def _film_rng(spec: FilmSpec, seed: int, shot: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(spec.name.encode()), shot])


def film_frames(spec: FilmSpec, seed: int = 0) -> Iterator[FilmFrame]:
    """The film's frames in order, with the faces on each; one shot's pictures in memory at a time.

    Each shot has its own random stream (seed, film name, shot number), so editing one shot leaves the
    others' pixels unchanged.
    """
    fw, fh = spec.size
    cw, ch = round(fw * _CANVAS[0]), round(fh * _CANVAS[1])
    frame_idx = 0
    for shot_no, (shot, n_frames) in enumerate(zip(spec.shots, spec.shot_frames, strict=True)):
        plan = _plan_shot(spec, shot, _film_rng(spec, seed, shot_no))
        switch = n_frames // 2 if len(plan.pictures) > 1 else n_frames
        for k in range(n_frames):
            version = 0 if k < switch else 1
            m = _camera(plan, k / max(1, n_frames - 1), k / spec.fps, fw, fh, cw, ch)
            rgb = cv2.warpAffine(
                plan.pictures[version], m, (fw, fh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            faces = tuple((f.emotion, _box_in_frame(f, m, fw, fh)) for f in plan.faces[version])
            yield FilmFrame(frame_idx, frame_idx / spec.fps, shot_no, rgb, faces)
            frame_idx += 1


def truth_rows(frame: FilmFrame) -> list[dict[str, object]]:
    """The truth rows of one frame (one per face, or one faceless row)."""
    base = {"frame_idx": frame.frame_idx, "timestamp_sec": frame.timestamp_sec, "shot": frame.shot}
    if not frame.faces:
        return [{**base, "face_idx": -1, "emotion": None, "x": None, "y": None, "w": None, "h": None}]
    return [
        {**base, "face_idx": i, "emotion": emotion, "x": x, "y": y, "w": w, "h": h}
        for i, (emotion, (x, y, w, h)) in enumerate(frame.faces)
    ]


def _truth_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    df = df.astype({"frame_idx": "int64", "timestamp_sec": "float64", "shot": "int64", "face_idx": "int64"})
    for col in ("x", "y", "w", "h"):
        df[col] = df[col].astype("Int64")
    df["emotion"] = df["emotion"].astype(object).where(df["emotion"].notna(), None)
    return df


def film_truth(spec: FilmSpec, seed: int = 0) -> pd.DataFrame:
    """The film's truth (:data:`TRUTH_COLUMNS`) without writing the video: the same frames as
    :func:`render_film` (one warp each), for a film rendered before."""
    return _truth_frame([row for frame in film_frames(spec, seed) for row in truth_rows(frame)])


def render_film(spec: FilmSpec, path: str | Path, seed: int = 0) -> pd.DataFrame:
    """Write the film as an mp4 (MPEG-4 part 2, OpenCV's 'mp4v') and return its truth (:data:`TRUTH_COLUMNS`).

    The video is written beside ``path`` and renamed into place when complete, so an interrupted run
    never leaves a half film under the final name.
    """
    path = Path(path)
    fw, fh = spec.size
    rows: list[dict[str, object]] = []
    # a unique temporary name: two runs rendering the same film at once each write their own file
    with replaced_on_success(path, suffix=f".partial{path.suffix or '.mp4'}") as partial:
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), float(spec.fps), (fw, fh))
        if not writer.isOpened():
            raise OSError(f"cannot write a video at {partial} (OpenCV's mp4v writer did not open)")
        try:
            for frame in film_frames(spec, seed):
                writer.write(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
                rows.extend(truth_rows(frame))
        finally:
            writer.release()
    return _truth_frame(rows)
