"""The one home of video input: probe a film, then sample its frames (stride, seconds or keyframes).

Films are long, so frames come from a generator and memory stays flat whatever the length. One decoder
(PyAV, FFmpeg's libraries) reads every mode, and is told per packet what it may leave out:

* **stride / seconds**: a frame is placed (index, time) before its packet is decoded, so the decoder
  can drop an unsampled frame that no other frame refers to (``skip_frame = "NONREF"``: H.264/HEVC
  non-reference pictures, MPEG B-frames, about half of a typical film). Everything a sampled frame
  depends on is decoded, so its picture is the one a full decode gives, bit for bit; only sampled
  frames are converted to RGB. Where a film's GOPs are closed (H.264 and HEVC IDR pictures: nothing
  after one refers to anything before it), the frames after the last sample before such a keyframe,
  and whole GOPs without a sample, are not decoded at all. On the benchmark film
  (``benchmarks/movie_eval.py``, a keyframe every ~70 frames, stride 100) one decoder thread so
  decodes 3,702 of 19,824 frames and reads about twice as fast as OpenCV's grab-every-frame loop on two.
* **keyframes** (the fast mode): the decoder skips every non-key frame (``skip_frame = "NONKEY"``);
  packets are still demuxed (cheap) so each keyframe gets its true index in the stream.

Every mode gives the same picture for the same ``frame_idx``: frames are counted in the order the
decoder shows them (presentation order, the order OpenCV returns them too), rotation metadata is
applied (as OpenCV does with ``CAP_PROP_ORIENTATION_AUTO``), and timestamps are the stream's
presentation timestamps relative to its start.

A file that cannot be used raises :class:`VideoError` from :func:`probe_video` (or when a reader is
made); a file that breaks *during* reading never raises: the reader stops and says why in
:attr:`FrameReader.outcome`.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import av.container
    import av.packet
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

#: Frames that can be decoded before a frame and shown after it (H.264's bound is 16).
_REORDER_DEPTH = 16

#: Slack when the frame count is not known and the announced duration is used to spot truncation.
_DURATION_SLACK_SEC = 1.0
#: A sample time this close below a multiple of the seconds step counts as on it (float noise).
_SECONDS_EPS = 1e-6


class _Shown(NamedTuple):
    """A packet that holds a shown frame: its timestamp (``key``: pts, else dts), its index in
    presentation order and the key of the frame shown just before it (``None`` for the first)."""

    key: int
    index: int
    previous: int | None
    timed: bool = True


def _presentation_order(
    packets: Iterator[av.packet.Packet],
) -> Iterator[tuple[av.packet.Packet, _Shown | None]]:
    """Every packet in decode order, with its :class:`_Shown` place (``None`` for packets that show
    nothing: the empty packet that flushes the decoder and those an edit list discards, which the
    decoder still needs).

    A frame's index is its rank among the shown packets' timestamps. Decode order differs from
    presentation order only within a short window (B-frames, open GOPs: H.264 lets at most 16 frames
    be decoded before a frame and shown after it), so the timestamps not placed yet wait in a min-heap:
    once it holds more than ``_REORDER_DEPTH``, no packet still to come can be shown before its
    smallest, which is the next frame shown. Packets wait (compressed data only) until their frame is
    placed and leave in decode order. Equal timestamps are shown in decode order; a packet without any
    timestamp is placed right after the packet before it (``timed`` false). A few heap operations per
    packet: this runs for every packet of a film, sampled or not.
    """
    waiting: deque[tuple[av.packet.Packet, int | None, bool, int]] = deque()  # packet, key, timed, seq
    heap: list[tuple[int, int]] = []  # (key, seq) of the shown packets not placed yet
    placed: dict[int, tuple[int, int | None]] = {}  # seq -> (index, key of the frame shown before)
    shown = 0  # frames placed so far
    last_shown: int | None = None  # key of the last frame placed

    def place_next() -> None:
        nonlocal shown, last_shown
        key, seq = heapq.heappop(heap)
        placed[seq] = (shown, last_shown)
        shown, last_shown = shown + 1, key

    last_key, seq = -1, 0
    for packet in packets:
        if packet.size and not packet.is_discard:
            stamp = packet.pts if packet.pts is not None else packet.dts
            key = int(stamp) if stamp is not None else last_key + 1
            last_key = key
            heapq.heappush(heap, (key, seq))
            waiting.append((packet, key, stamp is not None, seq))
            seq += 1
            if len(heap) > _REORDER_DEPTH:
                place_next()
        else:
            waiting.append((packet, None, False, -1))
        while waiting and (waiting[0][1] is None or waiting[0][3] in placed):
            packet, key, timed, at = waiting.popleft()
            yield (packet, None) if key is None else (packet, _Shown(key, *placed.pop(at), timed))
    while heap:
        place_next()
    for packet, key, timed, at in waiting:
        yield (packet, None) if key is None else (packet, _Shown(key, *placed.pop(at), timed))


#: Unwanted packets kept waiting to learn whether a later sampled frame needs them (see
#: :func:`_dead_tails`); past either bound they are decoded as usual, so memory stays bounded.
_TAIL_PACKETS = 2048
_TAIL_BYTES = 64 << 20

#: NAL unit types that start a closed GOP: nothing decoded after one refers to anything before it.
_IDR_TYPES = {"h264": frozenset({5}), "hevc": frozenset({19, 20})}


def _nal_headers(data: bytes, length_size: int | None) -> Iterator[int]:
    """First header byte of each NAL unit in a packet: length-prefixed (MP4, Matroska) or, when
    ``length_size`` is ``None``, Annex B start codes (MPEG-TS, raw streams)."""
    if length_size is None:
        at = data.find(b"\x00\x00\x01")
        while 0 <= at < len(data) - 3:
            yield data[at + 3]
            at = data.find(b"\x00\x00\x01", at + 3)
        return
    at = 0
    while at + length_size < len(data):
        size = int.from_bytes(data[at : at + length_size], "big")
        if size == 0:
            return
        yield data[at + length_size]
        at += length_size + size


def gop_closer(codec: str, extradata: bytes | None) -> Callable[[bytes], bool] | None:
    """For H.264 and HEVC, a test of whether a keyframe packet is an IDR picture (it starts a closed
    GOP); ``None`` for other codecs, whose keyframes are never taken as a boundary.

    The NAL length size comes from the stream's configuration record (``avcC``/``hvcC``, first byte
    1); without one the stream is Annex B.
    """
    types = _IDR_TYPES.get(codec)
    if types is None:
        return None
    extra = bytes(extradata or b"")
    length_size: int | None = None
    if extra[:1] == b"\x01":
        at = 4 if codec == "h264" else 21
        if len(extra) <= at:
            return None
        length_size = (extra[at] & 3) + 1
    shift, mask = (0, 0x1F) if codec == "h264" else (1, 0x3F)
    return lambda data: any(((h >> shift) & mask) in types for h in _nal_headers(data, length_size))


def _dead_tails(
    items: Iterator[tuple[av.packet.Packet, _Shown | None, bool]], closes_gop: Callable[[bytes], bool]
) -> Iterator[tuple[av.packet.Packet, _Shown | None, bool, bool]]:
    """``(packet, shown, wanted, needed)``: a packet is not needed when no sampled frame depends on it:
    it and every packet after it up to the next closed-GOP keyframe (in decode order) are unwanted.

    Unwanted packets wait after the last wanted one (compressed data): a wanted packet makes them all
    needed (it may refer to any of them), a keyframe that ``closes_gop`` makes them dead. With stride
    100 on a film with a keyframe every ~70 frames, about two thirds of the frames the decoder would
    otherwise decode as references are dead (``benchmarks/movie_eval.py``). Past ``_TAIL_PACKETS`` or
    ``_TAIL_BYTES`` the waiting packets are taken as needed; at the end of the stream they are dead,
    except an empty packet, which drains the decoder.
    """
    tail: list[tuple[av.packet.Packet, _Shown | None, bool]] = []
    size = 0
    for packet, shown, wanted in items:
        if tail and packet.is_keyframe and closes_gop(bytes(packet)):
            for item in tail:
                yield (*item, False)
            tail.clear()
            size = 0
        if wanted or len(tail) >= _TAIL_PACKETS or size > _TAIL_BYTES:
            for item in tail:
                yield (*item, True)
            tail.clear()
            size = 0
        if wanted:
            yield packet, shown, wanted, True
        else:
            tail.append((packet, shown, wanted))
            size += packet.size
    for item in tail:
        yield (*item, not item[0].size)


class FrameReader:
    """Sampled frames of one video, as an iterator and a context manager, with counts afterwards.

    What each mode asks the decoder to decode is in the module docstring: in stride and seconds modes,
    everything the sampled frames depend on and nothing else; in keyframes mode, keyframes only.

    Counts: ``frames_read``: shown frames of the stream passed over (demuxed); ``frames_decoded``:
    frames the decoder turned into pictures; ``frames_sampled``: frames yielded; ``outcome``: one of
    :data:`OUTCOMES`, ``None`` until reading ends. ``threads``: the decoder's threads (0: FFmpeg picks
    by core count, with frame and slice threading; 1: none, the decoder keeps to one core and leaves
    the others to whoever uses the frames).

    The file is probed when the reader is made, so an unusable file raises :class:`VideoError` here and
    never in the middle of iteration. A reader is single use.
    """

    def __init__(
        self, path: str | Path, sampling: Sampling, info: VideoInfo | None = None, threads: int = 0
    ) -> None:
        if not isinstance(sampling, Sampling):
            raise TypeError(f"sampling must be a Sampling, got {type(sampling).__name__}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads must be an integer >= 0 (0 = FFmpeg's choice), got {threads!r}")
        self.path = Path(path)
        self.sampling = sampling
        self.threads = threads
        self.info = info if info is not None else probe_video(self.path)
        self.frames_read = 0
        self.frames_decoded = 0
        self.frames_sampled = 0
        self.outcome: str | None = None
        self._last_timestamp: float | None = None
        self._container: av.container.InputContainer | None = _open_container(self.path)
        self._gen = self._decode()

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
        if self._container is not None:
            self._container.close()
            self._container = None

    # -- timing and outcome
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

    def _wanted(self, index: int, ts: float, previous_ts: float | None, is_keyframe: bool) -> bool:
        """Whether the frame at ``index`` (time ``ts``; the frame before it at ``previous_ts``, only
        needed in seconds mode) is sampled.

        Seconds mode takes the first frame at or after each multiple of the step: a frame whose step
        number is above the one of the frame shown before it.
        """
        mode = self.sampling.mode
        if mode == "stride":
            return index % self.sampling.stride == 0
        if mode == "keyframes":
            return is_keyframe
        if index == 0 or previous_ts is None:
            return index == 0
        step = self.sampling.seconds
        return math.floor(ts / step + _SECONDS_EPS) > math.floor(previous_ts / step + _SECONDS_EPS)

    # -- decoding
    def _decode(self) -> Iterator[Frame]:
        """Demux every packet, place it in presentation order, decode what is needed, yield the samples.

        Decoded pictures come out late (B-frames, frame threads), so the index of each packet asked for
        waits in a small table keyed by timestamp until its picture comes out. A keyframe-mode picture
        whose packet was not flagged key (a decoder may also keep recovery-point frames) gets
        ``round(time × fps)``, exact for a constant frame rate.
        """
        import av

        container = self._container
        assert container is not None
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if self.threads == 1:
            ctx.thread_type, ctx.thread_count = "NONE", 1
        else:
            ctx.thread_type, ctx.thread_count = "AUTO", self.threads
        keyframes = self.sampling.mode == "keyframes"
        ctx.skip_frame = "NONKEY" if keyframes else "DEFAULT"
        start = stream.start_time or 0
        time_base = float(stream.time_base) if stream.time_base is not None else None
        fps = self.info.fps
        turns = (-self.info.rotation // 90) % 4  # np.rot90 turns counter-clockwise
        pending: dict[int, int] = {}  # timestamp of a packet asked for -> its frame index
        skipping = False

        def seconds(key: int) -> float | None:
            return None if time_base is None else (key - start) * time_base

        def index_of(frame: av.video.frame.VideoFrame) -> int | None:
            """The sampled index of a decoded picture, ``None`` for a picture only decoded as a reference."""
            if frame.pts is not None and frame.pts in pending:
                return pending.pop(frame.pts)
            if not keyframes or frame.pts is None:
                return None
            if fps is not None and time_base is not None:
                return round((frame.pts - start) * time_base * fps)
            return self.frames_read - 1

        def emit(frame: av.video.frame.VideoFrame, idx: int) -> Frame:
            pts = None if frame.pts is None else seconds(frame.pts)
            ts = self._timestamp(pts, idx)
            rgb = frame.to_ndarray(format="rgb24")
            if turns:
                rgb = np.ascontiguousarray(np.rot90(rgb, turns))
            self.frames_sampled += 1
            return Frame(idx, ts, rgb)

        outcome = "ok"

        def placed(packets: Iterator[av.packet.Packet]) -> Iterator[tuple[Any, _Shown | None, bool]]:
            """Packets in decode order, placed, with whether their frame is sampled (and counted)."""
            nonlocal outcome
            for packet, shown in _presentation_order(packets):
                wanted = False
                if shown is not None:
                    self.frames_read += 1
                    ts = self._timestamp(seconds(shown.key) if shown.timed else None, shown.index)
                    if not math.isfinite(ts) and self.sampling.mode == "seconds":
                        outcome = "no_timestamps"
                        return
                    if self._last_timestamp is None or ts > self._last_timestamp:
                        self._last_timestamp = ts
                    prev = None
                    if self.sampling.mode == "seconds" and shown.previous is not None:
                        prev = self._timestamp(seconds(shown.previous), shown.index - 1)
                    wanted = self._wanted(shown.index, ts, prev, packet.is_keyframe)
                    if wanted:
                        pending[shown.key] = shown.index
                yield packet, shown, wanted

        packets = container.demux(stream)
        closes_gop = None if keyframes else gop_closer(ctx.name, ctx.extradata)
        if closes_gop is None:
            items = ((*item, True) for item in placed(packets))
        else:
            items = _dead_tails(placed(packets), closes_gop)
        last = None  # the last packet that held data (the drain packet at the end holds none)
        try:
            try:
                for packet, shown, wanted, needed in items:
                    if packet.size:
                        last = packet
                    if not needed:
                        continue  # nothing sampled depends on it (see _dead_tails)
                    if shown is not None and not keyframes and wanted == skipping:
                        skipping = not wanted
                        ctx.skip_frame = "NONREF" if skipping else "DEFAULT"
                    for frame in packet.decode():
                        self.frames_decoded += 1
                        if (idx := index_of(frame)) is not None:
                            yield emit(frame, idx)
            except av.error.FFmpegError:
                # The packet the file's end cut short makes a truncated film: a one-thread decoder
                # rejects it at once, frame threads when they drain at the end of the stream (the
                # empty packet, after it); any other bad packet is corruption.
                outcome = "truncated" if _cut_by_end(last, self.path) else "corrupt"
            self._finish(outcome)
        finally:
            packets.close()  # before the container closes (see probe_video)
            if self.outcome is None:
                self.outcome = "stopped"
            self._release()


def _cut_by_end(packet: av.packet.Packet | None, path: Path) -> bool:
    """Whether ``packet`` runs to the end of the file: the demuxer handed over what was left of it."""
    if packet is None or packet.pos is None:
        return False
    try:
        return packet.pos >= 0 and packet.pos + packet.size >= path.stat().st_size
    except OSError:
        return False


def iter_frames(
    path: str | Path, sampling: Sampling, info: VideoInfo | None = None, threads: int = 0
) -> FrameReader:
    """Sampled frames of ``path`` (a :class:`FrameReader`: iterate it, then read its counts/outcome)."""
    return FrameReader(path, sampling, info, threads)
