"""The ensemble as a model: members combined by class name, saved and loaded like a single model.

Members may know different classes (web searches cover different emotions: ``bing_multi`` has no fear,
``google_a`` no neutral). The ensemble's classes are the union of its members' (in order of first
appearance, member by member) unless ``ensemble.classes`` narrows them; every class must be known by at
least one member, every member must know at least one class (else :class:`EnsembleClassError`).
A member's probabilities over the ensemble's classes it knows are the softmax of its logits for those
classes (a member with classes outside the ensemble is renormalised over the ones inside). Then, per
method (``method``):

- ``mean``: each class's probability is the mean over the members that know it (the study, when all
  know every class); the row is then renormalised to sum to 1, so a class known by one member is not
  diluted by the zeros of the others;
- ``f1_weighted``: the same, each member weighted by its validation macro-F1, the weights renormalised
  over the members that know the class (a class only zero-weight members know gets 0);
- ``calibrated_mean``: ``mean`` of temperature-scaled probabilities, one temperature per member fitted
  on that member's own validation split (:func:`fit_temperature`);
- ``vote``: each member votes for its most likely class among its own classes; the output distribution
  is ``(votes + mean) / (members + 1)`` with ``mean`` as above, so its arg-max is the majority and a
  tie goes to the class with the higher mean probability.

Every probability row sums to 1. Members keep their own crop geometry (``spec.crop``): a film frame's
face is cropped for each member as that member was trained (:mod:`~expressions_ensemble.film_eval`).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from torch import nn

from expressions_ensemble.imaging import CropGeometry
from expressions_ensemble.labels import validate_classes
from expressions_ensemble.models.artifact import (
    FORMAT,
    HEADER_MEMBER,
    KIND_ENSEMBLE,
    VERSION,
    LoadedModel,
    MemberReader,
    ModelArtifactError,
    _jsonable,
    artifact_bytes,
    read_artifact,
)
from expressions_ensemble.models.scoring import PreparedBatch, score_models, softmax

METHODS: tuple[str, ...] = ("mean", "f1_weighted", "vote", "calibrated_mean")


class EnsembleClassError(ValueError):
    """The members' classes do not fit the ensemble's: a class no member knows, a member that knows no
    class of the ensemble, or members without any class."""


def _classes_of(known: Mapping[str, Sequence[str]]) -> str:
    """``a: angry, happy; b: sad`` for error messages."""
    return "; ".join(f"{name}: {', '.join(classes)}" for name, classes in known.items())


@dataclass(frozen=True)
class EnsembleSpec:
    """How members are combined: their names (in order), the classes, the method and its numbers."""

    members: tuple[str, ...]
    classes: tuple[str, ...]
    method: str = "mean"
    weights: tuple[float, ...] | None = None  # per member; None = equal (used by f1_weighted)
    temperatures: tuple[float, ...] | None = None  # per member; None = 1 (used by calibrated_mean)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        members = tuple(str(m) for m in self.members)
        if not members:
            raise ValueError("ensemble.members: at least one member is required")
        if len(set(members)) != len(members):
            raise ValueError(f"ensemble.members: a member is listed twice in {list(members)}")
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "classes", validate_classes(self.classes, key="ensemble.classes"))
        if self.method not in METHODS:
            raise ValueError(f"ensemble.method: got {self.method!r}; allowed: {', '.join(METHODS)}")
        for key in ("weights", "temperatures"):
            values = getattr(self, key)
            if values is None:
                continue
            values = tuple(float(v) for v in values)
            if len(values) != len(members):
                raise ValueError(f"ensemble.{key}: {len(values)} values for {len(members)} members")
            low = 0.0 if key == "weights" else 1e-6
            if not all(math.isfinite(v) and v >= low for v in values):
                raise ValueError(f"ensemble.{key}: expected finite values >= {low}, got {list(values)}")
            if key == "weights" and sum(values) <= 0:
                raise ValueError(
                    f"ensemble.weights: at least one weight must be positive, got {list(values)}"
                )
            object.__setattr__(self, key, values)
        object.__setattr__(self, "metadata", _jsonable(dict(self.metadata), "ensemble.metadata"))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("members", "classes", "weights", "temperatures"):
            out[key] = None if out[key] is None else list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnsembleSpec:
        names = set(cls.__dataclass_fields__)
        if unknown := set(data) - names:
            raise ValueError(f"ensemble spec: unknown keys {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**{**data, "members": tuple(data["members"]), "classes": tuple(data["classes"])})


@dataclass(frozen=True)
class EnsembleParams:
    """A validated ``ensemble.ensembles.<name>`` entry: members (namespaces), method, optional classes."""

    members: tuple[str, ...]
    method: str = "mean"
    classes: tuple[str, ...] | None = None  # None: every class of any member

    @classmethod
    def from_params(cls, params: Mapping[str, Any], key: str) -> EnsembleParams:
        allowed = {"members", "method", "classes", "enabled"}
        if unknown := set(params) - allowed:
            raise ValueError(f"{key}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        members = params.get("members")
        if isinstance(members, str) or not isinstance(members, Sequence) or len(members) < 2:
            raise ValueError(f"{key}.members: got {members!r}; allowed: a list of at least two model names")
        if len(set(members)) != len(members):
            raise ValueError(f"{key}.members: a member is listed twice in {list(members)}")
        method = params.get("method", "mean")
        if method not in METHODS:
            raise ValueError(f"{key}.method: got {method!r}; allowed: {', '.join(METHODS)}")
        classes = params.get("classes")
        return cls(
            members=tuple(str(m) for m in members),
            method=method,
            classes=None if classes is None else validate_classes(classes, key=f"{key}.classes"),
        )

    def resolve_classes(self, members: Mapping[str, LoadedModel], key: str = "ensemble") -> tuple[str, ...]:
        """The configured classes, or the union of the members' (in order of first appearance); a
        configured class no member knows fails naming it and the members' classes."""
        known = {m: members[m].classes for m in self.members}
        union = tuple(dict.fromkeys(c for m in self.members for c in known[m]))
        if self.classes is None:
            if not union:
                raise EnsembleClassError(f"{key}: members {list(self.members)} have no class")
            return union
        if unknown := [c for c in self.classes if c not in union]:
            raise EnsembleClassError(
                f"{key}.classes: no member knows {', '.join(map(repr, unknown))}; allowed: classes of the "
                f"members ({_classes_of(known)})"
            )
        return self.classes


class EnsembleModel(nn.Module):
    """Members combined into one model with ``classes`` and ``predict_proba``, like a single model."""

    def __init__(self, members: Mapping[str, LoadedModel], spec: EnsembleSpec) -> None:
        super().__init__()
        if set(members) != set(spec.members):
            raise ValueError(
                f"ensemble: members given {sorted(members)} differ from the spec's {list(spec.members)}"
            )
        self.spec = spec
        self.members = nn.ModuleDict({name: members[name] for name in spec.members})
        self._columns: dict[str, np.ndarray] = {}
        for name, member in self.members.items():
            cols = np.array([member.classes.index(c) if c in member.classes else -1 for c in spec.classes])
            if not (cols >= 0).any():
                raise EnsembleClassError(
                    f"ensemble: member {name!r} shares no class with the ensemble (its classes: "
                    f"{', '.join(member.classes)}; the ensemble's: {', '.join(spec.classes)})"
                )
            self._columns[name] = cols
        if orphans := [
            c for i, c in enumerate(spec.classes) if all(v[i] < 0 for v in self._columns.values())
        ]:
            raise EnsembleClassError(
                f"ensemble.classes: no member knows {', '.join(map(repr, orphans))}; allowed: classes of "
                f"the members ({_classes_of({n: m.classes for n, m in self.members.items()})})"
            )
        #: (members, classes): which member knows which class of the ensemble
        self.known = np.stack([self._columns[n] >= 0 for n in spec.members])
        self.eval()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    @property
    def crops(self) -> dict[str, CropGeometry]:
        """Each member's crop geometry (the ensemble carries its members')."""
        return {name: member.spec.crop for name, member in self.members.items()}

    def member_proba(self, name: str, logits: np.ndarray) -> np.ndarray:
        """A member's probabilities over the ensemble's classes (0 where it lacks a class)."""
        cols = self._columns[name]
        index = list(self.spec.members).index(name)
        t = (
            self.spec.temperatures[index]
            if self.spec.temperatures and self.spec.method == "calibrated_mean"
            else 1.0
        )
        out = np.zeros((len(logits), len(cols)), dtype=np.float32)
        present = cols >= 0
        out[:, present] = softmax(logits[:, cols[present]], t)
        return out

    def combine(self, member_logits: Mapping[str, np.ndarray]) -> np.ndarray:
        """The ensemble's probabilities from each member's logits (members' own class order): each
        class averaged over the members that know it, rows renormalised (see the module docstring)."""
        probs = np.stack([self.member_proba(name, member_logits[name]) for name in self.spec.members])
        weights = np.ones(len(self.spec.members))
        if self.spec.method == "f1_weighted" and self.spec.weights is not None:
            weights = np.asarray(self.spec.weights, dtype=np.float64)
        per_class = weights[:, None] * self.known  # (members, classes): each class's own weights
        total = per_class.sum(axis=0)
        mean = np.einsum("mc,mnc->nc", per_class, probs) / np.where(total > 0, total, 1.0)
        mean /= mean.sum(axis=1, keepdims=True)
        if self.spec.method != "vote":
            return mean.astype(np.float32)
        votes = np.zeros_like(mean)
        for p in probs:
            votes[np.arange(len(p)), p.argmax(axis=1)] += 1.0
        return ((votes + mean) / (len(probs) + 1)).astype(np.float32)

    def proba_from(self, batch: PreparedBatch) -> np.ndarray:
        return self.combine({name: batch.logits(member) for name, member in self.members.items()})

    def networks(self) -> tuple[LoadedModel, ...]:
        return tuple(self.members.values())

    def predict_proba(self, images: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Class probabilities (N, len(classes)) for RGB face crops; members sharing preprocessing share
        the prepared tensor."""
        return score_models({"ensemble": self}, images, batch_size)["ensemble"]


# ---------------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------------


def _nll(logits: np.ndarray, codes: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(codes)), codes].mean())


def fit_temperature(
    logits: np.ndarray, codes: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """The temperature minimising the negative log-likelihood of ``codes`` under ``softmax(logits / T)``.

    A coarse grid over log T, then golden-section refinement around its best point; rows with an
    unknown code (-1) are ignored. No rows: 1.0 (no evidence to change anything).
    """
    logits = np.asarray(logits, dtype=np.float64)
    codes = np.asarray(codes)
    keep = (codes >= 0) & (codes < logits.shape[1])
    logits, codes = logits[keep], codes[keep]
    if len(codes) == 0:
        return 1.0
    grid = np.linspace(math.log(bounds[0]), math.log(bounds[1]), 61)
    losses = [_nll(logits, codes, math.exp(g)) for g in grid]
    i = int(np.argmin(losses))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if _nll(logits, codes, math.exp(a)) < _nll(logits, codes, math.exp(b)):
            hi = b
        else:
            lo = a
    return float(math.exp((lo + hi) / 2))


# ---------------------------------------------------------------------------------------------------
# The ensemble artifact: a header plus one embedded single-model artifact per member
# ---------------------------------------------------------------------------------------------------


def _member_path(name: str) -> str:
    return f"members/{name}.eemodel"


def ensemble_bytes(ensemble: EnsembleModel) -> bytes:
    """The artifact file's content for an ensemble (members embedded as single-model artifacts)."""
    import hashlib

    members = {name: artifact_bytes(m.model, m.spec) for name, m in ensemble.members.items()}
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": KIND_ENSEMBLE,
        "spec": ensemble.spec.to_dict(),
        "members": {
            name: {
                "member": _member_path(name),
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
            for name, data in members.items()
        },
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(HEADER_MEMBER, json.dumps(header, indent=2), compress_type=zipfile.ZIP_DEFLATED)
        for name, data in members.items():
            zf.writestr(_member_path(name), data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def ensemble_from_header(header: Mapping[str, Any], read_member: MemberReader, source: str) -> EnsembleModel:
    """Rebuild an ensemble from its checked header (see :func:`models.artifact.read_artifact`)."""
    try:
        spec = EnsembleSpec.from_dict(header["spec"])
        entries = header["members"]
        missing = [m for m in spec.members if m not in entries]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelArtifactError(f"{source}: invalid ensemble header: {exc}") from None
    if missing:
        raise ModelArtifactError(f"{source}: ensemble members {missing} are not in the file")
    members = {}
    for name in spec.members:
        model = read_artifact(read_member(entries[name], f"ensemble member {name!r}"), f"{source}!{name}")
        if not isinstance(model, LoadedModel):
            raise ModelArtifactError(f"{source}: ensemble member {name!r} is itself an ensemble")
        members[name] = model
    try:
        return EnsembleModel(members, spec)
    except ValueError as exc:
        raise ModelArtifactError(f"{source}: {exc}") from None
