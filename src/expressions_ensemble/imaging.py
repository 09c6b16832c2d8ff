"""The one home of image handling: decode any photo to RGB, crop a face, resize, encode, model input.

A crop made for training and one made for a film frame come from :func:`crop_face`, so both see the
same margin, squaring and interpolation; :class:`CropGeometry` is how a model's training crops were
framed (stored in its artifact, so a film frame's face is cropped the same way); every model input
(training, evaluation, film frames) comes from :func:`to_tensor_batch` (or its two stages), so every
model sees the same pixels.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from expressions_ensemble.faces import BACKENDS, FACE_POLICIES

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


def square_box(x: int, y: int, w: int, h: int, margin: float, shift: float = 0.0) -> tuple[int, int, int]:
    """Square box (left, top, side) centred on a face box, grown by ``margin`` of its larger side on each
    side and moved down by ``shift`` of that side (negative: up)."""
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0 + shift * max(w, h)
    side_i = max(1, int(round(side)))
    return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side_i


def crop_face(
    rgb: np.ndarray,
    box: tuple[int, int, int, int],
    margin: float = 0.2,
    size: int = 224,
    square: bool = True,
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
    shift: float = 0.0,
) -> np.ndarray:
    """Crop a face with a margin, square it and resize to ``size``×``size``.

    ``margin`` is a share of the box's larger side added on each side; a negative margin (down to
    -0.4) crops inside the box. Parts of the square outside the image are filled by replicating the
    border, so a face at the edge keeps its scale instead of being stretched. With ``eyes`` (the
    subject's right and left eye centres, as the detector gives them) the square is turned about the
    box centre so that the eyes are level (face alignment). ``shift`` moves the square's centre down by
    that share of the box's larger side (negative: up), e.g. to frame a face as a dataset did.
    """
    if size < 1:
        raise ValueError(f"crop size must be positive, got {size}")
    if not margin >= MIN_MARGIN:
        raise ValueError(f"margin must be >= {MIN_MARGIN}, got {margin}")
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"empty face box {box}")
    if eyes is not None:
        if not square:
            raise ValueError("face alignment (eyes) makes square crops only")
        return _aligned_crop(rgb, (x, y, w, h), margin, size, eyes, shift)
    height, width = rgb.shape[:2]
    if square:
        left, top, side = square_box(x, y, w, h, margin, shift)
        right, bottom = left + side, top + side
    else:
        mx, my = int(round(w * margin)), int(round(h * margin))
        dy = int(round(shift * max(w, h)))
        left, top, right, bottom = x - mx, y - my + dy, x + w + mx, y + h + my + dy
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


def _aligned_crop(
    rgb: np.ndarray, box: tuple[int, int, int, int], margin: float, size: int,
    eyes: tuple[tuple[float, float], tuple[float, float]], shift: float,
) -> np.ndarray:  # fmt: skip
    """The square of :func:`square_box` turned by the eye line's angle about the box centre (the shift
    follows the turned face's vertical), sampled in one affine warp."""
    x, y, w, h = box
    (rx, ry), (lx, ly) = eyes
    angle = math.atan2(ly - ry, lx - rx)  # image y grows downwards: positive = head tilted clockwise
    side = max(w, h) * (1.0 + 2.0 * margin)
    scale = size / side
    cx, cy = x + w / 2.0, y + h / 2.0
    cx, cy = cx - math.sin(angle) * shift * max(w, h), cy + math.cos(angle) * shift * max(w, h)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    # source -> output: rotate by -angle about the box centre, scale, put the centre mid-output
    matrix = np.array(
        [[cos, sin, size / 2.0 - cos * cx - sin * cy], [-sin, cos, size / 2.0 + sin * cx - cos * cy]]
    )
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


#: Smallest crop margin: a crop inside the face box down to 20 % of its side.
MIN_MARGIN = -0.4

#: ``CropGeometry.detector`` of images a curated dataset framed itself (FER2013's 48 px faces): no
#: detector ran, no face was chosen; ``margin`` and ``crop_size`` are how a detected face is framed for
#: such a model where it meets one (a film frame).
DATASET_FRAMING = "dataset_framing"
_SELECTION = ("face_policy", "min_face_size", "min_confidence")


#: What decides a crop's pixels for a given face (:attr:`CropGeometry.framing`): margin, crop size,
#: shift, aligned.
Framing = tuple[float, int, float, bool]


@dataclass(frozen=True)
class CropGeometry:
    """How a model's face crops were framed: the detector that found the face, the margin and size of
    the square crop (:func:`crop_face`), and the face selection of the photos they came from; ``shift``
    (the square moved down by a share of the box side) and ``aligned`` (turned so that the eyes are
    level) are left out of the recorded dict at their defaults, so geometries recorded before them
    read back, compare and key checkpoints as they did.

    Made once by face extraction, stored in every model artifact (``spec.crop``) and read back wherever
    that model meets a face, so a model trained on one margin is never scored on crops of another.
    ``assumed`` marks the base env's defaults standing in for a geometry an old artifact never recorded
    (it is not part of equality: such a model shares crops with one that recorded the same values).
    """

    detector: str = "mediapipe"
    margin: float = 0.2
    crop_size: int = 224
    face_policy: str | None = "largest"  # None (with min_face_size, min_confidence): dataset framing
    min_face_size: int | None = 24
    min_confidence: float | None = 0.5
    shift: float = 0.0
    aligned: bool = False
    assumed: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        self._check("crop")

    def _check(self, key: str) -> None:
        framed = self.detector == DATASET_FRAMING
        detectors = (*BACKENDS, DATASET_FRAMING)
        checks = [
            (self.detector in detectors, "detector", f"one of {', '.join(detectors)}"),
            (_finite(self.margin) and self.margin >= MIN_MARGIN, "margin",
             f"a number >= {MIN_MARGIN} (share of the face size)"),
            (_finite(self.shift) and abs(self.shift) <= 0.5, "shift", "a number from -0.5 to 0.5"),
            (isinstance(self.aligned, bool), "aligned", "true or false"),
            (_integer(self.crop_size) and 16 <= self.crop_size <= 1024, "crop_size",
             "an integer from 16 to 1024"),
            (isinstance(self.assumed, bool), "assumed", "true or false"),
        ]  # fmt: skip
        if framed:
            checks += [
                (getattr(self, k) is None, k, f"null (detector {DATASET_FRAMING})") for k in _SELECTION
            ]
        else:
            checks += [
                (self.face_policy in FACE_POLICIES, "face_policy", f"one of {', '.join(FACE_POLICIES)}"),
                (_integer(self.min_face_size) and self.min_face_size >= 0, "min_face_size",
                 "an integer number of pixels >= 0"),
                (_finite(self.min_confidence) and 0 <= self.min_confidence <= 1, "min_confidence",
                 "a number in [0, 1]"),
            ]  # fmt: skip
        for ok, name, allowed in checks:
            if not ok:
                raise ValueError(f"{key}.{name}: got {getattr(self, name)!r}; allowed: {allowed}")
        object.__setattr__(self, "margin", float(self.margin))  # 0 and 0.0: one geometry, one text
        object.__setattr__(self, "shift", float(self.shift))
        if self.min_confidence is not None:
            object.__setattr__(self, "min_confidence", float(self.min_confidence))

    @classmethod
    def dataset_framing(
        cls, margin: float = 0.2, crop_size: int = 224, shift: float = 0.0, aligned: bool = False
    ) -> CropGeometry:
        """The geometry of a curated dataset's own framing (no detector ran at training time): how a
        detected face is framed to look like the dataset's images."""
        return cls(DATASET_FRAMING, margin, crop_size, None, None, None, shift, aligned)

    @property
    def framing(self) -> Framing:
        """What decides the crop's pixels for a given face: crops with equal framing are shared."""
        return (float(self.margin), int(self.crop_size), float(self.shift), bool(self.aligned))

    def crop(
        self, rgb: np.ndarray, box: tuple[int, int, int, int],
        eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
    ) -> np.ndarray:  # fmt: skip
        """The face in ``box`` cropped with this geometry (:func:`crop_face`, squared); an aligned
        geometry levels ``eyes`` (a face without them, e.g. from Haar, is cropped unturned)."""
        turn = eyes if self.aligned else None
        return crop_face(rgb, box, margin=self.margin, size=self.crop_size, eyes=turn, shift=self.shift)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``assumed`` only when true, ``shift`` and ``aligned`` only when set, so
        recorded geometries compare as text)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _OPTIONAL}
        return out | {k: getattr(self, k) for k, default in _OPTIONAL.items() if getattr(self, k) != default}

    @classmethod
    def from_dict(cls, data: object, key: str = "crop") -> CropGeometry:
        """Inverse of :meth:`to_dict`; unknown keys, missing keys and bad values fail naming ``key``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{key}: expected a mapping of {', '.join(_GEOMETRY_KEYS)}, got {data!r}")
        names = {f.name for f in fields(cls)}
        if unknown := set(data) - names:
            raise ValueError(f"{key}: unknown keys {sorted(unknown)}; allowed: {sorted(names)}")
        if missing := [k for k in _GEOMETRY_KEYS if k not in data]:
            raise ValueError(f"{key}: missing keys {missing}")
        out = object.__new__(cls)
        for name in names:
            object.__setattr__(out, name, data.get(name, _OPTIONAL.get(name)))
        out._check(key)
        return out


_GEOMETRY_KEYS = ("detector", "margin", "crop_size", *_SELECTION)
#: Fields recorded only when they differ from these (geometries recorded before them read back as these).
_OPTIONAL: dict[str, object] = {"shift": 0.0, "aligned": False, "assumed": False}


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
#: rgb: the crop as it is; grayscale: grey in three equal channels (a grey dataset's look on colour
#: footage); equalized: grey with its histogram equalised (lighting evened out); close_crop: the
#: central 80 % of the crop.
PREPROCESSING_VARIANTS: tuple[str, ...] = ("rgb", "grayscale", "equalized", "close_crop")

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
    if variant in ("grayscale", "equalized") and region.ndim == 3:
        region = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
    if variant == "equalized":
        region = cv2.equalizeHist(np.ascontiguousarray(region))
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
