"""Wiring helpers shared by the per-source pipelines."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node

from expressions_ensemble.training.bagging import bag_with_counts


def bind_source(func: Callable[..., Any], *values: Any, **keywords: Any) -> Callable[..., Any]:
    """``func`` with values fixed at wiring time (first the source's name: the namespace is the
    source's name) bound as its first arguments, and ``keywords``; it keeps ``func``'s name for Kedro."""
    return update_wrapper(partial(func, *values, **keywords), func)


def bag_split_node(index: int, key: str, name: str) -> Node:
    """The node that cuts bag ``index`` out of its parent's split (``parent_split``, ``params:bagging``
    at ``key``): the first node of every bag pipeline, of sources and comparison datasets alike."""
    return Node(
        bind_source(bag_with_counts, index=index, key=key),
        inputs=["parent_split", "params:bagging"],
        outputs=["training_split", "training_split_counts"],
        name=name,
    )
