import os

import pytest
from kedro.io import DatasetError

from expressions_ensemble.datasets import PhotoFolderDataset


def test_missing_folder_loads_empty(tmp_path):
    ds = PhotoFolderDataset(str(tmp_path / "nope"))
    assert len(ds.load()) == 0 and not ds.exists()


def test_save_is_incremental_and_lazy(tmp_path):
    ds = PhotoFolderDataset(str(tmp_path / "photos"))
    calls = []

    def later():
        calls.append(1)
        return b"\xff\xd8lazy"

    ds.save({"a.jpg": b"aaa", "sub/b.png": later})
    assert calls == [1]
    folder = ds.load()
    assert sorted(folder) == ["a.jpg", "sub/b.png"]
    assert folder["sub/b.png"] == b"\xff\xd8lazy" and "a.jpg" in folder
    mtime = os.stat(tmp_path / "photos" / "a.jpg").st_mtime_ns
    ds.save({"a.jpg": b"aaa", "c.jpg": b"c"})  # unchanged file untouched, nothing deleted
    assert os.stat(tmp_path / "photos" / "a.jpg").st_mtime_ns == mtime
    assert sorted(ds.load()) == ["a.jpg", "c.jpg", "sub/b.png"]
    ds.save({"a.jpg": b"changed"})
    assert ds.load()["a.jpg"] == b"changed"
    assert not list((tmp_path / "photos").rglob("*.part"))  # no temporary leftovers


def test_save_refuses_paths_outside_and_non_bytes(tmp_path):
    ds = PhotoFolderDataset(str(tmp_path / "photos"))
    with pytest.raises(DatasetError, match="outside the folder"):
        ds.save({"../evil.jpg": b"x"})
    with pytest.raises(DatasetError, match="must be bytes"):
        ds.save({"x.jpg": "text"})


def test_unfinished_temporary_files_are_not_listed(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    (root / ".a.jpg.123.part").write_bytes(b"half")
    (root / "notes.txt").write_text("x")
    assert len(PhotoFolderDataset(str(root)).load()) == 0


def test_saved_files_are_world_readable(tmp_path):
    ds = PhotoFolderDataset(str(tmp_path / "p"))
    ds.save({"a.jpg": b"x"})
    assert (tmp_path / "p" / "a.jpg").stat().st_mode & 0o044 == 0o044
