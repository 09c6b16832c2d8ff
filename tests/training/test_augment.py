import pytest
import torch

from expressions_ensemble.training.augment import AUGMENT_PRESETS, augment_batch, get_preset


def _batch(n=16, size=32):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g)


def test_none_is_identity_and_presets_stay_in_range():
    x = _batch()
    assert augment_batch(x, get_preset("none"), torch.Generator()) is x
    for name in ("light", "framing_jitter", "heavy"):
        y = augment_batch(x, AUGMENT_PRESETS[name], torch.Generator().manual_seed(1))
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
        assert not torch.equal(y, x)


def test_random_parameters_differ_per_image_and_are_seeded():
    x = _batch(1).repeat(32, 1, 1, 1)  # the same image 32 times
    preset = AUGMENT_PRESETS["light"]
    y = augment_batch(x, preset, torch.Generator().manual_seed(3))
    assert len({round(float(v), 5) for v in y.mean(dim=(1, 2, 3))}) > 20
    again = augment_batch(x, preset, torch.Generator().manual_seed(3))
    assert torch.equal(y, again)


def test_flip_only_mirrors():
    x = _batch(64)
    from expressions_ensemble.training.augment import AugmentPreset

    y = augment_batch(x, AugmentPreset(flip=1.0), torch.Generator())
    assert torch.allclose(y, x.flip(-1))


def test_unknown_preset_names_allowed():
    with pytest.raises(
        ValueError,
        match=r"training\.augmentation: unknown preset 'wild'; allowed: none, light, framing_jitter, heavy",
    ):
        get_preset("wild")


def test_framing_jitter_moves_and_scales_the_face_a_little_and_light_does_not():
    from expressions_ensemble.training.augment import AugmentPreset

    x = torch.zeros(64, 3, 40, 40)
    x[:, :, 10:30, 10:30] = 1.0  # a bright square "face" in the middle
    jitter = AUGMENT_PRESETS["framing_jitter"]
    geometric = AugmentPreset(scale=jitter.scale, shift=jitter.shift)
    y = augment_batch(x, geometric, torch.Generator().manual_seed(0))
    rows = (y[:, 0] > 0.5).any(dim=2).float()
    sides = rows.sum(dim=1)
    tops = rows.argmax(dim=1).float()
    assert sides.min() >= 20 * 0.9 - 2 and sides.max() <= 20 * 1.1 + 2 and sides.std() > 0.5
    assert (tops - 10).abs().max() <= 40 * 0.05 + 3 and tops.std() > 0.5
    light = AUGMENT_PRESETS["light"]
    assert (light.scale, light.shift) == ((1.0, 1.0), 0.0)  # the study's preset keeps its framing
