"""The one home of video input: probe a film, then sample its frames (stride, seconds or keyframes).

Films are long, so frames come from a generator and memory stays flat whatever the length. Two decoders
share the work, each where it is strong:

* **stride / seconds** read with OpenCV's FFmpeg backend: every frame is *grabbed* (decoded, needed as a
  reference anyway) but only sampled frames are *retrieved* (converted to RGB), the expensive step.
* **keyframes** (the fast mode) read with PyAV and tell the decoder to skip every non-key frame
  (``skip_frame = "NONKEY"``), which OpenCV cannot do; packets are still demuxed (cheap) so each keyframe
  gets its true index in the stream.

Both modes give the same picture for the same ``frame_idx``: frames are counted in the order the decoder
shows them (presentation order, the order OpenCV returns them), rotation metadata is applied (OpenCV
does it itself with ``CAP_PROP_ORIENTATION_AUTO``; keyframes are turned the same way here), and
timestamps are the stream's presentation timestamps relative to its start.

A file that cannot be used raises :class:`VideoError` from :func:`probe_video` (or when a reader is
made); a file that breaks *during* reading never raises: the reader stops and says why in
:attr:`FrameReader.outcome`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    import av.container
    import av.video.frame


#: Extensions a film file may have (a movie list names films with or without one).
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4", ".mkv", ".avi", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".ts", ".flv",
)  # fmt: skip


def film_stem(name: object, extra_suffixes: tuple[str, ...] = ()) -> str:
    """A film's name without folder or a known video extension (``2_guns.mp4`` → ``2_guns``): how a
    movie list, a films folder and the per-film predictions name the same film."""
    text = str(name).strip().replace("\\", "/").rsplit("/", 1)[-1]
    lower = text.lower()
    for suffix in (*VIDEO_EXTENSIONS, *extra_suffixes):
        if lower.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


class VideoError(ValueError):
    """A file that is not a usable video; ``reason`` is a short machine-readable outcome.

    Reasons: ``missing_file``, ``empty_file``, ``not_a_video`` (not a video container, an image, audio
    only), ``corrupt`` (a video container that cannot be opened, e.g. an mp4 cut before its index),
    ``no_frames`` (opens, but not one frame decodes).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, as a viewer shows it.

    ``width``/``height`` are displayed sizes (after rotation); ``rotation`` is the clockwise turn in
    degrees that the metadata asks for (0, 90, 180, 270: the classic ``rotate`` tag, OpenCV's
    ``CAP_PROP_ORIENTATION_META``). ``fps`` is the average frame rate (``None`` when the file does not
    say); ``frame_count`` is exact when it comes from the container's index (mp4/mov), the header's
    count otherwise, ``None`` when unknown (e.g. Matroska, raw streams). ``codec`` is FFmpeg's codec name.
    """

    path: str
    fps: float | None
    frame_count: int | None
    width: int
    height: int
    rotation: int
    duration_sec: float | None
    codec: str
    container: str


#: FFmpeg demuxers of picture files (besides the ``*_pipe`` ones): a photo opens as a one-frame
#: "video", and an animated GIF is no film either; both are refused.
_IMAGE_DEMUXERS = ("image2", "image2pipe", "gif", "apng")

#: First bytes of video containers; a file that starts like one but does not open is ``corrupt``.
_CONTAINER_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # mp4, mov, 3gp
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"wide"),
    (4, b"free"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # AVI
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
    (0, b"OggS"),
    (0, b"FLV"),
)


def _clean_rate(value: object) -> float | None:
    """A frame rate as a positive finite float, ``None`` when unknown (0, NaN, missing)."""
    if value is None:
        return None
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def _clean_count(value: object) -> int | None:
    """A frame count as a positive int, ``None`` when unknown (0, negative, NaN)."""
    try:
        count = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return int(count) if math.isfinite(count) and count >= 1 else None


def _looks_like_container(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(189)
    if len(head) == 189 and head[0] == head[188] == 0x47:  # MPEG-TS: a sync byte every 188 bytes
        return True
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _CONTAINER_MAGIC)


def _open_container(path: Path) -> av.container.InputContainer:
    """Open with PyAV, turning FFmpeg's failures into :class:`VideoError` reasons."""
    import av

    if not path.exists():
        raise VideoError("missing_file", str(path))
    if not path.is_file():
        raise VideoError("not_a_video", f"{path} is not a file")
    if path.stat().st_size == 0:
        raise VideoError("empty_file", f"{path}: zero bytes")
    try:
        container = av.open(str(path), "r")
    except av.error.FFmpegError as exc:
        if _looks_like_container(path):
            raise VideoError("corrupt", f"{path}: a video container that does not open ({exc})") from None
        raise VideoError("not_a_video", f"{path}: {exc}") from None
    fmt = container.format.name
    if fmt in _IMAGE_DEMUXERS or fmt.endswith("_pipe"):
        container.close()
        raise VideoError("not_a_video", f"{path}: an image file, not a film ({fmt})")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        if kinds:
            raise VideoError("not_a_video", f"{path}: no video stream (streams: {', '.join(kinds)})")
        raise VideoError("no_frames", f"{path}: the container holds no stream")
    return container


def _indexed_frame_count(stream: Any) -> int | None:
    """Frames the container's index lists (edit-list discards excluded), when it lists every frame."""
    try:
        entries = stream.index_entries
        total = len(entries)
    except (AttributeError, TypeError):  # pragma: no cover - PyAV builds without index access
        return None
    if total == 0 or total != stream.frames:
        return None  # an index of keyframes only (Matroska cues) says nothing of the frame count
    return sum(1 for entry in entries if not entry.is_discard)


def _rotation_cw(frame: av.video.frame.VideoFrame) -> int:
    """Clockwise display rotation of a decoded frame (PyAV reports it counter-clockwise)."""
    ccw = float(getattr(frame, "rotation", 0) or 0)
    return int(round(-ccw / 90.0)) % 4 * 90


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's metadata and check that its first frame decodes.

    Raises :class:`VideoError` (missing_file, empty_file, not_a_video, corrupt, no_frames).
    """
    import av

    path = Path(path)
    container = _open_container(path)
    try:
        stream = container.streams.video[0]
        decoded = container.decode(stream)
        try:
            first = next(decoded, None)
        except av.error.FFmpegError as exc:
            raise VideoError("no_frames", f"{path}: the first frame does not decode ({exc})") from None
        finally:
            decoded.close()  # before the container closes: a live decode generator outliving it crashes
        if first is None:
            raise VideoError("no_frames", f"{path}: no frame decodes")
        rotation = _rotation_cw(first)
        coded_w, coded_h = first.width, first.height
        frame_count = _indexed_frame_count(stream) or _clean_count(stream.frames)
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # AV_TIME_BASE
        return VideoInfo(
            path=str(path),
            fps=_clean_rate(stream.average_rate),
            frame_count=frame_count,
            width=coded_h if rotation in (90, 270) else coded_w,
            height=coded_w if rotation in (90, 270) else coded_h,
            rotation=rotation,
            duration_sec=duration if duration is not None and duration > 0 else None,
            codec=stream.codec_context.name,
            container=container.format.name,
        )
    finally:
        container.close()


# ------------------------------------------------------------------------------------------ sampling

#: How frames are picked: every Nth frame, the first frame at or after each multiple of S seconds, or
#: only the keyframes (fast: the decoder skips every other frame).
SAMPLING_MODES: tuple[str, ...] = ("stride", "seconds", "keyframes")

_SAMPLING_KEYS = ("mode", "stride", "seconds")


def _check_sampling(mode: object, stride: object, seconds: object, key: str) -> None:
    """Fail naming ``key`` and the allowed values when a sampling setting is unusable."""
    if mode not in SAMPLING_MODES:
        raise ValueError(f"{key}.mode: unknown mode {mode!r}; allowed: {', '.join(SAMPLING_MODES)}")
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise ValueError(f"{key}.stride must be an integer >= 1 (every Nth frame), got {stride!r}")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float | np.integer | np.floating)
        or not math.isfinite(float(seconds))
        or seconds <= 0
    ):
        raise ValueError(f"{key}.seconds must be a number > 0 (seconds between samples), got {seconds!r}")


@dataclass(frozen=True)
class Sampling:
    """Which frames of a film are looked at; ``stride`` is used by the stride mode, ``seconds`` by the
    seconds mode (both are kept so that one parameter block switches modes by its ``mode`` alone)."""

    mode: str = "stride"
    stride: int = 100
    seconds: float = 1.0

    def __post_init__(self) -> None:
        _check_sampling(self.mode, self.stride, self.seconds, "sampling")

    @classmethod
    def from_params(cls, params: object, key: str = "movie_eval.sampling") -> Sampling:
        """Build from a parameter block such as ``{mode: stride, stride: 100}``; errors name ``key``."""
        if not isinstance(params, Mapping):
            raise ValueError(
                f"{key} must be a mapping with keys {', '.join(_SAMPLING_KEYS)}, got {type(params).__name__}"
            )
        unknown = sorted(str(k) for k in params if k not in _SAMPLING_KEYS)
        if unknown:
            raise ValueError(f"{key}: unknown keys {unknown}; allowed: {', '.join(_SAMPLING_KEYS)}")
        defaults = cls()
        mode = params.get("mode", defaults.mode)
        stride = params.get("stride", defaults.stride)
        seconds = params.get("seconds", defaults.seconds)
        _check_sampling(mode, stride, seconds, key)
        return cls(mode=str(mode), stride=int(stride), seconds=float(seconds))  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------- frames


@dataclass(frozen=True, eq=False)
class Frame:
    """One sampled frame: its index in the stream (presentation order, 0-based), its presentation time
    in seconds from the stream start, and its upright RGB uint8 pixels (H, W, 3)."""

    frame_idx: int
    timestamp_sec: float
    rgb: np.ndarray


#: How a reading ended: read to the end; the stream ended before the frames (or duration) the
#: container announces; the decoder reported damaged data; the caller closed the reader early; or the
#: seconds mode met frames with neither a timestamp nor a frame rate to place them.
OUTCOMES: tuple[str, ...] = ("ok", "truncated", "corrupt", "stopped", "no_timestamps")

#: Packets a frame can be reordered by between decode and presentation order (H.264 allows 16).
_REORDER_DEPTH = 16
#: Packets kept to count frames shown before a keyframe; older ones are shown before it for sure.
_HORIZON = 4 * _REORDER_DEPTH

#: Slack when the frame count is not known and the announced duration is used to spot truncation.
_DURATION_SLACK_SEC = 1.0


class FrameReader:
    """Sampled frames of one video, as an iterator and a context manager, with counts afterwards.

    ``frames_read``: frames of the stream passed over (grabbed by OpenCV; demuxed in keyframes mode,
    where non-key frames are skipped undecoded); ``frames_decoded``: frames decoded to pictures;
    ``frames_sampled``: frames yielded; ``outcome``: one of :data:`OUTCOMES`, ``None`` until reading ends.

    The file is probed when the reader is made, so an unusable file raises :class:`VideoError` here and
    never in the middle of iteration. A reader is single use.
    """

    def __init__(self, path: str | Path, sampling: Sampling, info: VideoInfo | None = None) -> None:
        if not isinstance(sampling, Sampling):
            raise TypeError(f"sampling must be a Sampling, got {type(sampling).__name__}")
        self.path = Path(path)
        self.sampling = sampling
        self.info = info if info is not None else probe_video(self.path)
        self.frames_read = 0
        self.frames_decoded = 0
        self.frames_sampled = 0
        self.outcome: str | None = None
        self._last_timestamp: float | None = None
        self._capture: cv2.VideoCapture | None = None
        self._container: av.container.InputContainer | None = None
        if sampling.mode == "keyframes":
            self._gen = self._keyframes()
        else:
            self._capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
            if not self._capture.isOpened():
                self._capture.release()
                raise VideoError("corrupt", f"{self.path}: OpenCV's FFmpeg backend cannot open it")
            self._capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
            self._gen = self._opencv()

    # -- iterator / context manager
    def __iter__(self) -> FrameReader:
        return self

    def __next__(self) -> Frame:
        return next(self._gen)

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder; a reading not finished yet ends as ``stopped``."""
        self._gen.close()
        if self.outcome is None:
            self.outcome = "stopped"
        self._release()

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._container is not None:
            self._container.close()
            self._container = None

    # -- shared
    def _timestamp(self, pts_sec: float | None, frame_idx: int) -> float:
        """The presentation time, else ``frame_idx / fps``, else NaN (no way to place the frame)."""
        if pts_sec is not None and math.isfinite(pts_sec):
            return float(pts_sec)
        if self.info.fps is not None:
            return frame_idx / self.info.fps
        return math.nan

    def _finish(self, outcome: str) -> None:
        if outcome == "ok" and self._ended_early():
            outcome = "truncated"
        self.outcome = outcome

    def _ended_early(self) -> bool:
        if self.info.frame_count is not None:
            return self.frames_read < self.info.frame_count
        duration, last = self.info.duration_sec, self._last_timestamp
        if duration is None or last is None or not math.isfinite(last):
            return False
        return last < duration - max(_DURATION_SLACK_SEC, 0.02 * duration)

    # -- OpenCV: stride and seconds
    def _opencv(self) -> Iterator[Frame]:
        cap = self._capture
        assert cap is not None
        stride, step = self.sampling.stride, self.sampling.seconds
        by_seconds = self.sampling.mode == "seconds"
        next_target = 0.0
        try:
            while cap.grab():
                idx = self.frames_read
                self.frames_read += 1
                self.frames_decoded += 1
                pos_msec = cap.get(cv2.CAP_PROP_POS_MSEC)
                # OpenCV reports 0 for a frame without a timestamp: only the first frame may sit at 0.
                pts = pos_msec / 1000.0 if (pos_msec > 0 or idx == 0) else None
                ts = self._timestamp(pts, idx)
                self._last_timestamp = ts
                if by_seconds:
                    if not math.isfinite(ts):
                        self._finish("no_timestamps")
                        return
                    if ts < next_target - 1e-6:
                        continue
                    next_target = (math.floor(ts / step + 1e-6) + 1) * step
                elif idx % stride:
                    continue
                ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    self._finish("corrupt")
                    return
                self.frames_sampled += 1
                yield Frame(idx, ts, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            self._finish("ok")
        finally:
            if self.outcome is None:
                self.outcome = "stopped"
            self._release()

    # -- PyAV: keyframes
    def _keyframes(self) -> Iterator[Frame]:
        """Decode keyframes only; each gets its index in presentation order by counting packets.

        A frame's index is the number of frames shown before it: the (non-discarded) packets with a
        lower timestamp. Decode order differs from presentation order only within a short window
        (B-frames, open GOPs), so when a keyframe's packet is demuxed its index is the count of lower
        timestamps among the last ``_HORIZON`` packets (older ones were shown before it) plus those
        among the next ``_REORDER_DEPTH`` packets. The decoder hands keyframes out late (H.264: up to two
        GOPs), so indices wait in a small table keyed by timestamp until their frame comes out.

        A decoded frame whose packet was not flagged key (a decoder may also keep recovery-point
        frames) gets ``round(time × fps)``, exact for a constant frame rate.
        """
        import av

        container = _open_container(self.path)
        self._container = container
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        start = stream.start_time or 0
        time_base = float(stream.time_base) if stream.time_base is not None else None
        fps = self.info.fps
        turns = (-self.info.rotation // 90) % 4  # np.rot90 turns counter-clockwise
        recent: deque[int] = deque()  # timestamps of the last _HORIZON packets
        older = 0  # packets that left ``recent``
        tallies: list[list[int]] = []  # [timestamp, count so far, packets still to look at]
        indices: dict[int, int] = {}  # keyframe timestamp -> final index
        frames: deque[av.video.frame.VideoFrame] = deque()  # decoded, waiting for their index

        def index_of(frame: av.video.frame.VideoFrame) -> int | None:
            """The frame's index, or ``None`` while its keyframe is still being counted."""
            key = frame.pts if frame.pts is not None else frame.dts
            if key is None:
                return self.frames_read - 1  # no timestamps at all: decode position (intra streams)
            if key in indices:
                for stale in [k for k in indices if k < key]:  # frames come out in presentation order
                    del indices[stale]
                return indices.pop(key)
            if any(t[0] == key for t in tallies):
                return None
            if fps is not None and time_base is not None:
                return round((key - start) * time_base * fps)
            return self.frames_read - 1

        def emit(frame: av.video.frame.VideoFrame, idx: int) -> Frame:
            pts_sec = None
            if frame.pts is not None and time_base is not None:
                pts_sec = (frame.pts - start) * time_base
            ts = self._timestamp(pts_sec, idx)
            self._last_timestamp = ts
            rgb = frame.to_ndarray(format="rgb24")
            if turns:
                rgb = np.ascontiguousarray(np.rot90(rgb, turns))
            self.frames_sampled += 1
            return Frame(idx, ts, rgb)

        outcome = "ok"
        packets = container.demux(stream)
        try:
            try:
                for packet in packets:
                    if packet.size and not packet.is_discard:
                        self.frames_read += 1
                        key = packet.pts if packet.pts is not None else packet.dts
                        if key is None:
                            key = self.frames_read - 1
                        for tally in tallies:
                            tally[1] += key < tally[0]
                            tally[2] -= 1
                        if packet.is_keyframe:
                            tallies.append([key, older + sum(1 for t in recent if t < key), _REORDER_DEPTH])
                        while tallies and tallies[0][2] <= 0:
                            done = tallies.pop(0)
                            indices[done[0]] = done[1]
                        recent.append(key)
                        if len(recent) > _HORIZON:
                            recent.popleft()
                            older += 1
                    for frame in packet.decode():
                        self.frames_decoded += 1
                        frames.append(frame)
                    while frames and (idx := index_of(frames[0])) is not None:
                        yield emit(frames.popleft(), idx)
            except av.error.FFmpegError:
                outcome = "corrupt"
            for done in tallies:
                indices[done[0]] = done[1]
            tallies.clear()
            while frames:
                frame = frames.popleft()
                idx = index_of(frame)
                yield emit(frame, idx if idx is not None else self.frames_read - 1)
            self._finish(outcome)
        finally:
            packets.close()  # before the container closes (see probe_video)
            if self.outcome is None:
                self.outcome = "stopped"
            self._release()


def iter_frames(path: str | Path, sampling: Sampling, info: VideoInfo | None = None) -> FrameReader:
    """Sampled frames of ``path`` (a :class:`FrameReader`: iterate it, then read its counts/outcome)."""
    return FrameReader(path, sampling, info)
