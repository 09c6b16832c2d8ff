"""Tests for models/inference.py: batch norm folded for inference, checked against the network."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from expressions_ensemble.models import LoadedModel, ModelSpec, create_model
from expressions_ensemble.models.inference import fold_batch_norms, inference_copy

CLASSES = ("angry", "fear", "happy", "sad", "surprise")


def _randomise_norms(net: nn.Module) -> nn.Module:
    """Non-trivial statistics and affine parameters, so a wrong fold cannot pass by accident."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return net.eval()


@pytest.mark.parametrize("backbone", ["tf_efficientnet_lite0", "resnet18"])
def test_folded_copy_gives_the_same_logits_and_leaves_the_network_alone(backbone: str) -> None:
    torch.manual_seed(0)
    net = _randomise_norms(create_model(backbone, CLASSES, pretrained="none"))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(4, 3, 64, 64)
    folded, count = fold_batch_norms(net)
    assert count >= 20  # every conv + norm pair of the backbone
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-4, atol=1e-4)
    after = net.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


class _NormBeforeConv(nn.Module):
    """Declares conv then norm, but normalises the input *before* the convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.bn(x))


def test_a_fold_that_changes_the_logits_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    net = _randomise_norms(_NormBeforeConv())
    with caplog.at_level(logging.WARNING):
        chosen = inference_copy(net, torch.randn(2, 3, 8, 8))
    assert chosen is net
    assert "running unfolded" in caplog.text


def test_loaded_model_scores_with_the_folded_copy_and_saves_the_original() -> None:
    torch.manual_seed(0)
    net = _randomise_norms(create_model("tf_efficientnet_lite0", CLASSES, pretrained="none"))
    model = LoadedModel(net, ModelSpec.from_model(net, CLASSES, input_size=64, test_time_flip=True))
    keys = set(model.state_dict())
    crops = [np.random.default_rng(i).integers(0, 256, (80, 80, 3), dtype=np.uint8) for i in range(5)]
    proba = model.predict_proba(crops)
    inference = model.inference_net()
    assert inference is not model.model and inference is model.inference_net()  # built once
    assert not any(isinstance(m, nn.BatchNorm2d) for m in inference.modules())
    assert set(model.state_dict()) == keys  # the copy is not part of what an artifact saves
    x = model.preprocess(crops)
    with torch.no_grad():
        reference = torch.softmax((net(x) + net(x.flip(-1))) / 2, dim=1).numpy()
    np.testing.assert_allclose(proba, reference, atol=1e-4)
