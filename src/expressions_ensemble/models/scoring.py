"""Scoring several models on the same face crops, sharing the work they have in common.

Per batch of crops, each distinct preprocessing (input size, normalisation, variant) is prepared once
(:class:`PreparedBatch`), and each distinct set of weights runs once: a member that is both a model of
the set and a member of an ensemble in it (the film evaluation scores the ensemble, its members and the
baselines together) is not run twice. Single models and ensembles implement ``proba_from(batch)``
and ``networks()`` (the single networks they combine).

With an executor, the distinct networks of a batch run side by side, each in a thread of its own
(torch releases the GIL in its operators): on few cores, several networks on one intra-op thread each
keep every core busy better than one network at a time spread over all of them (measured on 2 cores,
six EfficientNet-Lite0 at 96 px with flip, batches of 32: 26 ms a face against 29-41 ms).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from expressions_ensemble.imaging import to_tensor_batch
from expressions_ensemble.models.inference import module_device

if TYPE_CHECKING:
    from expressions_ensemble.models.artifact import LoadedModel, ModelSpec


class Scorable(Protocol):
    """What the evaluation matrix and the film evaluation need of a model (single or ensemble)."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    def proba_from(self, batch: PreparedBatch) -> np.ndarray: ...

    def networks(self) -> tuple[LoadedModel, ...]: ...


def infer_logits(model: torch.nn.Module, x: torch.Tensor, flip: bool) -> torch.Tensor:
    """Logits of a normalised batch; with ``flip``, averaged with the logits of the mirrored batch
    (test-time augmentation: a face and its mirror image show the same emotion)."""
    logits = model(x)
    if flip:
        logits = (logits + model(x.flip(-1))) / 2
    return logits


def input_key(spec: ModelSpec) -> tuple[Hashable, ...]:
    """What decides a model's input tensor: models with equal keys can share it."""
    return (spec.input_size, spec.mean, spec.std, spec.preprocessing)


def weights_key(model: LoadedModel) -> Hashable:
    """The weights' checksum when known (loaded from an artifact), else the object itself."""
    return model.weights_digest or id(model)


def distinct_networks(models: Iterable[Scorable]) -> list[LoadedModel]:
    """The networks the models run, each set of weights once (an ensemble's members included)."""
    seen: dict[Hashable, LoadedModel] = {}
    for model in models:
        for net in model.networks():
            seen.setdefault(weights_key(net), net)
    return list(seen.values())


class PreparedBatch:
    """One batch of RGB face crops, with the input tensors and logits computed so far (a per-batch cache)."""

    def __init__(self, images: Sequence[np.ndarray]) -> None:
        self.images = list(images)
        self._tensors: dict[Hashable, torch.Tensor] = {}
        self._logits: dict[Hashable, np.ndarray] = {}
        self.prepared = 0  # how many tensors were built (tests check the sharing)

    def __len__(self) -> int:
        return len(self.images)

    def tensor(self, spec: ModelSpec) -> torch.Tensor:
        key = input_key(spec)
        if key not in self._tensors:
            self._tensors[key] = to_tensor_batch(
                self.images, spec.input_size, spec.mean, spec.std, spec.preprocessing
            ).contiguous(memory_format=torch.channels_last)  # the layout LoadedModel keeps its weights in
            self.prepared += 1
        return self._tensors[key]

    def logits(self, model: LoadedModel) -> np.ndarray:
        """The model's logits (N, len(model.classes)) for this batch, computed once per set of weights."""
        key = weights_key(model)
        if key not in self._logits:
            if model.model.training:  # a LoadedModel is for inference; batch norm must use its statistics
                model.eval()
            net = model.inference_net()  # batch norm folded: same logits, fewer passes over memory
            with torch.inference_mode():
                x = self.tensor(model.spec).to(module_device(net))
                out = infer_logits(net, x, model.spec.test_time_flip).float().cpu().numpy()
            self._logits[key] = out
        return self._logits[key]

    def run(self, models: Iterable[Scorable], executor: Executor) -> None:
        """The logits of every network ``models`` run, computed side by side in ``executor``'s threads,
        so that the ``logits`` calls that follow find them ready. Input tensors are built first, in
        this thread, so that the threads only read what they share."""
        todo = [net for net in distinct_networks(models) if weights_key(net) not in self._logits]
        for net in todo:
            self.tensor(net.spec)
        for _ in executor.map(self.logits, todo):
            pass


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (numerically stable)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def score_models(
    models: Mapping[str, Scorable],
    images: Sequence[np.ndarray],
    batch_size: int = 64,
    executor: Executor | None = None,
) -> dict[str, np.ndarray]:
    """Class probabilities of every model for the same crops: ``{name: (N, len(classes))}``.

    Batches of ``batch_size`` crops keep memory flat however many crops there are. With ``executor``
    (threads), the distinct networks of each batch run side by side (see the module docstring).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n = len(images)
    out = {name: np.empty((n, len(model.classes)), dtype=np.float32) for name, model in models.items()}
    for start in range(0, n, batch_size):
        batch = PreparedBatch(images[start : start + batch_size])
        if executor is not None:
            batch.run(models.values(), executor)
        for name, model in models.items():
            out[name][start : start + len(batch)] = model.proba_from(batch)
    return out
