"""Bad and unusual inputs: each decodes to upright RGB or fails with a named reason."""

import io

import numpy as np
import pytest
from PIL import Image

from expressions_ensemble.imaging import (
    ImageDecodeError,
    crop_face,
    decode_image,
    encode_jpeg,
    probe_image,
    square_box,
)


def _encode(img: Image.Image, fmt: str = "JPEG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _gradient(w=64, h=48) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    arr[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    return Image.fromarray(arr)


def test_zero_byte_and_non_image_and_truncated():
    with pytest.raises(ImageDecodeError) as e:
        decode_image(b"")
    assert e.value.reason == "empty_file"
    with pytest.raises(ImageDecodeError) as e:
        decode_image(b"<html>not found</html>")
    assert e.value.reason == "not_an_image"
    data = _encode(_gradient(256, 256), quality=95)
    with pytest.raises(ImageDecodeError) as e:
        decode_image(data[: len(data) // 2])
    assert e.value.reason == "truncated"
    with pytest.raises(ImageDecodeError) as e:
        probe_image(data[: len(data) // 2])
    assert e.value.reason == "truncated"


def test_size_guard_rejects_before_decoding():
    data = _encode(Image.new("L", (4000, 3000)), "PNG")
    with pytest.raises(ImageDecodeError) as e:
        decode_image(data, max_pixels=1_000_000)
    assert e.value.reason == "too_large"
    assert decode_image(data).shape == (3000, 4000, 3)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "JPEG"), ("CMYK", "JPEG"), ("RGBA", "PNG"), ("P", "PNG"), ("LA", "PNG"), ("I;16", "PNG")],
)
def test_modes_become_rgb_uint8(mode, fmt):
    img = (
        _gradient().convert(mode)
        if mode != "I;16"
        else Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16))
    )
    rgb = decode_image(_encode(img, fmt))
    assert rgb.dtype == np.uint8 and rgb.shape == (48, 64, 3)
    assert rgb.max() > 200  # the 16-bit range is rescaled, not truncated to black


def test_rgba_transparency_is_white():
    img = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert (decode_image(_encode(img, "PNG")) == 255).all()


def test_exif_orientation_is_applied():
    img = _gradient(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encode(img, exif=exif.tobytes())
    assert probe_image(data).width == 64
    rgb = decode_image(data)
    assert rgb.shape == (64, 48, 3)
    # the stored left column (red = 0) becomes the displayed top row
    assert rgb[0, :, 0].mean() < rgb[-1, :, 0].mean()


def test_crop_face_is_square_with_margin_and_pads_at_the_edge():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[40:60, 90:110] = 255
    crop = crop_face(rgb, (90, 40, 20, 20), margin=0.5, size=40)
    assert crop.shape == (40, 40, 3)
    # the face fills the middle half of a 2x box
    assert crop[20, 20].min() == 255 and crop[2, 2].max() == 0
    edge = crop_face(rgb, (0, 0, 30, 30), margin=0.5, size=32)
    assert edge.shape == (32, 32, 3)
    assert square_box(10, 10, 20, 10, 0.0) == (10, 5, 20)
    with pytest.raises(ValueError, match="empty face box"):
        crop_face(rgb, (0, 0, 0, 5))


def test_encode_jpeg_roundtrip():
    rgb = np.asarray(_gradient())
    back = decode_image(encode_jpeg(rgb))
    assert back.shape == rgb.shape
    assert np.abs(back.astype(int) - rgb.astype(int)).mean() < 3
