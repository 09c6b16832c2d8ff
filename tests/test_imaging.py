"""Bad and unusual inputs: each decodes to upright RGB or fails with a named reason."""

import io

import numpy as np
import pytest
from PIL import Image

from expressions_ensemble.imaging import (
    DATASET_FRAMING,
    CropGeometry,
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


def test_negative_margin_crops_inside_the_box_and_too_negative_fails():
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[30:70, 30:70] = 255  # a 40 px face, with a 10 px grey ring inside it
    rgb[30:40, 30:70] = rgb[60:70, 30:70] = 128
    rgb[30:70, 30:40] = rgb[30:70, 60:70] = 128
    inner = crop_face(rgb, (30, 30, 40, 40), margin=-0.25, size=20)
    assert (inner == 255).all()  # 40 * (1 - 0.5) = the 20 px centre, ring cut away
    with pytest.raises(ValueError, match=r"margin must be >= -0.4"):
        crop_face(rgb, (30, 30, 40, 40), margin=-0.45)


def test_shift_moves_the_square_down_or_up_by_a_share_of_the_box():
    assert square_box(10, 10, 20, 20, 0.0, shift=-0.25) == (10, 5, 20)
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[40:60, 40:60] = 255
    up = crop_face(rgb, (40, 40, 20, 20), margin=0.5, size=40, shift=-0.5)
    assert up[:20].max() == 0 and up[20:, 10:30].min() == 255  # the face is now in the lower half
    rgb2, box, eyes = _eyes_image(0.0)
    a = crop_face(rgb2, box, margin=0.0, size=80, eyes=eyes, shift=-0.25)
    b = crop_face(rgb2, box, margin=0.0, size=80, shift=-0.25)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # level eyes: aligned = plain, shift too


def _eyes_image(angle_deg: float) -> tuple[np.ndarray, tuple[int, int, int, int], tuple]:
    """Two bright 'eyes' 40 px apart on a line tilted by ``angle_deg``, about the centre (100, 100)."""
    rgb = np.zeros((200, 200, 3), np.uint8)
    t = np.deg2rad(angle_deg)
    right = (100 - 20 * np.cos(t), 100 - 20 * np.sin(t))
    left = (100 + 20 * np.cos(t), 100 + 20 * np.sin(t))
    for ex, ey in (right, left):
        rgb[int(round(ey)) - 2 : int(round(ey)) + 3, int(round(ex)) - 2 : int(round(ex)) + 3] = 255
    return rgb, (60, 60, 80, 80), (right, left)


@pytest.mark.parametrize("angle", [-25.0, 0.0, 15.0, 30.0])
def test_aligned_crop_levels_the_eyes_about_the_box_centre(angle):
    rgb, box, eyes = _eyes_image(angle)
    crop = crop_face(rgb, box, margin=0.0, size=80, eyes=eyes)
    assert crop.shape == (80, 80, 3)
    rows, cols = np.nonzero(crop[..., 0] > 100)
    left_half, right_half = cols < 40, cols >= 40
    assert left_half.any() and right_half.any()
    # both eyes on the middle row, 20 px either side of the centre (scale 1: box side 80 -> 80 px)
    assert abs(rows[left_half].mean() - rows[right_half].mean()) < 1.0
    assert abs(rows.mean() - 39.5) < 1.5
    assert abs(cols[left_half].mean() - 20) < 1.5 and abs(cols[right_half].mean() - 60) < 1.5
    if angle == 0.0:  # level eyes: the same pixels as the plain crop
        plain = crop_face(rgb, box, margin=0.0, size=80)
        assert np.abs(crop.astype(int) - plain.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="square crops only"):
        crop_face(rgb, box, margin=0.0, size=80, square=False, eyes=eyes)


def test_encode_jpeg_roundtrip():
    rgb = np.asarray(_gradient())
    back = decode_image(encode_jpeg(rgb))
    assert back.shape == rgb.shape
    assert np.abs(back.astype(int) - rgb.astype(int)).mean() < 3


# ---------------------------------------------------------------------------------------------------
# Crop geometry
# ---------------------------------------------------------------------------------------------------


def test_crop_geometry_round_trips_and_validates_naming_the_key_path():
    g = CropGeometry(detector="haar", margin=0, crop_size=96, face_policy="single_only")
    assert g.margin == 0.0 and isinstance(g.margin, float)  # 0 and 0.0: one geometry
    assert CropGeometry.from_dict(g.to_dict(), "spec.crop") == g
    assert "assumed" not in g.to_dict() and CropGeometry(assumed=True).to_dict()["assumed"] is True
    assert CropGeometry(assumed=True) == CropGeometry()  # an assumed default shares crops with the default
    framed = CropGeometry.dataset_framing()
    assert framed.detector == DATASET_FRAMING and framed.face_policy is None
    assert CropGeometry.from_dict(framed.to_dict()) == framed
    cases = [
        ({"detector": "dlib"}, r"spec\.crop\.detector: got 'dlib'; allowed: one of mediapipe, haar"),
        ({"margin": -0.5}, r"spec\.crop\.margin: got -0\.5; allowed: a number >= -0\.4"),
        ({"shift": 0.6}, r"spec\.crop\.shift: got 0\.6; allowed: a number from -0\.5 to 0\.5"),
        ({"aligned": "yes"}, r"spec\.crop\.aligned: got 'yes'; allowed: true or false"),
        ({"crop_size": 0}, r"spec\.crop\.crop_size: got 0; allowed: an integer from 16 to 1024"),
        ({"face_policy": "biggest"}, r"spec\.crop\.face_policy: got 'biggest'; allowed: one of largest"),
        ({"min_confidence": 2}, r"spec\.crop\.min_confidence: got 2"),
        ({"detector": DATASET_FRAMING}, r"spec\.crop\.face_policy: got 'largest'; allowed: null"),
        ({"extra": 1}, r"spec\.crop: unknown keys \['extra'\]"),
    ]
    for change, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            CropGeometry.from_dict({**CropGeometry().to_dict(), **change}, "spec.crop")
    with pytest.raises(ValueError, match=r"spec\.crop: missing keys \['margin'"):
        CropGeometry.from_dict({"detector": "haar"}, "spec.crop")


def test_shift_and_aligned_are_recorded_only_when_set_so_old_geometries_read_back_unchanged():
    old = {"detector": "mediapipe", "margin": 0.2, "crop_size": 224, "face_policy": "largest",
           "min_face_size": 24, "min_confidence": 0.5}  # fmt: skip
    assert CropGeometry().to_dict() == old  # the text every recorded geometry and checkpoint key has
    assert CropGeometry.from_dict(old) == CropGeometry() and CropGeometry().framing == (0.2, 224, 0.0, False)
    new = CropGeometry(margin=0.1, shift=-0.1, aligned=True)
    assert new.to_dict() == {**old, "margin": 0.1, "shift": -0.1, "aligned": True}
    assert CropGeometry.from_dict(new.to_dict()) == new != CropGeometry(margin=0.1)
    framed = CropGeometry.dataset_framing(margin=0.05, shift=-0.1)
    assert CropGeometry.from_dict(framed.to_dict()) == framed and framed.framing == (0.05, 224, -0.1, False)


def test_an_aligned_geometry_levels_the_eyes_and_a_face_without_eyes_is_cropped_unturned():
    rgb, box, eyes = _eyes_image(20.0)
    g = CropGeometry(margin=0.0, crop_size=80, aligned=True)
    np.testing.assert_array_equal(g.crop(rgb, box, eyes), crop_face(rgb, box, 0.0, 80, eyes=eyes))
    np.testing.assert_array_equal(g.crop(rgb, box, None), crop_face(rgb, box, 0.0, 80))
    plain = CropGeometry(margin=0.0, crop_size=80)
    np.testing.assert_array_equal(plain.crop(rgb, box, eyes), crop_face(rgb, box, 0.0, 80))


def test_crop_geometry_crops_with_crop_face():
    rgb = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = (60, 40, 30, 30)
    for margin, size in ((0.0, 32), (0.4, 48)):
        out = CropGeometry(margin=margin, crop_size=size).crop(rgb, box)
        np.testing.assert_array_equal(out, crop_face(rgb, box, margin=margin, size=size))
        assert out.shape == (size, size, 3)
