"""Model input preprocessing: variants, geometry, normalisation, and one path for cache and inference."""

import numpy as np
import pytest
import torch

from expressions_ensemble.imaging import (
    CLOSE_CROP_FRACTION,
    PREPROCESSING_VARIANTS,
    normalise_batch,
    prepare_batch,
    prepare_face,
    to_tensor_batch,
    validate_preprocessing,
)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _framed(side: int = 100, border: int = 10) -> np.ndarray:
    """Blue square inside a red frame of ``border`` pixels (the frame is what close_crop must drop)."""
    img = np.zeros((side, side, 3), np.uint8)
    img[..., 0] = 255
    img[border : side - border, border : side - border] = (0, 0, 255)
    return img


def test_variants_are_the_studys_three_and_equalized_and_unknown_names_fail_with_allowed_values():
    assert PREPROCESSING_VARIANTS == ("rgb", "grayscale", "equalized", "close_crop")
    for variant in PREPROCESSING_VARIANTS:
        assert validate_preprocessing(variant) == variant
    with pytest.raises(
        ValueError, match=r"training\.preprocessing: unknown preprocessing 'grey'.*rgb, grayscale"
    ):
        validate_preprocessing("grey", key="training.preprocessing")
    with pytest.raises(ValueError, match="allowed: rgb, grayscale, equalized, close_crop"):
        to_tensor_batch([_framed()], 32, IMAGENET_MEAN, IMAGENET_STD, variant="closecrop")


def test_shape_dtype_and_mixed_input_sizes():
    images = [_framed(100), _framed(48, 5), np.zeros((300, 300, 3), np.uint8)]
    x = to_tensor_batch(images, 64, IMAGENET_MEAN, IMAGENET_STD)
    assert isinstance(x, torch.Tensor)
    assert x.shape == (3, 3, 64, 64)
    assert x.dtype == torch.float32
    assert x.is_contiguous()
    empty = to_tensor_batch([], 64, IMAGENET_MEAN, IMAGENET_STD)
    assert empty.shape == (0, 3, 64, 64)


def test_normalisation_is_per_channel_x_over_255_minus_mean_over_std():
    img = np.empty((20, 20, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 0, 128, 255
    x = to_tensor_batch([img], 20, IMAGENET_MEAN, IMAGENET_STD).numpy()
    expected = [
        (v / 255.0 - m) / s for v, m, s in zip((0, 128, 255), IMAGENET_MEAN, IMAGENET_STD, strict=True)
    ]
    for c in range(3):
        np.testing.assert_allclose(x[0, c], expected[c], rtol=1e-6, atol=1e-6)
    half = to_tensor_batch([img], 20, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)).numpy()
    np.testing.assert_allclose(half[0, 0], -1.0, atol=1e-6)
    np.testing.assert_allclose(half[0, 2], 1.0, atol=1e-6)


def test_grayscale_replicates_grey_to_three_channels():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    u8 = prepare_batch([img], 32, "grayscale")
    assert np.array_equal(u8[0, 0], u8[0, 1]) and np.array_equal(u8[0, 1], u8[0, 2])
    expected = (0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]).round()
    assert np.abs(u8[0, 0].astype(float) - expected).max() <= 1
    rgb = prepare_batch([img], 32, "rgb")
    assert not np.array_equal(rgb[0, 0], rgb[0, 1])  # the rgb variant keeps colour


def test_equalized_is_grey_with_its_histogram_spread():
    rng = np.random.default_rng(0)
    dim = rng.integers(100, 130, (32, 32, 3), dtype=np.uint8)  # a dark, low-contrast face
    out = prepare_face(dim, 32, "equalized")
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    grey = prepare_face(dim, 32, "grayscale")[..., 0]
    assert np.ptp(out[..., 0]) > 200 > np.ptp(grey)
    # the order of grey levels is kept: equalisation is monotonic
    flat_grey, flat_eq = grey.ravel().astype(int), out[..., 0].ravel().astype(int)
    order = np.argsort(flat_grey, kind="stable")
    assert (np.diff(flat_eq[order]) >= 0).all()


def test_close_crop_drops_the_outer_frame_and_rgb_keeps_it():
    border = int(round(100 * (1 - CLOSE_CROP_FRACTION) / 2))
    img = _framed(100, border)
    close = prepare_batch([img], 40, "close_crop")[0]
    full = prepare_batch([img], 40, "rgb")[0]
    assert close[0].max() == 0 and close[2].min() == 255  # only the blue centre is left
    assert full[0, 0, 0] == 255 and full[2, 0, 0] == 0  # the red frame is still in the corner


def test_non_square_inputs_are_centre_cropped_not_stretched():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :50] = (255, 0, 0)
    img[:, 150:] = (255, 0, 0)
    img[:, 50:150] = (0, 255, 0)
    out = prepare_batch([img], 50, "rgb")[0]
    assert out[1].min() == 255 and out[0].max() == 0


def test_grey_inputs_become_three_channels():
    grey = np.full((48, 48), 200, np.uint8)
    out = prepare_batch([grey, grey[:, :, None]], 48, "rgb")
    assert out.shape == (2, 3, 48, 48)
    assert (out == 200).all()


def test_bad_images_and_parameters_fail_naming_the_image():
    ok = _framed()
    with pytest.raises(ValueError, match=r"image 1: expected a uint8 image"):
        prepare_batch([ok, ok.astype(np.float32)], 32)
    with pytest.raises(ValueError, match=r"image 0: expected an RGB"):
        prepare_batch([np.zeros((10, 10, 4), np.uint8)], 32)
    with pytest.raises(ValueError, match="input size"):
        prepare_batch([ok], 0)
    with pytest.raises(ValueError, match="mean must be three"):
        to_tensor_batch([ok], 32, (0.5, 0.5), IMAGENET_STD)
    with pytest.raises(ValueError, match="std must be positive"):
        to_tensor_batch([ok], 32, IMAGENET_MEAN, (0.2, 0.0, 0.2))


@pytest.mark.parametrize("variant", PREPROCESSING_VARIANTS)
def test_cached_uint8_stage_then_normalise_equals_the_one_function(variant):
    """Training caches prepare_batch and normalises per batch; inference calls to_tensor_batch."""
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (90, 90, 3), dtype=np.uint8) for _ in range(4)]
    u8 = prepare_batch(images, 56, variant)
    assert u8.dtype == np.uint8 and u8.shape == (4, 3, 56, 56)
    direct = to_tensor_batch(images, 56, IMAGENET_MEAN, IMAGENET_STD, variant)
    assert torch.equal(normalise_batch(u8, IMAGENET_MEAN, IMAGENET_STD), direct)
    assert torch.equal(normalise_batch(torch.from_numpy(u8), IMAGENET_MEAN, IMAGENET_STD), direct)
    # The same numbers as normalising the cached uint8 tensor in torch, as a training loop does.
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    in_torch = (torch.from_numpy(u8).float() / 255.0 - mean) / std
    torch.testing.assert_close(in_torch, direct, rtol=1e-5, atol=1e-5)
