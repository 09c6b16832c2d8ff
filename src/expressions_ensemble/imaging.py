"""The one home of image handling: decode any photo to RGB, crop a face, resize, encode, model input.

A crop made for training and one made for a film frame come from :func:`crop_face`, so both see the
same margin, squaring and interpolation; every model input (training, evaluation, film frames) comes
from :func:`to_tensor_batch` (or its two stages), so every model sees the same pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    import torch

#: Largest image (in pixels) we agree to decode: a guard against decompression bombs.
DEFAULT_MAX_PIXELS = 50_000_000


class ImageDecodeError(ValueError):
    """An input that is not a usable image; ``reason`` is a short machine-readable outcome."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    """What a photo is, as stored (before EXIF rotation)."""

    width: int
    height: int
    format: str
    mode: str


def _open(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise ImageDecodeError("empty_file", "zero bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageDecodeError("not_an_image", str(exc)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError("too_large", str(exc)) from None
    width, height = img.size
    if width * height > max_pixels:
        raise ImageDecodeError("too_large", f"{width}x{height} exceeds {max_pixels} pixels")
    if width < 1 or height < 1:
        raise ImageDecodeError("not_an_image", f"size {width}x{height}")
    return img


def probe_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read a photo's header and check that its pixels decode (truncated files fail here)."""
    img = _open(data, max_pixels)
    info = ImageInfo(img.size[0], img.size[1], (img.format or "unknown").lower(), img.mode)
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError("truncated", str(exc)) from None
    return info


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any PIL mode (grey, palette, RGBA, CMYK, 16-bit, float) to RGB uint8."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.min(arr)), float(np.max(arr))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        grey = ((arr - lo) * scale).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Transparent pixels over white, as a viewer shows them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode photo bytes to an upright RGB uint8 array (EXIF orientation applied).

    Raises :class:`ImageDecodeError` with a reason (empty_file, not_an_image, too_large, truncated).
    """
    img = _open(data, max_pixels)
    try:
        img.load()
        img = ImageOps.exif_transpose(img) or img
        return np.ascontiguousarray(_to_rgb_array(img))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError("truncated", str(exc)) from None


def square_box(x: int, y: int, w: int, h: int, margin: float) -> tuple[int, int, int]:
    """Square box (left, top, side) centred on a face box and grown by ``margin`` of its larger side."""
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    side_i = max(1, int(round(side)))
    return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side_i


def crop_face(
    rgb: np.ndarray,
    box: tuple[int, int, int, int],
    margin: float = 0.2,
    size: int = 224,
    square: bool = True,
) -> np.ndarray:
    """Crop a face with a margin, square it and resize to ``size``×``size``.

    Parts of the square outside the image are filled by replicating the border, so a face at the edge
    keeps its scale instead of being stretched.
    """
    if size < 1:
        raise ValueError(f"crop size must be positive, got {size}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"empty face box {box}")
    height, width = rgb.shape[:2]
    if square:
        left, top, side = square_box(x, y, w, h, margin)
        right, bottom = left + side, top + side
    else:
        mx, my = int(round(w * margin)), int(round(h * margin))
        left, top, right, bottom = x - mx, y - my, x + w + mx, y + h + my
    pad_l, pad_t = max(0, -left), max(0, -top)
    pad_r, pad_b = max(0, right - width), max(0, bottom - height)
    region = rgb[max(0, top) : min(height, bottom), max(0, left) : min(width, right)]
    if pad_l or pad_t or pad_r or pad_b:
        region = cv2.copyMakeBorder(region, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if region.shape[0] > size else cv2.INTER_LINEAR
    if square:
        return cv2.resize(region, (size, size), interpolation=interp)
    # Keep the aspect ratio inside a square canvas (letterbox) when the caller does not square the crop.
    scale = size / max(region.shape[:2])
    resized = cv2.resize(
        region,
        (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))),
        interpolation=interp,
    )
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    oy, ox = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    canvas[oy : oy + resized.shape[0], ox : ox + resized.shape[1]] = resized
    return canvas


def encode_jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    """JPEG bytes of an RGB image (the storage format of face crops)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV fails only on invalid arrays
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


#: File extensions by decoded format, for storing raw photos under a meaningful name.
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif", "bmp": ".bmp", "tiff": ".tif"}


def extension_for(fmt: str) -> str:
    """File extension for a PIL format name (``.img`` for formats we do not name)."""
    return EXTENSIONS.get(fmt.lower(), ".img")


# ---------------------------------------------------------------------------------------------------
# Model input: preprocessing variants, resize and normalisation
# ---------------------------------------------------------------------------------------------------

#: Preprocessing variants of the autoencoder study: colour, grey replicated to three channels, and a
#: tighter crop of the face crop (less hair and background).
PREPROCESSING_VARIANTS: tuple[str, ...] = ("rgb", "grayscale", "close_crop")

#: Share of the face crop's side that ``close_crop`` keeps (centred).
CLOSE_CROP_FRACTION = 0.8


def validate_preprocessing(variant: object, key: str = "preprocessing") -> str:
    """The variant name if known; otherwise fail naming ``key`` and the allowed values."""
    if not isinstance(variant, str) or variant not in PREPROCESSING_VARIANTS:
        raise ValueError(
            f"{key}: unknown preprocessing {variant!r}; allowed: {', '.join(PREPROCESSING_VARIANTS)}"
        )
    return variant


def _centre_square(img: np.ndarray, fraction: float = 1.0) -> np.ndarray:
    """Central square of side ``fraction`` × the shorter side (a view, no copy)."""
    height, width = img.shape[:2]
    side = max(1, int(round(min(height, width) * fraction)))
    top, left = (height - side) // 2, (width - side) // 2
    return img[top : top + side, left : left + side]


def prepare_face(image: np.ndarray, size: int, variant: str = "rgb") -> np.ndarray:
    """One face crop as the model sees it before normalisation: uint8 (size, size, 3) RGB.

    A non-square input is centre-cropped to a square first (face crops are already square), so a
    picture is never stretched. Grey inputs (H, W) or (H, W, 1) become three equal channels.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3) or 0 in image.shape[:2]:
        raise ValueError(f"expected an RGB (H, W, 3) or grey (H, W) image, got shape {image.shape}")
    region = _centre_square(image, CLOSE_CROP_FRACTION if variant == "close_crop" else 1.0)
    if region.shape[0] != size:
        interp = cv2.INTER_AREA if region.shape[0] > size else cv2.INTER_LINEAR
        region = cv2.resize(np.ascontiguousarray(region), (size, size), interpolation=interp)
    if variant == "grayscale" and region.ndim == 3:
        region = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
    if region.ndim == 2:
        return np.repeat(region[:, :, None], 3, axis=2)
    return region


def prepare_batch(images: list[np.ndarray], size: int, variant: str = "rgb") -> np.ndarray:
    """Face crops as one uint8 array (N, 3, size, size): the cacheable stage before normalisation.

    Training keeps this array (decoded and resized once) and normalises each augmented batch with
    :func:`normalise_batch`; evaluation and film frames go through :func:`to_tensor_batch`, which is
    these two steps in a row, so every consumer sees identical pixels.
    """
    validate_preprocessing(variant)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"input size must be a positive integer, got {size!r}")
    size = int(size)
    out = np.empty((len(images), 3, size, size), dtype=np.uint8)
    for i, image in enumerate(images):
        try:
            out[i] = prepare_face(np.asarray(image), size, variant).transpose(2, 0, 1)
        except ValueError as exc:
            raise ValueError(f"image {i}: {exc}") from None
    return out


def _channel_triple(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be three finite numbers (R, G, B), got {values!r}")
    return arr


def to_unit_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) to a new float32 tensor in [0, 1]: what augmentation works on."""
    return batch.float().div_(255.0)


def normalise_(x: torch.Tensor, mean: object, std: object) -> torch.Tensor:
    """``(x - mean) / std`` per channel, in place, for a float batch in [0, 1] (returns ``x``).

    In place because it runs on every training batch: no extra batch-sized tensors.
    """
    import torch

    mean_a = _channel_triple(mean, "mean")
    std_a = _channel_triple(std, "std")
    if np.any(std_a <= 0):
        raise ValueError(f"std must be positive, got {std!r}")
    shape = (1, 3, 1, 1)
    return x.sub_(torch.tensor(mean_a, dtype=x.dtype).view(shape)).div_(
        torch.tensor(std_a, dtype=x.dtype).view(shape)
    )


def normalise_batch(batch: np.ndarray | torch.Tensor, mean: object, std: object) -> torch.Tensor:
    """uint8 (N, 3, H, W), as an array or a tensor, to float32 ``(x / 255 - mean) / std`` per channel."""
    import torch

    tensor = torch.from_numpy(batch) if isinstance(batch, np.ndarray) else batch
    return normalise_(to_unit_float(tensor), mean, std)


def to_tensor_batch(
    images: list[np.ndarray], size: int, mean: object, std: object, variant: str = "rgb"
) -> torch.Tensor:
    """Face crops (RGB uint8) to the model's input tensor (N, 3, size, size) float32.

    The one preprocessing function of training, evaluation and film frames. ``torch`` is imported
    here, not at module level, so the decoding and cropping workers never pay for it.
    """
    return normalise_batch(prepare_batch(images, size, variant), mean, std)
