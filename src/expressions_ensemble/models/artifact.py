"""The self-describing model artifact: one file holding the weights and everything needed to use them.

Format (version 1): a zip with two members,

- ``expressions_ensemble_model.json``: ``{"format": FORMAT, "version": 1, "spec": {...}, "weights":
  {"member": "weights.pt", "sha256": ..., "bytes": ...}, "versions": {...}}``;
- ``weights.pt``: the ``state_dict`` written by ``torch.save``.

Loading reads the JSON header first and refuses anything else (random bytes, a plain ``torch.save``
checkpoint, another JSON, a truncated or altered file, a flipped byte anywhere: the zip's own CRCs and
the weights' sha256 see it) with a :class:`ModelArtifactError` naming the file and the problem, never a
raw ``zlib``/``zipfile`` error; it is a :class:`~expressions_ensemble.errors.UserError` (a run stops on
it with one clear line). Weights are read with ``torch.load(weights_only=True)`` (no pickled code runs)
into a model rebuilt with ``pretrained="none"``, so loading never downloads anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import timm
import torch
from torch import nn

from expressions_ensemble.errors import UserError
from expressions_ensemble.files import write_atomic
from expressions_ensemble.imaging import CropGeometry, to_tensor_batch, validate_preprocessing
from expressions_ensemble.labels import validate_classes
from expressions_ensemble.models.backbones import (
    BackboneError,
    build_backbone,
    data_config,
    validate_pretrained,
    validate_trainable,
)
from expressions_ensemble.models.inference import inference_copy, module_device
from expressions_ensemble.models.scoring import PreparedBatch, score_models, softmax

if TYPE_CHECKING:
    from expressions_ensemble.models.ensemble import EnsembleModel

logger = logging.getLogger(__name__)

#: Identifies our artifacts; the version says which layout of the header follows.
FORMAT = "expressions-ensemble/model-artifact"
VERSION = 1
HEADER_MEMBER = "expressions_ensemble_model.json"
WEIGHTS_MEMBER = "weights.pt"
#: What an artifact holds (header ``kind``; absent = a single model, as version 1 first wrote it).
KIND_MODEL = "model"
KIND_ENSEMBLE = "ensemble"
#: A header is small; a larger one is not ours (and is not read into memory).
MAX_HEADER_BYTES = 1_000_000


class ModelArtifactError(UserError, ValueError):
    """A file that is not a usable model artifact; the message names the file and what is wrong."""


def _triple(values: Sequence[float], name: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected three numbers (R, G, B), got {values!r}") from None
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name}: expected three finite numbers (R, G, B), got {values!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class ModelSpec:
    """Everything besides the weights that using a model needs, and where it came from.

    ``backbone`` is the resolved timm name (rebuilt with random weights, then loaded); ``input_size``,
    ``mean``, ``std`` and ``preprocessing`` feed :func:`~expressions_ensemble.imaging.to_tensor_batch`;
    ``pretrained`` and ``trainable`` record how training started; ``crop`` is the geometry of the face
    crops it was trained on (a film frame's faces are cropped the same way for it; a header written
    before it was recorded reads as the base env's defaults, marked ``assumed``); ``metadata`` holds
    anything JSON-serialisable (training source, metrics, class counts, dates).
    """

    backbone: str
    classes: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    preprocessing: str = "rgb"
    trainable: str | dict[str, int] = "all"
    pretrained: str = "none"
    test_time_flip: bool = False  # logits averaged with those of the mirrored crop
    crop: CropGeometry = field(default_factory=CropGeometry)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.backbone, str) or not timm.is_model(self.backbone):
            raise ValueError(f"spec.backbone: {self.backbone!r} is not a timm model name")
        object.__setattr__(self, "classes", validate_classes(self.classes, key="spec.classes"))
        if isinstance(self.input_size, bool) or not isinstance(self.input_size, int) or self.input_size < 1:
            raise ValueError(f"spec.input_size: expected a positive integer, got {self.input_size!r}")
        object.__setattr__(self, "mean", _triple(self.mean, "spec.mean"))
        object.__setattr__(self, "std", _triple(self.std, "spec.std"))
        if min(self.std) <= 0:
            raise ValueError(f"spec.std: must be positive, got {self.std}")
        validate_preprocessing(self.preprocessing, key="spec.preprocessing")
        object.__setattr__(self, "trainable", validate_trainable(self.trainable, key="spec.trainable"))
        validate_pretrained(self.pretrained, key="spec.pretrained")
        if not isinstance(self.test_time_flip, bool):
            raise ValueError(f"spec.test_time_flip: expected true or false, got {self.test_time_flip!r}")
        if not isinstance(self.crop, CropGeometry):  # a mapping, as read from a header
            object.__setattr__(self, "crop", CropGeometry.from_dict(self.crop, key="spec.crop"))
        if not isinstance(self.metadata, Mapping):
            raise ValueError(f"spec.metadata: expected a mapping, got {type(self.metadata).__name__}")
        object.__setattr__(self, "metadata", _jsonable(dict(self.metadata), "spec.metadata"))

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        classes: Sequence[str],
        *,
        preprocessing: str = "rgb",
        trainable: str | dict[str, int] = "all",
        pretrained: str = "none",
        input_size: int | None = None,
        test_time_flip: bool = False,
        crop: CropGeometry | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ModelSpec:
        """A spec for a timm model: backbone name, input size and normalisation read from the model."""
        cfg = data_config(model)
        backbone = model.pretrained_cfg.get("architecture") or type(model).__name__.lower()
        return cls(
            backbone=backbone,
            classes=tuple(classes),
            input_size=int(input_size or cfg.input_size),
            mean=cfg.mean,
            std=cfg.std,
            preprocessing=preprocessing,
            trainable=trainable,
            pretrained=pretrained,
            test_time_flip=test_time_flip,
            crop=crop or CropGeometry(),
            metadata=dict(metadata or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        out = asdict(self)
        out["classes"], out["mean"], out["std"] = list(self.classes), list(self.mean), list(self.std)
        out["crop"] = self.crop.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys fail by name."""
        names = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"spec: unknown keys {sorted(unknown)}; allowed: {sorted(names)}")
        missing = {"backbone", "classes", "input_size", "mean", "std"} - set(data)
        if missing:
            raise ValueError(f"spec: missing keys {sorted(missing)}")
        crop = data.get("crop")
        if crop is None:
            crop = CropGeometry(assumed=True)
            logger.warning(
                "a model of %s (classes %s) has no crop geometry in its artifact (written before it was "
                "recorded): assuming the base env's defaults %s",
                data["backbone"], ", ".join(map(str, data["classes"])), crop.to_dict(),
            )  # fmt: skip
        return cls(**{**data, "classes": tuple(data["classes"]), "crop": crop})


def _jsonable(value: Any, where: str) -> Any:
    """Plain JSON types (numpy scalars and arrays converted); anything else fails naming its place."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value  # NaN is kept (json writes NaN); a metric may legitimately be undefined
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{where}: {type(value).__name__} is not JSON-serialisable; store numbers, text, lists")


class LoadedModel(nn.Module):
    """A ready model in eval mode with its spec; ``predict_proba`` takes RGB face crops.

    ``weights_digest`` (the artifact's weights checksum, when loaded from one) identifies the weights,
    so that scoring several models runs a member shared by an ensemble and the set only once.
    """

    def __init__(self, model: nn.Module, spec: ModelSpec, weights_digest: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.spec = spec
        self.weights_digest = weights_digest
        self.eval()
        # channels_last runs these CPUs' convolutions about 2.5x faster (measured: EfficientNet-Lite0,
        # 64 crops at 96 px, 0.46 s -> 0.18 s); PreparedBatch feeds tensors in the same layout
        self.model.to(memory_format=torch.channels_last)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def inference_net(self) -> nn.Module:
        """The network inference runs: ``model`` with batch norm folded into its convolutions
        (:mod:`~expressions_ensemble.models.inference`), built at first use from the weights as they are
        then (a loaded model is for inference; ``model`` itself stays what an artifact saves)."""
        net = self.__dict__.get("_inference_net")  # not a registered submodule: never in state_dict
        if net is None:
            size = self.spec.input_size
            example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
            example = example.to(module_device(self.model)).contiguous(memory_format=torch.channels_last)
            net = inference_copy(self.model, example).to(memory_format=torch.channels_last)
            self.__dict__["_inference_net"] = net
        return net

    def preprocess(self, images: list[np.ndarray]) -> torch.Tensor:
        """The model's input tensor for RGB uint8 face crops (the one preprocessing function)."""
        spec = self.spec
        return to_tensor_batch(images, spec.input_size, spec.mean, spec.std, spec.preprocessing)

    def proba_from(self, batch: PreparedBatch) -> np.ndarray:
        """Probabilities for a prepared batch (see :mod:`~expressions_ensemble.models.scoring`)."""
        return softmax(batch.logits(self))

    def networks(self) -> tuple[LoadedModel, ...]:
        return (self,)

    def predict_logits(self, images: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Logits (N, len(classes)) for RGB face crops; eval mode, no gradients (calibration needs them)."""
        out = np.empty((len(images), len(self.classes)), dtype=np.float32)
        for start in range(0, len(images), batch_size):
            batch = PreparedBatch(images[start : start + batch_size])
            out[start : start + len(batch)] = batch.logits(self)
        return out

    def predict_proba(self, images: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Class probabilities (N, len(classes)), columns in ``classes`` order; eval mode, no gradients."""
        return score_models({"model": self}, images, batch_size)["model"]


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------


def _state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    inner = model.model if isinstance(model, LoadedModel) else model
    # canonical strides: a channels_last model must write the same bytes (and checksum) as it was read from
    return {
        k: v.detach().cpu().clone(memory_format=torch.contiguous_format)
        for k, v in inner.state_dict().items()
    }


def artifact_bytes(model: nn.Module, spec: ModelSpec) -> bytes:
    """The artifact file's content for ``model`` (or a :class:`LoadedModel`) described by ``spec``."""
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    state = _state_dict(model)
    # Refuse now rather than at loading time: the weights must fit the described backbone and classes.
    _check_shapes(state, spec, "the model to save")
    buf = io.BytesIO()
    torch.save(state, buf)
    weights = buf.getvalue()
    header = {
        "format": FORMAT,
        "version": VERSION,
        "spec": spec.to_dict(),
        "weights": {
            "member": WEIGHTS_MEMBER,
            "sha256": hashlib.sha256(weights).hexdigest(),
            "bytes": len(weights),
        },
        "versions": {"torch": torch.__version__, "timm": timm.__version__},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(HEADER_MEMBER, json.dumps(header, indent=2), compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(WEIGHTS_MEMBER, weights, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def model_bytes(model: LoadedModel | EnsembleModel) -> bytes:
    """The artifact file's content of a loaded model or an ensemble (to send a model to a worker)."""
    if isinstance(model, LoadedModel):
        return artifact_bytes(model.model, model.spec)
    from expressions_ensemble.models.ensemble import EnsembleModel, ensemble_bytes

    if isinstance(model, EnsembleModel):
        return ensemble_bytes(model)
    raise TypeError(f"expected a LoadedModel or an EnsembleModel, got {type(model).__name__}")


def save_artifact(path: str | Path, model: nn.Module, spec: ModelSpec) -> Path:
    """Write the artifact atomically (a killed run never leaves a half-written file under ``path``)."""
    path = Path(path)
    write_atomic(path, artifact_bytes(model, spec))
    return path


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------


def _what_is(data: bytes) -> str:
    """A short guess of what a non-artifact file is, for the error message."""
    head = data[:16].lstrip()
    if not data:
        return "an empty file"
    if head.startswith((b"{", b"[")):
        return "a JSON/text file"
    if data[:1] == b"\x80":
        return "a pickle (legacy torch.save checkpoint)"
    if data[:4] == b"\x89HDF":
        return "an HDF5 file"
    return "not a zip archive"


def _ends_with_zip_directory(data: bytes) -> bool:
    """Whether the zip end record closes the file exactly.

    ``zipfile`` searches backwards for that record, so a truncated artifact would otherwise open as the
    ``torch.save`` zip stored inside it and be misreported as a plain checkpoint.
    """
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65_535))
    if pos < 0 or pos + 22 > len(data):
        return False
    return pos + 22 + int.from_bytes(data[pos + 20 : pos + 22], "little") == len(data)


def _check_shapes(state: Mapping[str, torch.Tensor], spec: ModelSpec, source: str) -> None:
    """Names and shapes of ``state`` against the described model, built on the meta device (no memory)."""
    with torch.device("meta"):
        expected = timm.create_model(
            spec.backbone, pretrained=False, num_classes=len(spec.classes)
        ).state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = [
            f"{label} {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        ]
        raise ModelArtifactError(
            f"{source}: the weights do not fit {spec.backbone} with {len(spec.classes)} classes "
            f"({'; '.join(parts)})"
        )


def _check_fits(state: Mapping[str, torch.Tensor], spec: ModelSpec, source: str) -> nn.Module:
    try:
        model = build_backbone(spec.backbone, len(spec.classes), pretrained="none", key="spec.backbone")
    except BackboneError as exc:
        raise ModelArtifactError(f"{source}: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ModelArtifactError(
            f"{source}: the weights do not fit {spec.backbone} with {len(spec.classes)} classes ({detail})"
        ) from None
    return model


MemberReader = Callable[[Mapping[str, Any], str], bytes]

#: What ``zipfile`` and ``zlib`` raise for a damaged archive: a flipped bit in a local header or in
#: compressed data surfaces as any of these (measured by flipping every byte of an artifact's head and
#: tail), never only as ``BadZipFile``.
ZIP_DAMAGE = (
    zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError,
    struct.error, UnicodeDecodeError,
)  # fmt: skip


def _exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _read_zip(data: bytes, source: str) -> tuple[dict[str, Any], MemberReader]:
    """The checked header of artifact bytes, and a reader of the members it lists (size and checksum
    verified): the part every kind of artifact (a model, an ensemble of models) shares."""
    if not data.startswith(b"PK"):
        raise ModelArtifactError(f"{source}: not a model artifact ({_what_is(data)})")
    if not _ends_with_zip_directory(data):
        raise ModelArtifactError(f"{source}: not a model artifact: damaged or truncated zip (no end record)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_DAMAGE as exc:
        raise ModelArtifactError(
            f"{source}: not a model artifact: damaged or truncated zip ({_exc_text(exc)})"
        ) from None
    names = zf.namelist()
    if HEADER_MEMBER not in names:
        if any(n.endswith("data.pkl") for n in names):
            raise ModelArtifactError(
                f"{source}: a plain PyTorch checkpoint (torch.save), not a model artifact: it has no "
                f"header describing backbone, classes and preprocessing; write it with save_artifact"
            )
        raise ModelArtifactError(f"{source}: a zip without {HEADER_MEMBER}; not a model artifact")
    try:
        info = zf.getinfo(HEADER_MEMBER)
        if info.file_size > MAX_HEADER_BYTES:
            raise ModelArtifactError(f"{source}: header of {info.file_size} bytes; not a model artifact")
        header = json.loads(zf.read(HEADER_MEMBER))
    except ModelArtifactError:
        raise
    except ZIP_DAMAGE as exc:  # zlib's and zipfile's own errors for a damaged member, a bad JSON text
        raise ModelArtifactError(f"{source}: unreadable header, damaged file ({_exc_text(exc)})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise ModelArtifactError(f"{source}: header format {found!r}, expected {FORMAT!r}")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelArtifactError(f"{source}: invalid format version {version!r}")
    if version > VERSION:
        raise ModelArtifactError(
            f"{source}: format version {version} is newer than this code reads ({VERSION}); update the "
            f"package"
        )

    def read_member(entry: Mapping[str, Any], what: str) -> bytes:
        """The bytes of the member ``entry`` describes; ``what`` names it in errors ("weights", …)."""
        try:
            member, digest, size = entry["member"], entry["sha256"], entry.get("bytes")
        except (KeyError, TypeError) as exc:
            raise ModelArtifactError(f"{source}: invalid header: {exc}") from None
        if not isinstance(member, str) or member not in names:
            raise ModelArtifactError(f"{source}: {what} member {member!r} is missing")
        if zf.getinfo(member).file_size != size:
            raise ModelArtifactError(f"{source}: {what} size differs from the header (altered file)")
        try:
            content = zf.read(member)
        except ZIP_DAMAGE as exc:
            detail = _exc_text(exc)
            raise ModelArtifactError(f"{source}: {what} unreadable, damaged file ({detail})") from None
        if hashlib.sha256(content).hexdigest() != digest:
            raise ModelArtifactError(f"{source}: {what} checksum mismatch (damaged or altered file)")
        return content

    return header, read_member


def read_artifact(data: bytes, source: str = "<bytes>") -> LoadedModel | EnsembleModel:
    """A ready model from artifact bytes; ``source`` names the file in error messages.

    A single model gives a :class:`LoadedModel`, an ensemble an
    :class:`~expressions_ensemble.models.ensemble.EnsembleModel`; both offer ``classes`` and
    ``predict_proba``.
    """
    header, read_member = _read_zip(data, source)
    kind = header.get("kind", KIND_MODEL)
    if kind == KIND_ENSEMBLE:
        from expressions_ensemble.models.ensemble import ensemble_from_header

        return ensemble_from_header(header, read_member, source)
    if kind != KIND_MODEL:
        raise ModelArtifactError(
            f"{source}: unknown artifact kind {kind!r}; allowed: {KIND_MODEL}, {KIND_ENSEMBLE}"
        )
    try:
        spec = ModelSpec.from_dict(header["spec"])
        weights_info = header["weights"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelArtifactError(f"{source}: invalid header: {exc}") from None
    weights = read_member(weights_info, "weights")
    try:
        state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or unsafe pickles
        raise ModelArtifactError(f"{source}: weights are not a safe tensor state_dict ({exc})") from None
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelArtifactError(f"{source}: weights are not a mapping of names to tensors")
    model = _check_fits(state, spec, source)
    return LoadedModel(model, spec, weights_digest=weights_info["sha256"])


def load_artifact(path: str | Path) -> LoadedModel | EnsembleModel:
    """Load a model artifact file into a ready model (eval mode, on the CPU): one call for a single
    model and for an ensemble."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelArtifactError(f"{path}: no such model artifact") from None
    except IsADirectoryError:
        raise ModelArtifactError(f"{path}: is a directory, not a model artifact file") from None
    return read_artifact(data, str(path))
