"""Controllable models for the scoring and ensemble tests: logits looked up by crop index."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from expressions_ensemble.models import LoadedModel, ModelSpec

CLASSES = ("angry", "happy", "sad")
SIZE = 8


class TableModel(nn.Module):
    """Logits looked up by the image index written into pixel (0, 0) of the crop (a controllable member).

    The crop's first pixel value v (0..255) reaches the model as (v / 255 - 0.5) / 0.5 whatever the
    preprocessing, so the index can be read back exactly; ``calls`` counts forward passes.
    """

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("table", torch.tensor(table, dtype=torch.float32))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        index = torch.round((x[:, 0, 0, 0] * 0.5 + 0.5) * 255).long()
        return self.table[index]


def member(table: np.ndarray, classes=CLASSES, size: int = SIZE, preprocessing: str = "rgb") -> LoadedModel:
    spec = ModelSpec("resnet18", tuple(classes), size, (0.5,) * 3, (0.5,) * 3, preprocessing=preprocessing)
    return LoadedModel(TableModel(table), spec)


def crops(n: int) -> list[np.ndarray]:
    out = []
    for i in range(n):
        img = np.full((SIZE, SIZE, 3), 128, np.uint8)
        img[..., :] = i  # every pixel carries the index: any resize or crop keeps it
        out.append(img)
    return out
