"""Atomic writes: unique temporary names beside the target, nothing left behind on success or failure."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from expressions_ensemble.files import replaced_on_success, write_atomic


def test_two_writers_of_one_target_get_their_own_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "film.mp4"
    with (
        replaced_on_success(target, suffix=".partial.mp4") as first,
        replaced_on_success(target, suffix=".partial.mp4") as second,
    ):
        assert first != second
        assert first.parent == second.parent == tmp_path
        assert first.name.startswith(".film.") and first.name.endswith(".partial.mp4")
        first.write_bytes(b"first")
        second.write_bytes(b"second")
    assert target.read_bytes() == b"first"  # the outer block ended last: its rename won
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4"]


def test_a_failed_block_leaves_neither_target_nor_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "film.mp4"
    with pytest.raises(RuntimeError, match="encoder died"), replaced_on_success(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert list(target.parent.iterdir()) == []


def test_concurrent_atomic_writes_leave_one_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    threads = [threading.Thread(target=write_atomic, args=(target, data)) for data in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]
