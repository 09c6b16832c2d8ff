"""Tests for models/inference.py: batch norm folded and "same" padding fixed for inference, checked
against the network."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from timm.layers.conv2d_same import Conv2dSame
from torch import nn

from expressions_ensemble.models import LoadedModel, ModelSpec, create_model, inference
from expressions_ensemble.models.inference import (
    FusedConvAct,
    StaticSameConv2d,
    fix_same_padding,
    fold_batch_norms,
    fuse_conv_activations,
    inference_copy,
)

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
    assert "running it as is" in caplog.text


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


@pytest.mark.parametrize("size", [(96, 96), (47, 30), (7, 8)])
@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "groups"),
    [(3, 2, 1, 1), (5, 2, 1, 4), (4, 2, 1, 1), (3, 1, 1, 4), (1, 2, 1, 1), (3, 2, 2, 1), (5, 3, 1, 1)],
)
def test_static_same_convolution_equals_the_padded_copy_bit_for_bit(
    size: tuple[int, int], kernel: int, stride: int, dilation: int, groups: int
) -> None:
    torch.manual_seed(0)
    conv = Conv2dSame(8, 8, kernel, stride=stride, dilation=dilation, groups=groups).eval()
    x = torch.randn(3, 8, *size)
    try:
        static = StaticSameConv2d(conv, size)
    except ValueError:  # a dilated kernel whose padding is lopsided by less than a tap
        assert dilation > 1
        return
    with torch.no_grad():
        expected = conv(x)
        assert static(x).shape == expected.shape
        torch.testing.assert_close(static(x), expected, rtol=0, atol=1e-5)
        other = torch.randn(2, 8, size[0] + 3, size[1] + 1)  # another size: the original runs
        assert torch.equal(static(other), conv(other))


def test_lite0_inference_copy_has_no_padded_copies_and_the_same_logits_at_any_size() -> None:
    torch.manual_seed(0)
    net = _randomise_norms(create_model("tf_efficientnet_lite0", CLASSES, pretrained="none"))
    dynamic = sum(isinstance(m, Conv2dSame) for m in net.modules())
    assert dynamic == 5  # the stem and the four stride-2 depthwise convolutions
    x = torch.randn(4, 3, 96, 96)
    copy = inference_copy(net, x)
    static = [m for m in copy.modules() if isinstance(m, StaticSameConv2d)]
    assert len(static) == dynamic and {m.size for m in static} == {
        (96, 96),
        (48, 48),
        (24, 24),
        (12, 12),
        (6, 6),
    }
    with torch.no_grad():
        torch.testing.assert_close(copy(x), net(x), rtol=1e-4, atol=1e-4)
        y = torch.randn(2, 3, 64, 80)  # not the size it was fixed for: still right
        torch.testing.assert_close(copy(y), net(y), rtol=1e-4, atol=1e-4)


def test_fix_same_padding_leaves_other_networks_alone() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU()).eval()
    with torch.no_grad():
        assert fix_same_padding(net, torch.randn(1, 3, 16, 16)) == 0
    assert isinstance(net[0], nn.Conv2d) and not isinstance(net[0], StaticSameConv2d)


class _SiluBlock(nn.Module):
    """conv, norm+SiLU (as timm's BatchNormAct2d folds), conv, plain norm, then a conv and ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.Sequential(nn.Dropout(0.1), nn.SiLU())
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.bn2 = nn.Identity()
        self.conv3 = nn.Conv2d(8, 4, 1)
        self.act3 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act3(self.conv3(self.bn2(self.conv2(self.bn1(self.conv1(x))))))).flatten(1)


@pytest.mark.parametrize("backbone", ["tf_efficientnet_lite0", "resnet18", "silu_block"])
@pytest.mark.parametrize("channels_last", [True, False])
def test_fused_activations_give_the_same_numbers(backbone: str, channels_last: bool) -> None:
    torch.manual_seed(0)
    if backbone == "silu_block":
        net, fusable = _SiluBlock().eval(), 3
    else:
        net = _randomise_norms(create_model(backbone, CLASSES, pretrained="none"))
        fusable = 49 if backbone == "tf_efficientnet_lite0" else 20  # every conv + folded norm
    x = torch.randn(4, 3, 96, 96)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    before, _ = fold_batch_norms(net)
    fix_same_padding(before, x)
    after, _ = fold_batch_norms(net)
    fix_same_padding(after, x)
    assert fuse_conv_activations(after) == fusable
    assert sum(isinstance(m, FusedConvAct) for m in after.modules()) == fusable
    with torch.inference_mode():
        # oneDNN picks its kernels by thread count: on one thread a fused convolution sums in another
        # order (measured: 1.5e-5 relative on one of 20 logits of Lite0), so float32's 1e-4 holds both
        torch.testing.assert_close(after(x), before(x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(after(x), net(x), rtol=1e-4, atol=1e-4)
    # gradients on: the modules run as they were, and gradients flow
    y = x.clone().requires_grad_(True)
    torch.testing.assert_close(after(y), before(y), rtol=1e-5, atol=1e-5)
    after(y).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()
    with torch.inference_mode():  # another input size: a "same" convolution's other path
        z = torch.randn(2, 3, 64, 80)
        torch.testing.assert_close(after(z), net(z), rtol=1e-4, atol=1e-4)


def test_nothing_is_fused_without_onednns_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference, "_fused_kernel", lambda: False)
    net = _SiluBlock().eval()
    assert fuse_conv_activations(net) == 0
    assert not any(isinstance(m, FusedConvAct) for m in net.modules())
    convs = nn.Sequential(nn.Conv2d(3, 3, 3, padding="same"), nn.ReLU(), nn.Conv2d(3, 3, 1), nn.Tanh())
    monkeypatch.undo()
    assert fuse_conv_activations(convs) == 0  # padding by name, an activation oneDNN is not given
