"""Backbones: offline ImageNet weights that really classify, clear failures, freezing by stages."""

import socket
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from expressions_ensemble.imaging import to_tensor_batch
from expressions_ensemble.labels import STUDY_CLASSES
from expressions_ensemble.models import backbones
from expressions_ensemble.models.backbones import (
    OFFLINE_BACKBONE,
    BackboneError,
    BackboneUnavailableError,
    UnknownBackboneError,
    build_backbone,
    check_backbone,
    create_model,
    data_config,
    freeze,
    freeze_norm_statistics,
    offline_weights_path,
    resolve_backbone,
    split_stages,
    trainable_parameter_names,
    validate_trainable,
)

GRACE_HOPPER_CLASS = 652  # ImageNet "military uniform"


@pytest.fixture(scope="module")
def lite0_imagenet() -> torch.nn.Module:
    """The 1000-class Lite0 with the shipped offline weights (loaded once for the module)."""
    return build_backbone("efficientnet_lite0", 1000, pretrained="offline").eval()


def test_offline_lite0_recognises_grace_hopper(lite0_imagenet):
    matplotlib = pytest.importorskip("matplotlib")
    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not photo.is_file():
        pytest.skip(f"matplotlib sample image missing at {photo}")
    cfg = data_config(lite0_imagenet)
    assert (cfg.input_size, cfg.mean, cfg.std) == (224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    # Centre square crop + resize to 224 (the one preprocessing function), mean/std 0.5.
    x = to_tensor_batch([rgb], cfg.input_size, cfg.mean, cfg.std, "rgb")
    with torch.inference_mode():
        probs = lite0_imagenet(x).softmax(dim=1)[0]
    assert int(probs.argmax()) == GRACE_HOPPER_CLASS
    assert float(probs[GRACE_HOPPER_CLASS]) > 0.2


def test_offline_weights_fill_the_backbone_and_the_head_is_new(lite0_imagenet, monkeypatch):
    _no_network(monkeypatch)
    model = create_model("lite0", STUDY_CLASSES, pretrained="offline")
    assert model.pretrained_cfg["architecture"] == OFFLINE_BACKBONE
    assert model.get_classifier().out_features == len(STUDY_CLASSES)
    source = torch.load(offline_weights_path(), map_location="cpu", weights_only=True)
    assert torch.equal(model.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(model.conv_head.weight, lite0_imagenet.conv_head.weight)
    assert torch.equal(model.bn2.running_var, source["_bn1.running_var"])
    assert torch.equal(lite0_imagenet.classifier.weight, source["_fc.weight"])


def test_offline_is_only_for_lite0_and_aliases_resolve():
    for alias in ("efficientnet_lite0", "EfficientNet-Lite0", "tf_efficientnet_lite0", "lite0"):
        assert resolve_backbone(alias, "offline") == OFFLINE_BACKBONE
    # Without the offline weights, timm's own names mean what timm says.
    assert resolve_backbone("efficientnet_lite0", "none") == "efficientnet_lite0"
    with pytest.raises(BackboneUnavailableError) as err:
        resolve_backbone("resnet18", "offline", key="training.backbone")
    message = str(err.value)
    for needed in ("training.backbone", "'resnet18'", "tf_efficientnet_lite0", "pretrained='hub'", "'none'"):
        assert needed in message


def test_unknown_backbone_names_the_request_and_close_names():
    with pytest.raises(UnknownBackboneError) as err:
        resolve_backbone("resnet_18", "none", key="training.backbone")
    assert "training.backbone" in str(err.value) and "'resnet_18'" in str(err.value)
    assert "resnet18" in str(err.value).split("close timm names:")[1]
    with pytest.raises(UnknownBackboneError, match="efficientnet_b0"):
        check_backbone("efficientnetb0", "hub")
    with pytest.raises(UnknownBackboneError, match=r"resnet18\.a1_in1k"):
        check_backbone("resnet18.no_such_tag", "hub")


def test_pretrained_source_is_validated():
    for bad in (True, "imagenet", None):
        with pytest.raises(BackboneError, match="allowed: 'offline', 'hub', 'none'"):
            build_backbone("resnet18", 5, pretrained=bad)
    with pytest.raises(BackboneError, match="num_classes"):
        build_backbone("resnet18", 0, pretrained="none")


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _uncached(monkeypatch):
    monkeypatch.setattr(backbones, "_cached_weights", lambda cfg: None)


def test_hub_offline_mode_fails_at_once_without_network(monkeypatch):
    _uncached(monkeypatch)
    _no_network(monkeypatch)
    monkeypatch.setattr(
        backbones, "_reachable", lambda *a, **k: pytest.fail("probed the hub in offline mode")
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneUnavailableError) as err:
        create_model("resnet18", STUDY_CLASSES, pretrained="hub")
    message = str(err.value)
    for needed in (
        "'resnet18'",
        "pretrained='hub'",
        "HF_HUB_OFFLINE",
        "pretrained='offline'",
        "tf_efficientnet_lite0",
    ):
        assert needed in message


def test_hub_unreachable_fails_before_timm_tries(monkeypatch):
    _uncached(monkeypatch)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(backbones, "_reachable", lambda *a, **k: False)
    monkeypatch.setattr(timm, "create_model", lambda *a, **k: pytest.fail("timm tried to download"))
    with pytest.raises(BackboneUnavailableError, match=r"'convnext_tiny'.*cannot be reached.*Usable offline"):
        check_backbone("convnext_tiny", "hub")


def test_hub_download_error_is_reraised_clearly(monkeypatch):
    _uncached(monkeypatch)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(backbones, "_reachable", lambda *a, **k: True)

    def failing(*args, **kwargs):
        raise OSError("connection reset by peer")

    monkeypatch.setattr(timm, "create_model", failing)
    with pytest.raises(BackboneUnavailableError, match=r"'resnet18'.*connection reset") as err:
        build_backbone("resnet18", 5, pretrained="hub")
    assert isinstance(err.value.__cause__, OSError)


def test_hub_weights_in_the_local_cache_load_without_network(monkeypatch, tmp_path):
    torch.manual_seed(3)
    imagenet = timm.create_model("resnet18", pretrained=False)  # stands in for downloaded weights
    cached = tmp_path / "resnet18.pth"
    torch.save(imagenet.state_dict(), cached)
    monkeypatch.setattr(backbones, "_cached_weights", lambda cfg: str(cached))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _no_network(monkeypatch)
    model = create_model("resnet18", STUDY_CLASSES, pretrained="hub")
    assert torch.equal(model.layer1[0].conv1.weight, imagenet.layer1[0].conv1.weight)
    assert model.fc.out_features == len(STUDY_CLASSES)


def test_data_config_comes_from_timm_pretrained_cfg():
    cfg = data_config(create_model("resnet18", STUDY_CLASSES, pretrained="none"))
    assert cfg.input_size == 224
    assert cfg.mean == pytest.approx((0.485, 0.456, 0.406))
    assert cfg.std == pytest.approx((0.229, 0.224, 0.225))


# ---------------------------------------------------------------------------------------------------
# Freezing
# ---------------------------------------------------------------------------------------------------

BACKBONES = ("resnet18", "efficientnet_b0", "mobilenetv2_100", "convnext_tiny", "vgg16")
#: Parameters that "head" must include beyond the final linear layer.
HEAD_EXTRAS = {
    "resnet18": set(),
    "efficientnet_b0": {"conv_head.weight", "bn2.weight"},
    "mobilenetv2_100": {"conv_head.weight", "bn2.bias"},
    "convnext_tiny": {"head.norm.weight"},
    "vgg16": {"pre_logits.fc1.weight"},
}


@pytest.fixture(scope="module", params=BACKBONES)
def small_model(request) -> tuple[str, torch.nn.Module]:
    return request.param, create_model(request.param, STUDY_CLASSES, pretrained="none")


def _count(model: torch.nn.Module, names) -> int:
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in names)


def test_resnet18_last_two_stages_is_the_studys_layer3_layer4_fc():
    model = create_model("resnet18", STUDY_CLASSES, pretrained="none")
    n = freeze(model, {"last_stages": 2})
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert {name.split(".")[0] for name in trainable} == {"layer3", "layer4", "fc"}
    expected = [
        name for name, _ in model.named_parameters() if name.split(".")[0] in ("layer3", "layer4", "fc")
    ]
    assert trainable == expected
    assert n == _count(model, expected)
    # Gradients reach exactly the trainable parameters.
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    for name, p in model.named_parameters():
        assert (p.grad is not None) == (name in expected), name


def test_depths_nest_on_every_backbone(small_model):
    name, model = small_model
    _, stages, _ = split_stages(model)
    assert len(stages) >= 4, [s.name for s in stages]
    classifier = set(trainable_parameter_names(model, "classifier"))
    head = set(trainable_parameter_names(model, "head"))
    everything = set(trainable_parameter_names(model, "all"))
    assert classifier and classifier <= head
    assert HEAD_EXTRAS[name] <= head
    assert set(trainable_parameter_names(model, {"last_stages": 0})) == head
    previous = head
    for k in range(1, len(stages) + 1):
        current = set(trainable_parameter_names(model, {"last_stages": k}))
        assert previous < current, (name, k)
        assert set(stages[-k].parameters) <= current
        previous = current
    stem = everything - previous
    assert stem and all(not n.startswith(("fc", "head", "classifier")) for n in stem)
    assert freeze(model, "all") == sum(p.numel() for p in model.parameters())
    assert freeze(model, "classifier") == _count(model, classifier)
    assert sum(p.requires_grad for p in model.parameters()) == len(classifier)
    with pytest.raises(ValueError, match=rf"training\.trainable\.last_stages: {len(stages) + 1} is more"):
        freeze(model, {"last_stages": len(stages) + 1}, key="training.trainable")


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        ("everything", r"training\.trainable: got 'everything'; allowed: \"all\", \"head\""),
        ({"last": 2}, r"training\.trainable: unknown keys \['last'\]"),
        ({"last_stages": -1}, r"training\.trainable\.last_stages: got -1"),
        ({"last_stages": True}, r"training\.trainable\.last_stages: got True"),
        (2, r"training\.trainable: got 2; allowed"),
    ],
)
def test_bad_trainable_forms_name_key_and_allowed_forms(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        validate_trainable(bad, key="training.trainable")


def test_frozen_batch_norm_keeps_its_statistics_in_train_mode():
    model = create_model("resnet18", STUDY_CLASSES, pretrained="none")
    freeze(model, {"last_stages": 1})
    model.train()
    assert freeze_norm_statistics(model) > 0
    frozen_bn, live_bn = model.layer1[0].bn1, model.layer4[0].bn1
    before_frozen = frozen_bn.running_mean.clone()
    before_live = live_bn.running_mean.clone()
    model(torch.randn(4, 3, 64, 64) * 3 + 1)
    assert not frozen_bn.training and live_bn.training
    assert torch.equal(frozen_bn.running_mean, before_frozen)
    assert not torch.equal(live_bn.running_mean, before_live)
