"""Augmentation presets applied to whole batches on the CPU, with per-image random parameters.

Batched affine grids and broadcast colour factors cost a few milliseconds per batch, so augmentation
never becomes the reason to decode or convert images again each epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentPreset:
    """Random transformations of one preset (``none``, ``light``: the study's, ``framing_jitter``,
    ``heavy``)."""

    flip: float = 0.0  # probability of a horizontal flip
    rotation: float = 0.0  # max degrees either way
    scale: tuple[float, float] = (1.0, 1.0)  # zoom range (>1 zooms in, a random-resized-crop stand-in)
    shift: float = 0.0  # max translation as a fraction of the size
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    grayscale: float = 0.0  # probability of turning the image grey


AUGMENT_PRESETS: dict[str, AugmentPreset] = {
    "none": AugmentPreset(),
    "light": AugmentPreset(flip=0.5, rotation=10.0, brightness=0.2, contrast=0.2, saturation=0.2),
    # light, and the face's frame moved as a detector's box moves between frames and faces: zoom 0.9 to
    # 1.1, shift up to 5 % (a model trained on one exact framing is thrown by a few per cent on films;
    # docs/benchmarks.md, crop ablation)
    "framing_jitter": AugmentPreset(
        flip=0.5, rotation=10.0, scale=(0.9, 1.1), shift=0.05, brightness=0.2, contrast=0.2, saturation=0.2
    ),
    "heavy": AugmentPreset(
        flip=0.5,
        rotation=20.0,
        scale=(1.0, 1.25),
        shift=0.08,
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        grayscale=0.2,
    ),
}


def get_preset(name: str, key: str = "training.augmentation") -> AugmentPreset:
    """The preset by name; the error names the key and the allowed values."""
    if name not in AUGMENT_PRESETS:
        raise ValueError(f"{key}: unknown preset {name!r}; allowed: {', '.join(AUGMENT_PRESETS)}")
    return AUGMENT_PRESETS[name]


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def augment_batch(x: torch.Tensor, preset: AugmentPreset, generator: torch.Generator) -> torch.Tensor:
    """Augment a float batch (N, 3, H, W) with values in [0, 1]; returns a new tensor in [0, 1]."""
    if preset == AUGMENT_PRESETS["none"]:
        return x
    n = x.shape[0]
    g = generator
    out = x
    if preset.flip > 0:
        flip = torch.rand(n, generator=g) < preset.flip
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    if preset.rotation > 0 or preset.scale != (1.0, 1.0) or preset.shift > 0:
        angle = _uniform(n, -preset.rotation, preset.rotation, g) * (math.pi / 180.0)
        zoom = _uniform(n, *preset.scale, g)
        tx = _uniform(n, -preset.shift, preset.shift, g) * 2.0
        ty = _uniform(n, -preset.shift, preset.shift, g) * 2.0
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos, -sin, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1
        ).to(out.dtype)
        grid = F.affine_grid(theta, list(out.shape), align_corners=False)
        out = F.grid_sample(out, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    grey = (0.299 * out[:, 0:1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:3]).expand_as(out)
    if preset.brightness > 0:
        out = out * _uniform(n, 1 - preset.brightness, 1 + preset.brightness, g)[:, None, None, None]
    if preset.contrast > 0:
        mean = grey.mean(dim=(1, 2, 3), keepdim=True)
        factor = _uniform(n, 1 - preset.contrast, 1 + preset.contrast, g)[:, None, None, None]
        out = (out - mean) * factor + mean
    if preset.saturation > 0:
        factor = _uniform(n, 1 - preset.saturation, 1 + preset.saturation, g)[:, None, None, None]
        out = (out - grey) * factor + grey
    if preset.grayscale > 0:
        to_grey = torch.rand(n, generator=g) < preset.grayscale
        lum = (0.299 * out[:, 0:1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:3]).expand_as(out)
        out = torch.where(to_grey[:, None, None, None], lum, out)
    return out.clamp_(0.0, 1.0)
