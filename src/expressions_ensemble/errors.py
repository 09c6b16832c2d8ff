"""Errors a user can fix, and how a run that stops on one is shown: one clear line, not pages of frames.

A bad parameter, a missing input file or a damaged model artifact is the user's to fix; the message
names the key, the file and what is allowed, and that is what they need to read. Raise
:class:`UserError` (or :class:`ParameterError` for a parameter check) for such a problem. The other
errors our code raises for bad input are ``ValueError`` exceptions, so a ``ValueError`` raised inside this
package counts too, as does an input file that is missing or unreadable (anywhere in the chain of
causes, e.g. inside Kedro's ``DatasetError``).

:class:`ShortErrorsHook` installs :class:`ShortErrorReport` as the process's ``sys.excepthook`` when a
Kedro context is created (the top-level error of ``kedro run`` reaches it; code that catches its errors,
such as tests or notebooks, sees the original exception unchanged). It writes the full traceback of
every uncaught error to the ``expressions_ensemble.errors`` logger (``conf/logging.yml`` sends it to
``info.log`` only), then prints, for a user-fixable error, the frame that raised it and the message as
the last line; any other error gets the usual full traceback (a bug needs its frames).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]

#: Input files the user can create, fix or make readable.
_FILE_PROBLEMS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class UserError(Exception):
    """A problem the user can fix (a setting, an input file); the message says what and where."""


class ParameterError(UserError, ValueError):
    """A parameter outside what is allowed; the message names the full key path and the allowed values."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and its causes (``raise ... from``) or contexts, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def _raised_in_package(error: BaseException) -> bool:
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and _in_package(frames[-1].filename)


def _in_package(filename: str) -> bool:
    """Whether a frame's file is part of this package (whose ``ValueError`` exceptions refuse bad input)."""
    return Path(__file__).parent in Path(filename).parents


def is_user_fixable(error: BaseException) -> bool:
    """Whether ``error`` (or one of its causes) is a problem with the user's settings or files."""
    for exc in _chain(error):
        if isinstance(exc, (UserError, *_FILE_PROBLEMS)):
            return True
        if isinstance(exc, ValueError) and _raised_in_package(exc):
            return True
    return False


def one_line(error: BaseException) -> str:
    """``Type: message`` on one line (a message over several lines is joined)."""
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _raising_frame(error: BaseException) -> list[str]:
    """The frame of this package closest to where ``error`` was raised, formatted (or none)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _in_package(f.filename)]
    return traceback.format_list(frames[-1:]) if frames else []


def log_files(log: logging.Logger) -> list[str]:
    """Files that records of ``log`` end up in (its file handlers and those of the loggers it
    propagates to)."""
    files: list[str] = []
    current: logging.Logger | None = log
    while current is not None:
        files += [h.baseFilename for h in current.handlers if isinstance(h, logging.FileHandler)]
        current = current.parent if current.propagate else None
    return files


class ShortErrorReport:
    """An ``excepthook``: full traceback to the errors log, a short report of a user error on stderr."""

    def __init__(self, previous: ExceptHook, stream: IO[str] | None = None) -> None:
        self.previous = previous
        self.stream = stream

    def __call__(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: as Python shows them
            self.previous(kind, error, tb)
            return
        logger.error("run stopped: %s", one_line(error), exc_info=(kind, error, tb))
        files = log_files(logger)
        if not is_user_fixable(error) or not files:  # a bug needs its frames, here if nowhere else
            self.previous(kind, error, tb)
            return
        stream = self.stream or sys.stderr
        stream.write(f"The run stopped on a problem to fix (full traceback in {', '.join(files)}):\n")
        stream.write("".join(_raising_frame(error)))
        stream.write(one_line(error) + "\n")
        stream.flush()


class ShortErrorsHook:
    """Installs :class:`ShortErrorReport` for the process of a Kedro session (once)."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        if not isinstance(sys.excepthook, ShortErrorReport):
            sys.excepthook = ShortErrorReport(sys.excepthook)
