"""Writing files so that a killed run never leaves a half-written file under its final name.

Every output that a re-run trusts (photos, crops, model artifacts, checkpoints, film predictions) is
written here: to a temporary file beside the target, then renamed into place (atomic on POSIX). The
temporary name is unique per call (``mkstemp``), so two runs writing the same target at once never
write into one temporary file; the last rename wins with a complete file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


@contextmanager
def replaced_on_success(path: Path, suffix: str = ".part") -> Iterator[Path]:
    """A new, uniquely named empty file beside ``path`` for a writer that needs a file name (a video
    encoder); renamed onto ``path`` when the block ends without error, deleted otherwise.

    ``suffix`` ends the temporary name, for writers that choose the format by the file ending (OpenCV's
    ``VideoWriter`` needs ``.mp4``). The name starts with a dot, so folder listings skip it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a uniquely named temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; stored images are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
