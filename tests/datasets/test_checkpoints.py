"""Checkpoints carry a checksum: a flipped byte anywhere is never resumed, and says which file."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from expressions_ensemble.datasets.checkpoints import (
    MAGIC,
    DamagedCheckpoint,
    FileCheckpointStore,
    read_checkpoint,
)


def _state() -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.LazyLinear(4))
    model(torch.zeros(1, 3, 8, 8))
    optimizer = torch.optim.Adam(model.parameters())
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3, "history": []}


def test_a_saved_checkpoint_resumes_as_saved_and_only_for_its_run(tmp_path: Path) -> None:
    store = FileCheckpointStore(tmp_path)
    state = _state()
    store.save("run-a", state)
    assert store.file.read_bytes().startswith(MAGIC)
    loaded = store.load("run-a")
    assert loaded is not None and loaded["epoch"] == 3
    for key, value in state["model"].items():
        torch.testing.assert_close(loaded["model"][key], value)
    assert store.load("run-b") is None
    store.clear()
    assert store.load("run-a") is None


@pytest.mark.parametrize("where", ["magic", "digest", "line_end", "torch_header", "middle", "last"])
def test_a_flipped_byte_is_never_resumed_and_the_warning_names_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    store = FileCheckpointStore(tmp_path)
    store.save("run-a", _state())
    data = bytearray(store.file.read_bytes())
    head = len(MAGIC) + 64 + 1
    offset = {
        "magic": 3,
        "digest": len(MAGIC) + 10,
        "line_end": head - 1,
        "torch_header": head + 2,  # the zip header of torch.save's payload
        "middle": len(data) // 2,
        "last": len(data) - 1,
    }[where]
    data[offset] ^= 0x01
    store.file.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="expressions_ensemble.datasets.checkpoints"):
        assert store.load("run-a") is None
    (message,) = [r.getMessage() for r in caplog.records]
    assert str(store.file) in message and "training from the start" in message
    with pytest.raises(DamagedCheckpoint, match=r"checksum|no checksum line"):
        read_checkpoint(bytes(data), str(store.file))


def test_a_checkpoint_without_checksum_or_of_another_writer_is_not_resumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileCheckpointStore(tmp_path)
    buf = io.BytesIO()
    torch.save({"fingerprint": "run-a", "state": _state()}, buf)  # the layout before checksums
    store.file.write_bytes(buf.getvalue())
    with caplog.at_level(logging.WARNING):
        assert store.load("run-a") is None
    assert "no checksum line" in caplog.text and str(store.file) in caplog.text
    with pytest.raises(DamagedCheckpoint, match="not a readable checkpoint"):
        payload = b"not torch at all"
        read_checkpoint(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload, "x.pt")
    store.file.write_bytes(b"")
    assert store.load("run-a") is None
