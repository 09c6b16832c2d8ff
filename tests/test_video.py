"""Video probing and frame sampling on small synthetic films whose frames show their own index.

Each frame carries its index as ten bright cells (a binary code) and a red bar at the bottom, so a test
can read back which frame it got and whether it is upright.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from expressions_ensemble import video
from expressions_ensemble.video import (
    OUTCOMES,
    SAMPLING_MODES,
    Frame,
    FrameReader,
    Sampling,
    VideoError,
    _dead_tails,
    _presentation_order,
    gop_closer,
    iter_frames,
    probe_video,
)
from support import shared_data_dir

CELL, BITS, W, H = 16, 10, 160, 96


def coded_frame(idx: int, width: int = W, height: int = H) -> np.ndarray:
    """An upright RGB frame showing ``idx`` in binary (5 × 2 cells) and a red bar at its bottom left."""
    img = np.full((height, width, 3), 40, np.uint8)
    for bit in range(BITS):
        row, col = divmod(bit, 5)
        if idx >> bit & 1:
            img[8 + row * CELL : 8 + (row + 1) * CELL, 8 + col * CELL : 8 + (col + 1) * CELL] = 230
    img[height - 12 : height - 4, 4:40] = (200, 40, 40)
    return img


def read_code(rgb: np.ndarray) -> int:
    """The index shown by :func:`coded_frame`; fails when the picture is not upright."""
    height = rgb.shape[0]
    bar = rgb[height - 10 : height - 6, 10:34].reshape(-1, 3).mean(axis=0)
    assert bar[0] > 150 and bar[1] < 90, f"red bar not at the bottom left (mean {bar}): frame not upright"
    idx = 0
    for bit in range(BITS):
        row, col = divmod(bit, 5)
        y, x = 8 + row * CELL + CELL // 2, 8 + col * CELL + CELL // 2
        if rgb[y - 3 : y + 3, x - 3 : x + 3].mean() > 135:
            idx |= 1 << bit
    return idx


def write_cv(path: Path, n: int, fps: float = 24.0) -> Path:
    """An mp4 (mpeg4 'mp4v', index at the end of the file) written by OpenCV."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    assert writer.isOpened()
    for i in range(n):
        writer.write(cv2.cvtColor(coded_frame(i), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_av(
    path: Path,
    n: int,
    *,
    codec: str = "mpeg4",
    gop: int = 12,
    bframes: int = 0,
    rotation: int | None = None,
    faststart: bool = False,
    pts_ms: list[int] | None = None,
    fmt: str | None = None,
    encoder_options: dict[str, str] | None = None,
) -> Path:
    """A video written by PyAV with a fixed GOP (scene-cut keyframes off) and optional B-frames.

    ``rotation`` is the display rotation counter-clockwise (PyAV's convention): the upright picture is
    stored turned the other way, so only a reader that applies the metadata sees it upright.
    ``pts_ms`` gives each frame's timestamp (a variable frame rate).
    """
    options = {"movflags": "+faststart"} if faststart else {}
    container = av.open(str(path), "w", format=fmt, options=options)
    cut_off = {"sc_threshold": "1000000000"} if codec == "mpeg4" else {"sc_threshold": "0"}
    stream = container.add_stream(codec, rate=24, options=cut_off | (encoder_options or {}))
    turns = 0 if rotation is None else (rotation // 90) % 4  # counter-clockwise quarter turns
    stream.width, stream.height = W, H  # stored size; a portrait film is stored lying on its side
    stream.pix_fmt = "yuv420p"
    stream.codec_context.gop_size = gop
    stream.codec_context.bit_rate = 2_000_000
    if bframes:
        stream.codec_context.max_b_frames = bframes
    if pts_ms is not None:
        stream.codec_context.time_base = Fraction(1, 1000)
    if rotation is not None:
        stream.set_display_rotation(rotation)
    for i in range(n):
        upright = coded_frame(i, H, W) if turns % 2 else coded_frame(i)
        stored = np.ascontiguousarray(np.rot90(upright, -turns))  # turned back by the display rotation
        frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
        if pts_ms is not None:
            frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def read_all(path: Path, sampling: Sampling) -> tuple[list[Frame], FrameReader]:
    reader = iter_frames(path, sampling)
    return list(reader), reader


# ------------------------------------------------------------------------------------------ probing


def test_probe_reports_size_rate_count_duration_and_codec(tmp_path: Path) -> None:
    info = probe_video(write_cv(tmp_path / "clip.mp4", 30, fps=24.0))
    assert (info.width, info.height, info.rotation) == (W, H, 0)
    assert info.fps == pytest.approx(24.0)
    assert info.frame_count == 30
    assert info.duration_sec == pytest.approx(30 / 24, abs=0.05)
    assert info.codec == "mpeg4"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "missing_file"),
        (b"", "empty_file"),
        (b"hello, I am only text\n" * 40, "not_a_video"),
    ],
)
def test_unusable_files_fail_with_a_reason(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "film.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoError) as err:
        probe_video(path)
    assert err.value.reason == reason and isinstance(err.value, ValueError)
    with pytest.raises(VideoError):  # a reader probes first: the error comes before any iteration
        iter_frames(path, Sampling("keyframes"))


@pytest.mark.parametrize("kind", ["jpeg", "animated_gif"])
def test_a_picture_named_mp4_is_not_a_video(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "photo.mp4"
    if kind == "jpeg":
        ok, jpeg = cv2.imencode(".jpg", coded_frame(5))
        assert ok
        path.write_bytes(jpeg.tobytes())
    else:
        pictures = [Image.fromarray(coded_frame(i)) for i in range(4)]
        pictures[0].save(path, format="GIF", save_all=True, append_images=pictures[1:], duration=100)
    assert cv2.VideoCapture(str(path)).isOpened()  # OpenCV alone would read it as a video
    with pytest.raises(VideoError) as err:
        probe_video(path)
    assert err.value.reason == "not_a_video" and "an image file" in str(err.value)


def test_a_video_without_frames_fails_with_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (W, H))
    writer.release()
    assert path.stat().st_size > 0
    with pytest.raises(VideoError) as err:
        probe_video(path)
    assert err.value.reason == "no_frames"
    # an mp4 whose index lists 40 frames but whose data stops before the first one
    full = write_av(tmp_path / "full.mp4", 40, faststart=True).read_bytes()
    cut = tmp_path / "cut_at_data.mp4"
    cut.write_bytes(full[: full.index(b"mdat") + 8])
    with pytest.raises(VideoError) as err:
        probe_video(cut)
    assert err.value.reason == "no_frames"


def test_an_mp4_cut_before_its_index_is_corrupt(tmp_path: Path) -> None:
    data = write_cv(tmp_path / "whole.mp4", 40).read_bytes()
    assert data.index(b"moov") > len(data) // 2  # OpenCV writes the index at the end
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError) as err:
        probe_video(half)
    assert err.value.reason == "corrupt"


@pytest.mark.parametrize("mode", SAMPLING_MODES)
def test_a_truncated_film_ends_with_an_outcome_not_an_exception(tmp_path: Path, mode: str) -> None:
    data = write_av(tmp_path / "whole.mp4", 60, faststart=True).read_bytes()  # index first
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    info = probe_video(half)
    assert info.frame_count == 60
    frames, reader = read_all(half, Sampling(mode, stride=3, seconds=0.25))
    assert reader.outcome == "truncated"
    assert 5 < reader.frames_read < 60
    assert len(frames) >= 2 and frames[-1].frame_idx < reader.frames_read
    # frames before the cut are intact; the one the cut runs through may decode half grey
    assert all(read_code(f.rgb) == f.frame_idx for f in frames[:-1])


@pytest.mark.parametrize("threads", [1, 2])
def test_a_truncated_film_is_truncated_whatever_the_decoder_threads(tmp_path: Path, threads: int) -> None:
    """One decoder thread rejects the packet the cut runs through at once (frame threads only drop it):
    a packet that ends where the file ends is the cut, not corruption."""
    data = write_av(tmp_path / "whole.mp4", 60, faststart=True).read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    reader = FrameReader(half, Sampling("stride", stride=1), threads=threads)
    frames = list(reader)
    assert reader.outcome == "truncated" and 5 < len(frames) < 60


def test_only_a_packet_that_runs_to_the_end_of_the_file_is_the_cut(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from expressions_ensemble.video import _cut_by_end

    path = tmp_path / "film.mp4"
    path.write_bytes(b"x" * 100)
    assert _cut_by_end(SimpleNamespace(pos=95, size=5), path)
    assert not _cut_by_end(SimpleNamespace(pos=40, size=5), path)  # a bad packet inside the film
    assert not _cut_by_end(SimpleNamespace(pos=-1, size=500), path)  # position unknown
    assert not _cut_by_end(None, path)  # the error came before any packet


# ----------------------------------------------------------------------------------------- sampling


def test_stride_samples_every_nth_frame_with_timestamps(tmp_path: Path) -> None:
    frames, reader = read_all(write_cv(tmp_path / "clip.mp4", 50), Sampling("stride", stride=7))
    assert [f.frame_idx for f in frames] == list(range(0, 50, 7))
    assert [read_code(f.rgb) for f in frames] == list(range(0, 50, 7))
    for f in frames:
        assert f.timestamp_sec == pytest.approx(f.frame_idx / 24.0, abs=1e-3)
        assert f.rgb.dtype == np.uint8 and f.rgb.shape == (H, W, 3)
    assert (reader.frames_read, reader.frames_sampled, reader.outcome) == (50, 8, "ok")


def full_decode(path: Path) -> list[np.ndarray]:
    """Every shown frame in presentation order, decoded by PyAV without skipping anything (an oracle)."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]


@pytest.mark.parametrize("threads", [0, 1])
@pytest.mark.parametrize(
    ("codec", "bframes", "stride"), [("libx264", 3, 7), ("libx264", 3, 1), ("mpeg4", 2, 5), ("mpeg4", 0, 5)]
)
def test_stride_skips_unsampled_non_reference_frames_and_gives_a_full_decodes_pictures(
    tmp_path: Path, codec: str, bframes: int, stride: int, threads: int
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    path = write_av(tmp_path / "b.mp4", 90, codec=codec, gop=30, bframes=bframes)
    frames, reader = read_all_threads(path, Sampling("stride", stride=stride), threads)
    assert [f.frame_idx for f in frames] == list(range(0, 90, stride))
    assert [read_code(f.rgb) for f in frames] == [f.frame_idx for f in frames]
    oracle = full_decode(path)
    assert all(np.array_equal(f.rgb, oracle[f.frame_idx]) for f in frames)  # bit for bit
    assert (reader.frames_read, reader.frames_sampled, reader.outcome) == (90, len(frames), "ok")
    if bframes and stride > 1:  # the B-frames nobody refers to and nobody asked for are not decoded
        assert len(frames) <= reader.frames_decoded < 90
    else:  # every frame is a reference, or every frame is asked for
        assert reader.frames_decoded == 90


@pytest.mark.parametrize(
    ("codec", "suffix", "bframes"),
    [("libx265", ".mp4", 3), ("mpeg2video", ".mp4", 2), ("libvpx-vp9", ".webm", 0)],
)
def test_other_codecs_skip_only_what_nobody_needs(
    tmp_path: Path, codec: str, suffix: str, bframes: int
) -> None:
    """HEVC (sub-layer non-reference pictures), MPEG-2 (B-frames), VP9 in WebM (hidden alt-ref frames,
    no B-frames): each decoder decides what ``NONREF`` may drop; the samples stay a full decode's."""
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    path = write_av(tmp_path / f"clip{suffix}", 60, codec=codec, gop=30, bframes=bframes)
    oracle = full_decode(path)
    assert len(oracle) == 60
    for threads in (0, 1):
        frames, reader = read_all_threads(path, Sampling("stride", stride=4), threads)
        assert [f.frame_idx for f in frames] == list(range(0, 60, 4))
        assert [read_code(f.rgb) for f in frames] == [f.frame_idx for f in frames]
        assert all(np.array_equal(f.rgb, oracle[f.frame_idx]) for f in frames)
        assert reader.outcome == "ok" and reader.frames_read == 60
        if bframes:  # non-reference B-pictures that were not asked for are never decoded
            assert len(frames) <= reader.frames_decoded < 60
        else:  # VP9 as libvpx writes it here: every shown frame is a reference
            assert reader.frames_decoded == 60


@pytest.mark.parametrize("threads", [0, 1])
@pytest.mark.parametrize(("suffix", "fmt"), [(".mp4", None), (".ts", "mpegts"), (".mkv", "matroska")])
def test_gops_without_a_later_sample_are_not_decoded_at_all(
    tmp_path: Path, suffix: str, fmt: str | None, threads: int
) -> None:
    """Closed GOPs (IDR every 30 frames): frames after the last sample of a GOP and GOPs without any
    sample are never decoded, whatever the container (length-prefixed or Annex B NAL units)."""
    path = write_av(tmp_path / f"closed{suffix}", 150, codec="libx264", gop=30, bframes=3, fmt=fmt)
    oracle = full_decode(path)
    frames, reader = read_all_threads(path, Sampling("stride", stride=120), threads)
    assert [f.frame_idx for f in frames] == [0, 120]
    assert all(np.array_equal(f.rgb, oracle[f.frame_idx]) for f in frames)
    assert (reader.frames_read, reader.frames_decoded, reader.outcome) == (150, 2, "ok")  # two IDRs
    frames, reader = read_all_threads(path, Sampling("stride", stride=40), threads)
    assert [f.frame_idx for f in frames] == [0, 40, 80, 120]
    assert all(np.array_equal(f.rgb, oracle[f.frame_idx]) for f in frames)
    assert reader.frames_decoded <= 1 + 11 + 21 + 1  # the references from each GOP's IDR to its sample


def test_open_gops_are_decoded_as_references_and_stay_exact(tmp_path: Path) -> None:
    """An open GOP's keyframe is not an IDR: frames after it may refer to frames before it, so only
    non-reference frames are left out, and only the end of the stream is dead."""
    options = {"x264-params": "open-gop=1"}
    path = write_av(tmp_path / "open.mp4", 150, codec="libx264", gop=30, bframes=3, encoder_options=options)
    oracle = full_decode(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        closes = gop_closer(stream.codec_context.name, stream.codec_context.extradata)
        keys = [bytes(p) for p in container.demux(stream) if p.is_keyframe and p.size]
    assert closes is not None and len(keys) > 1
    assert closes(keys[0]) and not any(closes(k) for k in keys[1:])  # the first is an IDR, no other
    frames, reader = read_all_threads(path, Sampling("stride", stride=40), 1)
    assert [f.frame_idx for f in frames] == [0, 40, 80, 120]
    assert all(np.array_equal(f.rgb, oracle[f.frame_idx]) for f in frames)
    assert 1 + 11 + 21 + 1 < reader.frames_decoded < 150


def test_gop_closer_reads_h264_and_hevc_nal_types_and_ignores_other_codecs() -> None:
    avcc = bytes([1, 0x64, 0, 0x1F, 0xFF])  # avcC: 4-byte NAL lengths
    idr = (2).to_bytes(4, "big") + bytes([0x06, 0x05]) + (3).to_bytes(4, "big") + bytes([0x65, 0x88, 0x80])
    non_idr = (3).to_bytes(4, "big") + bytes([0x41, 0x9A, 0x00])
    closes = gop_closer("h264", avcc)
    assert closes is not None and closes(idr) and not closes(non_idr)
    annex_b = gop_closer("h264", None)
    assert annex_b is not None
    assert annex_b(b"\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x65\x88") and not annex_b(b"\x00\x00\x01\x41\x9a")
    hvcc = bytes([1] + [0] * 20 + [0x0F])  # hvcC: byte 21 holds the length size (4)
    hevc = gop_closer("hevc", hvcc)
    assert hevc is not None
    assert hevc((2).to_bytes(4, "big") + bytes([19 << 1, 1]))  # IDR_W_RADL
    assert not hevc((2).to_bytes(4, "big") + bytes([21 << 1, 1]))  # CRA: an open GOP
    assert gop_closer("mpeg4", None) is None and gop_closer("vp9", b"") is None


def test_dead_tails_wait_bounded_and_drain_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    def item(pts: int, wanted: bool, key: bool = False, size: int = 1) -> tuple[_KeyPacket, None, bool]:
        return _KeyPacket(pts, size=size, is_keyframe=key), None, wanted

    stream = [item(0, True, key=True), item(1, False), item(2, False), item(3, True), item(4, False),
              item(5, False, key=True), item(6, False), item(7, False, size=0)]  # fmt: skip
    out = list(_dead_tails(iter(stream), closes_gop=lambda data: True))
    assert [p.pts for p, *_ in out] == list(range(8))  # every packet, in decode order
    # 1-2 come before a sample; 4 is dead (the next GOP is closed); 5-6 are dead (the stream ends);
    # the empty packet drains the decoder
    assert [needed for *_, needed in out] == [True, True, True, True, False, False, False, True]
    monkeypatch.setattr(video, "_TAIL_PACKETS", 1)
    out = list(_dead_tails(iter(stream), closes_gop=lambda data: True))
    assert [needed for *_, needed in out][:4] == [True, True, True, True]  # waited too long: decoded


def read_all_threads(path: Path, sampling: Sampling, threads: int) -> tuple[list[Frame], FrameReader]:
    reader = iter_frames(path, sampling, threads=threads)
    return list(reader), reader


def test_reader_threads_must_be_a_count(tmp_path: Path) -> None:
    path = write_cv(tmp_path / "c.mp4", 5)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be an integer >= 0"):
            FrameReader(path, Sampling(), threads=bad)  # type: ignore[arg-type]


def test_seconds_mode_takes_the_first_frame_at_or_after_each_multiple(tmp_path: Path) -> None:
    frames, reader = read_all(write_cv(tmp_path / "clip.mp4", 60), Sampling("seconds", seconds=0.5))
    assert [f.frame_idx for f in frames] == [0, 12, 24, 36, 48]
    assert reader.frames_read == 60 and reader.outcome == "ok"


def test_seconds_mode_follows_timestamps_of_a_variable_frame_rate(tmp_path: Path) -> None:
    # bursts of fast frames, slow stretches and a gap of 2.2 s that covers two multiples of a second
    steps = [40] * 10 + [300] * 5 + [2200] + [50] * 30 + [700] * 4
    pts = [0, *np.cumsum(steps).tolist()]
    path = write_av(tmp_path / "vfr.mp4", len(pts), pts_ms=pts)
    frames, reader = read_all(path, Sampling("seconds", seconds=1.0))
    times = [p / 1000 for p in pts]
    expected, target = [], 0.0
    for i, t in enumerate(times):
        if t >= target - 1e-9:
            expected.append(i)
            target = (math.floor(t) + 1) * 1.0
    assert [f.frame_idx for f in frames] == expected
    assert [f.timestamp_sec for f in frames] == pytest.approx([times[i] for i in expected], abs=1e-3)
    assert [read_code(f.rgb) for f in frames] == expected
    fps = probe_video(path).fps  # the average rate: counting frames at it would pick other frames
    assert fps is not None
    by_count = [i for i in range(len(pts)) if i == 0 or math.floor(i / fps) > math.floor((i - 1) / fps)]
    assert by_count != expected
    assert reader.outcome == "ok"


def test_unknown_frame_rate_still_gives_presentation_timestamps(tmp_path: Path) -> None:
    path = write_cv(tmp_path / "clip.mp4", 30)
    info = replace(probe_video(path), fps=None, frame_count=None, duration_sec=None)
    for mode in SAMPLING_MODES:
        frames = list(FrameReader(path, Sampling(mode, stride=5, seconds=0.5), info=info))
        assert frames
        assert all(f.timestamp_sec == pytest.approx(f.frame_idx / 24.0, abs=1e-3) for f in frames)


def test_unknown_frame_count_and_duration_of_a_raw_stream(tmp_path: Path) -> None:
    raw = write_av(tmp_path / "clip.m4v", 20, fmt="m4v")  # a bare MPEG-4 elementary stream
    info = probe_video(raw)
    assert info.frame_count is None and info.duration_sec is None
    frames, reader = read_all(raw, Sampling("stride", stride=4))
    assert [read_code(f.rgb) for f in frames] == [0, 4, 8, 12, 16]
    assert reader.outcome == "ok" and reader.frames_read == 20


@pytest.mark.parametrize(
    ("codec", "gop", "bframes"), [("mpeg4", 12, 0), ("mpeg4", 12, 2), ("libx264", 24, 3)]
)
def test_keyframes_decodes_only_keyframes_with_their_true_index(
    tmp_path: Path, codec: str, gop: int, bframes: int
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    path = write_av(tmp_path / "gop.mp4", 80, codec=codec, gop=gop, bframes=bframes)
    frames, reader = read_all(path, Sampling("keyframes"))
    indices = [f.frame_idx for f in frames]
    assert set(range(0, 80, gop)) <= set(indices) and len(indices) <= 80 // gop + 2
    assert indices == sorted(set(indices))
    assert [read_code(f.rgb) for f in frames] == indices  # the index is the frame's own
    assert all(f.timestamp_sec == pytest.approx(f.frame_idx / 24.0, abs=1e-3) for f in frames)
    assert reader.frames_read == 80 and reader.frames_decoded == len(frames) == reader.frames_sampled
    assert reader.outcome == "ok"
    every = {f.frame_idx: f.rgb for f in iter_frames(path, Sampling("stride", stride=1))}
    for f in frames:  # the same pixels as OpenCV's frame at that index
        assert np.abs(every[f.frame_idx].astype(int) - f.rgb).mean() < 1.0


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotated_video_is_upright_and_equal_in_every_mode(tmp_path: Path, rotation: int) -> None:
    path = write_av(tmp_path / "phone.mp4", 30, rotation=rotation, gop=10)
    info = probe_video(path)
    assert info.rotation == (-rotation) % 360
    portrait = rotation % 180 != 0
    assert (info.width, info.height) == ((H, W) if portrait else (W, H))
    by_mode = {}
    for mode in SAMPLING_MODES:
        frames, reader = read_all(path, Sampling(mode, stride=5, seconds=0.5))
        assert reader.outcome == "ok"
        for f in frames:
            assert f.rgb.shape == (info.height, info.width, 3)
            assert read_code(f.rgb) == f.frame_idx
        by_mode[mode] = {f.frame_idx: f.rgb for f in frames}
    assert set(by_mode["keyframes"]) == {0, 10, 20}
    for idx, rgb in by_mode["keyframes"].items():
        assert np.abs(by_mode["stride"][idx].astype(int) - rgb).mean() < 1.0


def test_reader_is_lazy_and_stops_cleanly(tmp_path: Path) -> None:
    path = write_cv(tmp_path / "clip.mp4", 60)
    with iter_frames(path, Sampling("stride", stride=1), threads=1) as reader:
        first = next(reader)
        # nothing decoded ahead (packets are demuxed ahead to place frames: compressed, a few KiB)
        assert first.frame_idx == 0 and reader.frames_read == reader.frames_decoded == 1
        second = next(reader)
    assert second.frame_idx == 1
    assert reader.outcome == "stopped" and reader.frames_sampled == 2
    with pytest.raises(StopIteration):
        next(reader)
    for mode in SAMPLING_MODES:
        reader = iter_frames(path, Sampling(mode))
        for _frame in reader:
            break
        reader.close()
        assert reader.outcome == "stopped"
    assert set(OUTCOMES) >= {"ok", "truncated", "corrupt", "stopped"}


# ------------------------------------------------------------------------------- presentation order


@dataclass
class _Packet:
    """What ``_presentation_order`` reads of a demuxed packet."""

    pts: int | None
    dts: int | None = None
    size: int = 1
    is_discard: bool = False


@dataclass
class _KeyPacket(_Packet):
    """What ``_dead_tails`` reads of one too (its bytes only for keyframes)."""

    is_keyframe: bool = False

    def __bytes__(self) -> bytes:
        return b""


def _reordered(rng: np.random.Generator, frames: int, widest: int) -> list[int]:
    """Timestamps in a decode order that shuffles blocks of up to ``widest`` frames (B-pyramids, open
    GOPs), every tenth block of exactly ``widest`` with its first frame decoded last."""
    stamps: list[int] = []
    while len(stamps) < frames:
        base = len(stamps)
        width = widest if len(stamps) % 10 == 0 else int(rng.integers(1, widest + 1))
        block = [base + int(k) for k in rng.permutation(width)]
        if width == widest:
            block = [base + k for k in range(1, width)] + [base]
        stamps += block
    return [3 * t + 7 for t in stamps]  # time-base units: not frame numbers


def test_presentation_order_ranks_timestamps_within_h264s_reorder_bound() -> None:
    # 17 frames in a block: 16 decoded before a frame and shown after it, the most H.264 allows
    stamps = _reordered(np.random.default_rng(0), 3000, widest=17)
    packets = [_Packet(t) for t in stamps]
    out = list(_presentation_order(iter(packets)))
    assert [p for p, _ in out] == packets  # every packet, once, in decode order (the decoder's)
    ranks = {t: i for i, t in enumerate(sorted(stamps))}
    assert [s.index for _, s in out] == [ranks[t] for t in stamps]
    by_index = sorted(stamps)
    assert [s.previous for _, s in out] == [by_index[ranks[t] - 1] if ranks[t] else None for t in stamps]
    assert all(s.key == t and s.timed for (_, s), t in zip(out, stamps, strict=True))


def test_presentation_order_passes_packets_that_show_nothing_and_places_untimed_ones() -> None:
    packets = [
        _Packet(0), _Packet(20), _Packet(10), _Packet(5, size=0), _Packet(30, is_discard=True),
        _Packet(None, dts=40), _Packet(None), _Packet(None, size=0),
    ]  # fmt: skip
    out = list(_presentation_order(iter(packets)))
    assert [p for p, _ in out] == packets
    assert [None if s is None else (s.index, s.key, s.timed) for _, s in out] == [
        (0, 0, True), (2, 20, True), (1, 10, True), None, None, (3, 40, True), (4, 41, False), None,
    ]  # fmt: skip


def test_equal_timestamps_each_get_their_own_index_in_decode_order() -> None:
    packets = [_Packet(0), _Packet(8), _Packet(8), _Packet(4)]
    out = list(_presentation_order(iter(packets)))
    assert [s.index for _, s in out] == [0, 2, 3, 1]


# ---------------------------------------------------------------------------------- sampling params


def test_sampling_from_params_defaults_and_values() -> None:
    assert Sampling.from_params({}) == Sampling("stride", 100, 1.0)
    assert Sampling.from_params({"mode": "seconds", "seconds": 2}) == Sampling("seconds", 100, 2.0)
    assert Sampling.from_params({"mode": "keyframes", "stride": 5}).stride == 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"mode": "every"},
            "movie_eval.sampling.mode: unknown mode 'every'; allowed: stride, seconds, keyframes",
        ),
        ({"stride": 0}, "movie_eval.sampling.stride must be an integer >= 1"),
        ({"stride": 2.5}, "movie_eval.sampling.stride must be an integer >= 1"),
        ({"stride": True}, "movie_eval.sampling.stride must be an integer >= 1"),
        ({"seconds": -1}, "movie_eval.sampling.seconds must be a number > 0"),
        ({"seconds": float("nan")}, "movie_eval.sampling.seconds must be a number > 0"),
        ({"seconds": "1"}, "movie_eval.sampling.seconds must be a number > 0"),
        (
            {"mode": "stride", "every": 3},
            "movie_eval.sampling: unknown keys ['every']; allowed: mode, stride",
        ),
        (["stride"], "movie_eval.sampling must be a mapping"),
    ],
)
def test_sampling_errors_name_the_key_and_allowed_values(params: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        Sampling.from_params(params)
    assert message in str(err.value)


def test_sampling_checks_itself_and_a_reader_needs_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allowed: stride, seconds, keyframes"):
        Sampling("fast")
    with pytest.raises(ValueError, match=r"sampling\.stride"):
        Sampling("stride", stride=-3)
    with pytest.raises(TypeError):
        FrameReader(write_cv(tmp_path / "c.mp4", 5), {"mode": "stride"})  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- real clips


def _clip(name: str) -> Path:
    path = shared_data_dir() / "videos" / name
    if not path.is_file():
        pytest.skip(f"real clip not found at {path} (set EXE_SHARED_DATA or place it at ../shared/data)")
    return path


@pytest.mark.shared_data
def test_pexels_clip_stride_and_keyframes() -> None:
    path = _clip("WolfgangLanger_Pexels.mp4")
    info = probe_video(path)
    assert (info.width, info.height, info.frame_count, info.rotation) == (640, 360, 472, 0)
    assert info.fps == pytest.approx(23.976, abs=0.01) and info.codec == "h264"
    frames, reader = read_all(path, Sampling("stride", stride=5))
    assert [f.frame_idx for f in frames] == list(range(0, 472, 5))
    assert all(f.timestamp_sec == pytest.approx(f.frame_idx / 23.976, abs=2e-3) for f in frames)
    assert (reader.frames_read, reader.outcome) == (472, "ok")
    keys, kreader = read_all(path, Sampling("keyframes"))
    assert 2 <= len(keys) < 472 // 10 and keys[0].frame_idx == 0
    assert kreader.frames_decoded == len(keys) and kreader.frames_read == 472 and kreader.outcome == "ok"
    around = {f.frame_idx + d for f in keys for d in (-1, 0, 1)}
    every = {
        f.frame_idx: f.rgb for f in iter_frames(path, Sampling("stride", stride=1)) if f.frame_idx in around
    }
    for f in keys:  # the keyframe is the stride frame of its index, not one of its neighbours
        own = np.abs(every[f.frame_idx].astype(int) - f.rgb).mean()
        others = [
            np.abs(every[i].astype(int) - f.rgb).mean()
            for i in (f.frame_idx - 1, f.frame_idx + 1)
            if i in every
        ]
        assert own < 1.0 and own < min(others)
        assert f.timestamp_sec == pytest.approx(f.frame_idx / 23.976, abs=2e-3)


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "frames"), [("no_face.mp4", 95), ("face_noface.mov", 169)])
def test_phone_clips_count_every_shown_frame(name: str, frames: int) -> None:
    path = _clip(name)
    info = probe_video(path)
    assert info.frame_count == frames  # edit-list discards are not counted
    keys, kreader = read_all(path, Sampling("keyframes"))
    assert kreader.frames_read == frames and kreader.outcome == "ok"
    wanted = {f.frame_idx for f in keys}
    reader = iter_frames(path, Sampling("stride", stride=1))
    shown = {f.frame_idx: f.rgb for f in reader if f.frame_idx in wanted}
    assert reader.frames_read == frames and reader.outcome == "ok"
    for f in keys:  # no_face.mp4's only keyframe is hidden by its edit list: no keyframe is shown
        assert np.abs(shown[f.frame_idx].astype(int) - f.rgb).mean() < 1.0
