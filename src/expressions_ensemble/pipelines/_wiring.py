"""Wiring helpers shared by the per-source pipelines."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any


def bind_source(func: Callable[..., Any], source_name: str) -> Callable[..., Any]:
    """``func`` with the source's name bound as its first argument (the namespace is the source's name)."""
    return update_wrapper(partial(func, source_name), func)
