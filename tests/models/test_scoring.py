"""Scoring several models on shared batches: distinct networks, side by side in threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from expressions_ensemble.models import LoadedModel
from expressions_ensemble.models.ensemble import EnsembleModel, EnsembleSpec
from expressions_ensemble.models.scoring import PreparedBatch, distinct_networks, score_models
from scoring_support import CLASSES, TableModel, crops, member


class ThreadTableModel(TableModel):
    """A :class:`TableModel` that notes the thread of each forward pass."""

    def __init__(self, table: np.ndarray) -> None:
        super().__init__(table)
        self.threads: set[str] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.threads.add(threading.current_thread().name)
        return super().forward(x)


def threaded_member(table: np.ndarray) -> LoadedModel:
    model = member(table)
    return LoadedModel(ThreadTableModel(table), model.spec)


@pytest.fixture
def model_set() -> dict[str, object]:
    rng = np.random.default_rng(3)
    members = {f"m{i}": threaded_member(rng.normal(size=(12, 3))) for i in range(4)}
    ens = EnsembleModel(members, EnsembleSpec(tuple(members), CLASSES))
    return {"ens": ens, **members, "base": threaded_member(rng.normal(size=(12, 3)))}


def test_distinct_networks_lists_each_set_of_weights_once(model_set) -> None:
    nets = distinct_networks(model_set.values())
    assert nets == [model_set[f"m{i}"] for i in range(4)] + [model_set["base"]]
    twin = LoadedModel(model_set["base"].model, model_set["base"].spec, weights_digest="same")
    other = LoadedModel(model_set["base"].model, model_set["base"].spec, weights_digest="same")
    assert distinct_networks([twin, other]) == [twin]  # one checksum: one network


def test_networks_side_by_side_give_the_same_scores_and_each_runs_once_per_batch(model_set) -> None:
    images = crops(12)
    alone = score_models(model_set, images, batch_size=5)
    nets = distinct_networks(model_set.values())
    calls = [net.model.calls for net in nets]
    for net in nets:
        net.model.threads.clear()
    with ThreadPoolExecutor(2, "side") as pool:
        together = score_models(model_set, images, batch_size=5, executor=pool)
    assert [net.model.calls - c for net, c in zip(nets, calls, strict=True)] == [3] * len(nets)
    for name in model_set:
        np.testing.assert_array_equal(together[name], alone[name])
    ran_in = set().union(*(net.model.threads for net in nets))
    assert ran_in and all(name.startswith("side_") for name in ran_in)  # the pool's threads


def test_a_batch_run_in_threads_builds_each_input_once_and_leaves_the_logits_ready(model_set) -> None:
    batch = PreparedBatch(crops(4))
    nets = distinct_networks(model_set.values())
    with ThreadPoolExecutor(3) as pool:
        batch.run(nets, pool)
        calls = [net.model.calls for net in nets]
        batch.run(nets, pool)  # nothing left to do
    assert batch.prepared == 1
    assert [net.model.calls for net in nets] == calls
    model_set["ens"].proba_from(batch)
    assert [net.model.calls for net in nets] == calls  # the ensemble found its members' logits


def test_a_network_that_fails_in_a_thread_fails_the_scoring(model_set) -> None:
    broken = member(np.zeros((2, 3)))  # a table of 2 rows: crop index 3 is out of range
    with ThreadPoolExecutor(2) as pool, pytest.raises(IndexError):
        score_models({**model_set, "broken": broken}, crops(4), executor=pool)
