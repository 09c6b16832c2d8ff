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

Crops are one list (every model sees the same crops: a test set's stored photos), or a list per crop
framing (:attr:`~expressions_ensemble.imaging.CropGeometry.framing`: a film's faces cropped once per
distinct geometry of the models), each network reading those of its own ``spec.crop``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from expressions_ensemble.imaging import Framing, to_tensor_batch
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
    """What decides a model's input tensor from given crops: models with equal keys can share it."""
    return (spec.input_size, spec.mean, spec.std, spec.preprocessing)


#: Crops of the same faces per crop framing (see the module docstring), all of one length.
Crops = Sequence[np.ndarray] | Mapping[Framing, Sequence[np.ndarray]]


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

    def __init__(self, images: Crops, test_time_flip: bool = True) -> None:
        self.framed = isinstance(images, Mapping)  # a list of crops per framing
        # False: no network runs its test-time flip (each model's own otherwise): half the passes
        self.test_time_flip = test_time_flip
        self.crops = {k: list(v) for k, v in images.items()} if self.framed else {None: list(images)}
        if len({len(v) for v in self.crops.values()}) > 1:
            raise ValueError(
                f"crops per framing of different lengths: { {k: len(v) for k, v in self.crops.items()} }"
            )
        self._tensors: dict[Hashable, torch.Tensor] = {}
        self._logits: dict[Hashable, np.ndarray] = {}
        self.prepared = 0  # how many tensors were built (tests check the sharing)

    def __len__(self) -> int:
        return len(next(iter(self.crops.values()), []))

    def images(self, spec: ModelSpec) -> list[np.ndarray]:
        """The crops a model with ``spec`` reads: those of its crop framing, when crops are framed."""
        if not self.framed:
            return self.crops[None]
        try:
            return self.crops[spec.crop.framing]
        except KeyError:
            raise ValueError(
                f"no crops with framing (margin, crop_size, shift, aligned) {spec.crop.framing}; "
                f"made: {sorted(self.crops)}"
            ) from None

    def tensor(self, spec: ModelSpec) -> torch.Tensor:
        key = (spec.crop.framing if self.framed else None, *input_key(spec))
        if key not in self._tensors:
            self._tensors[key] = to_tensor_batch(
                self.images(spec), spec.input_size, spec.mean, spec.std, spec.preprocessing
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
                flip = model.spec.test_time_flip and self.test_time_flip
                out = infer_logits(net, x, flip).float().cpu().numpy()
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
    images: Crops,
    batch_size: int = 64,
    executor: Executor | None = None,
    test_time_flip: bool = True,
) -> dict[str, np.ndarray]:
    """Class probabilities of every model for the same faces: ``{name: (N, len(classes))}``; ``images``
    is one list of crops, or a list per crop framing (see the module docstring).

    Batches of ``batch_size`` crops keep memory flat however many crops there are. With ``executor``
    (threads), the distinct networks of each batch run side by side (see the module docstring). With
    ``test_time_flip`` false, no network runs the flip its spec asks for (films: ``movie_eval``).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    framed = images if isinstance(images, Mapping) else {None: images}
    n = len(next(iter(framed.values()), []))
    out = {name: np.empty((n, len(model.classes)), dtype=np.float32) for name, model in models.items()}
    for start in range(0, n, batch_size):
        part = {k: v[start : start + batch_size] for k, v in framed.items()}
        batch = PreparedBatch(part if isinstance(images, Mapping) else part[None], test_time_flip)
        if executor is not None:
            batch.run(models.values(), executor)
        for name, model in models.items():
            out[name][start : start + len(batch)] = model.proba_from(batch)
    return out


def model_digest(model: Scorable) -> str:
    """A checksum of what decides a model's output: its spec (classes, preprocessing, an ensemble's
    method, weights and temperatures) and the checksum of each network's weights (the artifact's own,
    see :class:`~expressions_ensemble.models.LoadedModel`; computed from the tensors for a model that
    was not loaded from an artifact). A retrained model gets a new digest; a model saved again with the
    same weights keeps it, because the spec's ``metadata`` (training seconds, epochs: where it came
    from, not what it computes) is left out."""
    spec = getattr(model, "spec", None)
    parts: list[Any] = [_output_spec(spec) if spec is not None else None]
    for net in model.networks():
        digest = net.weights_digest
        if digest is None:
            h = hashlib.sha256()
            for name, tensor in sorted(net.state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            digest = h.hexdigest()
        parts.append([_output_spec(net.spec), digest])
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _output_spec(spec: Any) -> dict[str, Any]:
    """The spec's dict without its ``metadata`` (a resumed training records other seconds)."""
    return {k: v for k, v in spec.to_dict().items() if k != "metadata"}
