"""Synthetic faces drawn with OpenCV: seven expressions built from facial geometry, not from pictures.

Everything is a *parameter*: a :class:`FaceSpec` says who is drawn and how (emotion, intensity, skin, face
shape, hair, pose, light), a :class:`Look` says what kind of picture it is (a cluttered colour "stock"
photo, a grey 48×48 posed "lab" crop like FER2013). :func:`draw_face` paints one spec onto any existing RGB
frame, so photos, benchmark crops and film frames share one drawing code.

Expressions follow FACS-like cues so that a classifier can learn them: brow height and slant, eye opening
(whites above the iris for surprise/fear, narrowed for anger/disgust, squinted for joy), mouth shape
(smile, frown, "O", stretched, pressed or bared teeth, raised asymmetric upper lip) plus wrinkles. Each
face shows ``intensity`` of the way from neutral to the full expression.

Only numpy, OpenCV and :mod:`expressions_ensemble.labels` are used; all randomness comes from the
``numpy.random.Generator`` passed in, so a seed gives identical pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import cv2
import numpy as np

from expressions_ensemble.labels import EMOTIONS

RGB = tuple[int, int, int]

#: Hair styles :func:`draw_face` knows.
HAIR_STYLES: tuple[str, ...] = ("bald", "short", "fringe", "long", "curly")

#: Skin tones from light to deep (RGB); specs interpolate between neighbours.
SKIN_TONES: tuple[RGB, ...] = (
    (250, 220, 200),
    (238, 196, 170),
    (224, 172, 138),
    (198, 140, 100),
    (160, 105, 70),
    (120, 78, 52),
    (88, 58, 42),
)

HAIR_COLOURS: tuple[RGB, ...] = (
    (22, 18, 16),
    (48, 32, 24),
    (90, 58, 36),
    (130, 72, 40),
    (196, 160, 104),
    (150, 146, 140),
)

EYE_COLOURS: tuple[RGB, ...] = ((70, 45, 28), (40, 28, 20), (95, 120, 140), (90, 110, 70), (110, 80, 50))

_SHIFT = 4  # sub-pixel bits for cv2 polygons
_ONE = 1 << _SHIFT


# --------------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Look:
    """What kind of picture is rendered: frame size, colour, clutter, face placement and expression range.

    Ranges are ``(low, high)`` and sampled uniformly per picture/face; ``face_size`` is the face height
    (forehead top to chin) as a share of the shorter frame side.
    """

    name: str
    width: tuple[int, int]
    height: tuple[int, int]
    grey: bool = False
    clutter: tuple[float, float] = (0.3, 1.0)
    intensity: tuple[float, float] = (0.5, 1.0)
    face_size: tuple[float, float] = (0.3, 0.6)
    centred: bool = False
    jitter: float = 0.05  # centre jitter (share of face size) when centred
    max_rotation: float = 12.0  # degrees, in-plane
    max_yaw: float = 0.3  # fake head turn, -1..1 scale
    lighting: float = 1.0  # strength of photo-level light/colour changes (0 = none)
    noise: tuple[float, float] = (1.0, 5.0)  # sensor noise sigma, grey levels
    supersample: int = 1  # render at this many times the size, then shrink (small frames)
    glasses: float = 0.08  # probability of glasses
    stroke: float = 1.0  # line-weight multiplier for facial lines
    hair_styles: tuple[str, ...] = HAIR_STYLES

    def __post_init__(self) -> None:
        for name in ("width", "height", "clutter", "intensity", "face_size", "noise"):
            lo, hi = getattr(self, name)
            if lo > hi or lo < 0:
                raise ValueError(
                    f"Look {self.name!r}: {name} must be an ordered (low, high) >= 0, got {(lo, hi)}"
                )
        if self.intensity[1] > 1.0:
            raise ValueError(f"Look {self.name!r}: intensity must lie within [0, 1]")
        if self.supersample < 1:
            raise ValueError(f"Look {self.name!r}: supersample must be at least 1")
        unknown = set(self.hair_styles) - set(HAIR_STYLES)
        if unknown:
            raise ValueError(
                f"Look {self.name!r}: unknown hair styles {sorted(unknown)}; allowed: {HAIR_STYLES}"
            )


#: Named looks: ``stock`` = web stock photo, ``lab`` = posed grey 48×48 crop in the style of FER2013.
LOOKS: dict[str, Look] = {
    "stock": Look("stock", width=(256, 512), height=(256, 512)),
    "lab": Look(
        "lab",
        width=(48, 48),
        height=(48, 48),
        grey=True,
        clutter=(0.0, 0.0),
        intensity=(0.85, 1.0),
        face_size=(0.92, 1.02),
        centred=True,
        jitter=0.03,
        max_rotation=6.0,
        max_yaw=0.15,
        lighting=0.4,
        noise=(0.5, 2.0),
        supersample=3,
        glasses=0.0,
        stroke=1.6,
    ),
}


def get_look(look: Look | str) -> Look:
    """Resolve a look given by name; fail naming the known looks."""
    if isinstance(look, Look):
        return look
    try:
        return LOOKS[look]
    except KeyError:
        raise ValueError(f"unknown look {look!r}; allowed: {', '.join(LOOKS)}") from None


@dataclass(frozen=True)
class FaceSpec:
    """Everything needed to draw one face; pixel fields are in the coordinates of the target frame.

    ``size`` is forehead-top-to-chin height in pixels, ``center`` the middle of that span. ``variant``
    picks a form of the expression (0/1: closed vs open smile, pressed lips vs bared teeth, ...), ``side``
    (+1/-1) the side an asymmetric expression (disgust) favours. ``detail_seed`` drives tiny details
    (hair strands) so that equal specs draw equal pixels.
    """

    emotion: str
    intensity: float = 1.0
    center: tuple[float, float] = (64.0, 64.0)
    size: float = 100.0
    aspect: float = 0.78  # face width / height
    jaw: float = 0.5  # 0 = pointed oval chin .. 1 = square jaw
    rotation: float = 0.0  # degrees, counter-clockwise
    yaw: float = 0.0  # -1..1 fake head turn (features shift sideways)
    skin: RGB = (224, 172, 138)
    hair_style: str = "short"
    hair_colour: RGB = (48, 32, 24)
    eye_colour: RGB = (70, 45, 28)
    lip_tint: float = 0.5  # 0 = lips close to skin, 1 = strongly red
    clothing: RGB = (70, 90, 140)
    light_angle: float = -2.4  # radians in the face frame, direction the key light comes from
    light_strength: float = 0.5
    gaze: tuple[float, float] = (0.0, 0.0)  # iris offset, share of iris radius
    variant: int = 0
    side: int = 1
    glasses: bool = False
    stroke: float = 1.0  # line-weight multiplier: small renders need bolder lines to stay readable
    detail_seed: int = 0

    def __post_init__(self) -> None:
        if self.emotion not in EMOTIONS:
            raise ValueError(
                f"FaceSpec.emotion: unknown emotion {self.emotion!r}; allowed: {', '.join(EMOTIONS)}"
            )
        if not 0.0 <= self.intensity <= 1.0:
            raise ValueError(f"FaceSpec.intensity must lie within [0, 1], got {self.intensity!r}")
        if self.size <= 0:
            raise ValueError(f"FaceSpec.size must be positive, got {self.size!r}")
        if self.hair_style not in HAIR_STYLES:
            raise ValueError(
                f"FaceSpec.hair_style: unknown {self.hair_style!r}; allowed: {', '.join(HAIR_STYLES)}"
            )


def face_box(spec: FaceSpec) -> tuple[int, int, int, int]:
    """Axis-aligned ``(x, y, w, h)`` box of the face (brow-top to chin, cheek to cheek), for ground truth.

    The box spans the face oval itself, the region a face detector is expected to report.
    """
    half_w, half_h = spec.aspect * spec.size / 2, spec.size / 2
    t = math.radians(spec.rotation)
    bx = abs(math.cos(t)) * half_w + abs(math.sin(t)) * half_h
    by = abs(math.sin(t)) * half_w + abs(math.cos(t)) * half_h
    cx, cy = spec.center
    return round(cx - bx), round(cy - by), round(2 * bx), round(2 * by)


# ------------------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class _Expr:
    """Geometry of an expression, in face units (half the face height); neutral values are the defaults."""

    brow_raise: float = 0.0
    brow_inner: float = 0.0
    brow_outer: float = 0.0
    brow_squeeze: float = 0.0
    brow_arch: float = 0.035
    eye_open: float = 1.0
    eye_lower: float = 1.0
    lid_slant: float = 0.0  # + = inner end of upper lid lower (glare), - = outer end lower (droop)
    mouth_w: float = 1.0
    mouth_curve: float = 0.0  # + = corners up
    mouth_open: float = 0.0
    open_top: float = 0.45  # share of the opening above the lip line
    mouth_round: float = 0.3  # 1 = round "O", 0 = boxy/stretched
    upper_teeth: float = 0.0
    lower_teeth: float = 0.0
    lip_thick: float = 1.0
    lip_raise: float = 0.0  # asymmetric upper-lip raise (disgust)
    chin_raise: float = 0.0  # lower lip pushed up (sad pout)
    nose_wrinkle: float = 0.0
    fold: float = 0.12  # nasolabial fold
    forehead: float = 0.0
    furrow: float = 0.0
    cheek: float = 0.0
    nostril_flare: float = 0.0


_NEUTRAL = _Expr()

# Full-intensity targets; index = variant (the last entry is reused for higher variants).
_TARGETS: dict[str, tuple[_Expr, ...]] = {
    "neutral": (_NEUTRAL,),
    "happy": (
        _Expr(
            brow_raise=0.02,
            eye_open=0.8,
            eye_lower=0.55,
            mouth_w=1.3,
            mouth_curve=0.11,
            mouth_open=0.015,
            open_top=0.2,
            mouth_round=0.0,
            upper_teeth=0.5,
            lip_thick=0.85,
            fold=0.9,
            cheek=1.0,
        ),
        _Expr(
            brow_raise=0.03,
            eye_open=0.78,
            eye_lower=0.5,
            mouth_w=1.32,
            mouth_curve=0.1,
            mouth_open=0.14,
            open_top=0.12,
            mouth_round=0.0,
            upper_teeth=1.0,
            lip_thick=0.8,
            fold=1.0,
            cheek=1.0,
        ),
    ),
    "sad": (
        _Expr(
            brow_inner=0.1,
            brow_outer=-0.05,
            brow_squeeze=0.025,
            brow_arch=0.0,
            eye_open=0.72,
            lid_slant=-0.025,
            mouth_w=0.92,
            mouth_curve=-0.1,
            lip_thick=1.1,
            chin_raise=1.0,
            fold=0.35,
            forehead=0.4,
        ),
    ),
    "angry": (
        _Expr(
            brow_raise=-0.03,
            brow_inner=-0.08,
            brow_outer=0.03,
            brow_squeeze=0.05,
            brow_arch=0.0,
            eye_open=0.55,
            eye_lower=0.7,
            lid_slant=0.03,
            mouth_w=0.84,
            mouth_curve=-0.035,
            lip_thick=0.3,
            fold=0.45,
            furrow=1.0,
            nostril_flare=0.6,
        ),
        _Expr(
            brow_raise=-0.03,
            brow_inner=-0.08,
            brow_outer=0.03,
            brow_squeeze=0.05,
            brow_arch=0.0,
            eye_open=0.6,
            eye_lower=0.7,
            lid_slant=0.03,
            mouth_w=1.08,
            mouth_curve=-0.03,
            mouth_open=0.1,
            open_top=0.5,
            mouth_round=0.0,
            upper_teeth=1.0,
            lower_teeth=1.0,
            lip_thick=0.7,
            fold=0.8,
            furrow=1.0,
            nostril_flare=0.8,
        ),
    ),
    "fear": (
        _Expr(
            brow_raise=0.06,
            brow_inner=0.07,
            brow_outer=-0.01,
            brow_squeeze=0.03,
            brow_arch=-0.01,
            eye_open=1.6,
            eye_lower=1.2,
            mouth_w=1.25,
            mouth_curve=-0.04,
            mouth_open=0.06,
            mouth_round=0.0,
            lower_teeth=1.0,
            lip_thick=0.8,
            fold=0.5,
            forehead=0.7,
        ),
        _Expr(
            brow_raise=0.06,
            brow_inner=0.07,
            brow_outer=-0.01,
            brow_squeeze=0.03,
            brow_arch=-0.01,
            eye_open=1.65,
            eye_lower=1.25,
            mouth_w=1.2,
            mouth_curve=-0.04,
            mouth_open=0.1,
            mouth_round=0.0,
            upper_teeth=0.6,
            lower_teeth=1.0,
            lip_thick=0.8,
            fold=0.5,
            forehead=0.7,
        ),
    ),
    "surprise": (
        _Expr(
            brow_raise=0.11,
            brow_inner=0.015,
            brow_arch=0.06,
            eye_open=1.75,
            eye_lower=1.35,
            mouth_w=0.6,
            mouth_open=0.22,
            open_top=0.4,
            mouth_round=1.0,
            lip_thick=0.9,
            forehead=1.0,
        ),
    ),
    "disgust": (
        _Expr(
            brow_raise=-0.04,
            brow_inner=-0.04,
            brow_squeeze=0.03,
            brow_arch=0.0,
            eye_open=0.62,
            eye_lower=0.55,
            lid_slant=0.01,
            mouth_w=0.95,
            mouth_curve=-0.05,
            mouth_open=0.015,
            mouth_round=0.0,
            upper_teeth=1.0,
            lip_raise=0.065,
            lip_thick=1.05,
            chin_raise=0.6,
            nose_wrinkle=1.0,
            fold=1.0,
            nostril_flare=1.0,
        ),
    ),
}

_EXPR_FIELDS = tuple(f.name for f in fields(_Expr))


def _expression(emotion: str, intensity: float, variant: int) -> _Expr:
    targets = _TARGETS[emotion]
    target = targets[min(max(variant, 0), len(targets) - 1)]
    k = float(intensity)
    return _Expr(**{n: (1 - k) * getattr(_NEUTRAL, n) + k * getattr(target, n) for n in _EXPR_FIELDS})


#: Number of expression variants per emotion (``FaceSpec.variant`` ranges over ``range(n)``).
VARIANTS: dict[str, int] = {e: len(t) for e, t in _TARGETS.items()}


# ------------------------------------------------------------------------------------------ drawing


def _mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return tuple(int(round((1 - t) * x + t * y)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _scale(c: Sequence[float], k: float) -> RGB:
    return tuple(int(min(255, max(0, round(x * k)))) for x in c)  # type: ignore[return-value]


class _Pen:
    """Maps face units (origin at face centre, unit = half face height, y down) to patch pixels."""

    def __init__(self, spec: FaceSpec, x0: float, y0: float, scale: float = 1.0) -> None:
        self.s = spec.size / 2 * scale
        self.stroke = spec.stroke
        t = math.radians(spec.rotation)
        self.cos, self.sin = math.cos(t), math.sin(t)
        self.cx = (spec.center[0] - x0) * scale
        self.cy = (spec.center[1] - y0) * scale
        k = self.s * _ONE
        self._m = np.array([[self.cos * k, -self.sin * k], [self.sin * k, self.cos * k]])
        self._t = np.array([self.cx * _ONE + 0.5, self.cy * _ONE + 0.5])

    def pts(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        uv = np.empty((len(u), 2))
        uv[:, 0] = u
        uv[:, 1] = v
        return np.floor(uv @ self._m + self._t).astype(np.int32)

    def px(self, units: float) -> int:
        return max(1, round(units * self.s * self.stroke))

    def fill(self, img: np.ndarray, u: np.ndarray, v: np.ndarray, colour, aa: bool = True) -> None:
        cv2.fillPoly(img, [self.pts(u, v)], colour, cv2.LINE_AA if aa else cv2.LINE_8, _SHIFT)

    def line(self, img: np.ndarray, u: np.ndarray, v: np.ndarray, colour, width: float, closed=False) -> None:
        cv2.polylines(img, [self.pts(u, v)], closed, colour, self.px(width), cv2.LINE_AA, _SHIFT)


@lru_cache(maxsize=256)
def _arc(n: int, a0: float, a1: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(a0, a1, n, endpoint=a1 - a0 < 2 * math.pi)
    c, s = np.cos(t), np.sin(t)
    c.flags.writeable = False
    s.flags.writeable = False
    return c, s


def _ellipse(cu: float, cv: float, ru: float, rv: float, n: int = 28, a0=0.0, a1=2 * math.pi):
    c, s = _arc(n, a0, a1)
    return cu + ru * c, cv + rv * s


def _face_outline(aspect: float, jaw: float, n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Egg-shaped face: elliptic cranium, jaw between a pointed oval (0) and a square (1)."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    lower = s > 0
    power = np.where(lower, 2.0 / (2.0 + 1.6 * jaw), 1.0)
    u = aspect * np.sign(c) * np.abs(c) ** power
    v = np.sign(s) * np.abs(s) ** np.where(lower, power, 1.0)
    taper = np.where(lower, 1.0 - (0.22 - 0.14 * jaw) * np.clip(v, 0, 1) ** 2, 1.0)
    return u * taper, v


def _hair_cap(aspect: float, hairline: float, temple: float, grow: float, n: int = 40):
    """Hair polygon over the cranium: outer arc (grown by ``grow``) and a hairline across the forehead."""
    a0, a1 = math.pi + 0.25, 2 * math.pi - 0.25
    t = np.linspace(a0, a1, n)
    ou = (aspect + grow) * np.cos(t)
    ov = (1.0 + grow) * np.sin(t) - 0.02
    # hairline from right temple back to left temple
    h = np.linspace(1, -1, n)
    iu = aspect * 0.93 * h
    iv = hairline + (temple - hairline) * np.abs(h) ** 3 - 0.06 * (1 - h**2)
    return np.concatenate([ou, iu]), np.concatenate([ov, iv])


def _bezier(p0, p1, p2, n: int = 12):
    t = np.linspace(0, 1, n)[:, None]
    pts = (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t**2 * np.asarray(p2)
    return pts[:, 0], pts[:, 1]


def _thick_curve(u: np.ndarray, v: np.ndarray, w0: float, w1: float):
    """Polygon around a centre line whose width tapers from ``w0`` to ``w1``."""
    du, dv = np.gradient(u), np.gradient(v)
    norm = np.hypot(du, dv) + 1e-9
    nu, nv = -dv / norm, du / norm
    w = np.linspace(w0, w1, len(u)) / 2
    return np.concatenate([u + nu * w, (u - nu * w)[::-1]]), np.concatenate([v + nv * w, (v - nv * w)[::-1]])


def _profile(t: np.ndarray, roundness: float) -> np.ndarray:
    """Opening profile along the mouth: an ellipse (1) or a box with round corners (0)."""
    p = 2.0 + (1.0 - roundness) * 4.0
    return np.clip(1.0 - np.abs(t) ** p, 0, 1) ** 0.5


def draw_face(canvas: np.ndarray, spec: FaceSpec) -> None:
    """Paint ``spec`` onto ``canvas`` (RGB uint8, any size, modified in place); parts outside are clipped.

    Head, hair, neck and shoulders are drawn flat, then shaded (face roundness, key light, eye sockets,
    nose and chin shadows) so the result has the luminance structure a real face detector relies on.
    Films draw one actor per frame with ``replace(spec, emotion=..., intensity=...)``: everything but the
    expression (identity, hair details via ``detail_seed``) stays the same from frame to frame.
    """
    if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.uint8:
        raise ValueError(f"draw_face needs an RGB uint8 canvas (H, W, 3), got {canvas.dtype} {canvas.shape}")
    height, width = canvas.shape[:2]
    s = spec.size / 2
    cx, cy = spec.center
    reach_x, reach_up, reach_down = (spec.aspect + 0.75) * s, 1.45 * s, 2.2 * s
    x0, x1 = max(0, int(cx - reach_x)), min(width, int(math.ceil(cx + reach_x)))
    y0, y1 = max(0, int(cy - reach_up)), min(height, int(math.ceil(cy + reach_down)))
    if x1 <= x0 or y1 <= y0:
        return
    # torso straight onto the canvas: it runs out of the patch (and usually out of the frame)
    body = _Pen(spec, 0, 0)
    su, sv = _ellipse(0.0, 2.05, 1.35, 0.72, 24, math.pi, 2 * math.pi)
    body.fill(canvas, np.concatenate([su, [1.35, -1.35]]), np.concatenate([sv, [9.0, 9.0]]), spec.clothing)
    patch = canvas[y0:y1, x0:x1]
    layer = patch.copy()
    mask = np.zeros(layer.shape[:2], np.uint8)
    pen = _Pen(spec, x0, y0)
    rng = np.random.default_rng(spec.detail_seed)
    ex = _expression(spec.emotion, spec.intensity, spec.variant)
    a = spec.aspect
    skin = spec.skin
    hair = spec.hair_colour
    yaw = float(np.clip(spec.yaw, -1, 1)) * 0.12

    # --- behind the face: long hair, shoulders, neck, ears
    if spec.hair_style == "long":
        tu, tv = _ellipse(0.0, -0.05, a + 0.18, 1.12, 24, math.pi, 2 * math.pi)
        hu = np.concatenate([tu, [a + 0.18, a + 0.24, a + 0.28, a * 0.5, -a * 0.5, -a - 0.28, -a - 0.24]])
        hv = np.concatenate([tv, [-0.05, 0.6, 1.25, 1.38, 1.38, 1.25, 0.6]])
        pen.fill(layer, hu, hv, hair)
        pen.fill(mask, hu, hv, 255, aa=False)
    nu = np.array([-0.3, 0.3, 0.34, -0.34]) * (a / 0.78)
    nv = np.array([0.45, 0.45, 1.5, 1.5])
    pen.fill(layer, nu, nv, _scale(skin, 0.86))
    pen.fill(mask, nu, nv, 255, aa=False)
    nlu, nlv = _ellipse(0.0, 1.42, 0.36 * a / 0.78, 0.1, 20, 0.0, math.pi)
    pen.fill(layer, nlu, nlv, _scale(spec.clothing, 0.8))
    for sgn in (-1, 1):
        eu, ev = _ellipse(sgn * (a * 0.97) + yaw * 0.5, -0.02, 0.09, 0.17, 16)
        pen.fill(layer, eu, ev, _scale(skin, 0.9))
        pen.fill(mask, eu, ev, 255, aa=False)

    # --- face
    fu, fv = _face_outline(a, spec.jaw)
    pen.fill(layer, fu, fv, skin)
    pen.fill(mask, fu, fv, 255, aa=False)

    shade_ops: list[tuple[np.ndarray, np.ndarray, float]] = []  # (u, v, value) drawn into the shade map
    eye_y = -0.1
    eye_x = 0.385 * a
    ew = 0.175 * a
    iris_r = 0.07
    lash = _scale(hair, 0.6) if sum(hair) < 300 else (40, 30, 26)
    dark_skin = _scale(skin, 0.62)
    line_skin = _scale(skin, 0.78)

    # --- eyes
    t = np.linspace(-1, 1, 17)
    for sgn in (-1, 1):
        ecx = sgn * eye_x + yaw
        inner = -sgn * t  # +1 at the inner corner
        hu_ = 0.056 * ex.eye_open
        hl_ = 0.05 * ex.eye_lower
        upper = eye_y - hu_ * (1 - t**2) ** 0.8 + ex.lid_slant * (inner + 1) / 2 * (1 - t**2) ** 0.3
        upper = upper - 0.01 * inner
        lower = eye_y + hl_ * (1 - t**2) ** 0.9 - 0.01 * inner * 0.5
        eu = ecx + ew * t
        pen.fill(layer, np.concatenate([eu, eu[::-1]]), np.concatenate([upper, lower[::-1]]), (236, 232, 226))
        gx, gy = spec.gaze
        iu, iv = _ellipse(ecx + gx * iris_r * 0.6, eye_y + gy * iris_r * 0.4 + 0.004, iris_r, iris_r, 20)
        pen.fill(layer, iu, iv, spec.eye_colour)
        pu, pv = _ellipse(
            ecx + gx * iris_r * 0.6, eye_y + gy * iris_r * 0.4 + 0.004, iris_r * 0.45, iris_r * 0.45, 12
        )
        pen.fill(layer, pu, pv, (12, 10, 10))
        hu2, hv2 = _ellipse(ecx + gx * iris_r * 0.6 + 0.02, eye_y - 0.018, 0.013, 0.013, 8)
        pen.fill(layer, hu2, hv2, (250, 250, 250))
        # skin above/below the lids hides the iris outside the opening
        pen.fill(
            layer,
            np.concatenate([eu, eu[::-1]]),
            np.concatenate([upper, np.full_like(upper, eye_y - 0.2)]),
            skin,
        )
        pen.fill(
            layer,
            np.concatenate([eu, eu[::-1]]),
            np.concatenate([lower, np.full_like(lower, eye_y + 0.2)]),
            skin,
        )
        pen.line(layer, eu, upper, lash, 0.02)
        pen.line(layer, eu[2:-2], lower[2:-2], _scale(skin, 0.7), 0.009)
        crease = upper - 0.035 - 0.01 * max(0.0, ex.eye_open - 1)
        pen.line(layer, eu[3:-2], crease[3:-2], line_skin, 0.009)
        if ex.cheek > 0.2:  # crow's feet and lower-lid bulge of a Duchenne smile
            oc = ecx + sgn * (ew + 0.03)
            for dv in (-0.03, 0.0, 0.03):
                pen.line(
                    layer,
                    np.array([oc, oc + sgn * 0.06]),
                    np.array([eye_y + dv * 0.5, eye_y + dv * 1.6]),
                    _mix(skin, dark_skin, 0.5 * ex.cheek),
                    0.008,
                )
            pen.line(layer, eu[3:-3], lower[3:-3] + 0.035, _mix(skin, dark_skin, 0.45 * ex.cheek), 0.01)
        su_, sv_ = _ellipse(ecx, eye_y - 0.02, 0.2, 0.12, 16)
        shade_ops.append((su_, sv_, -0.16))

    # --- eyebrows
    brow_col = _mix(hair, (30, 22, 18), 0.35) if sum(hair) > 300 else _scale(hair, 0.9)
    for sgn in (-1, 1):
        base = eye_y - 0.165 - ex.brow_raise
        pin = (sgn * (0.1 - ex.brow_squeeze) + yaw, base - ex.brow_inner + 0.01)
        pout = (sgn * 0.5 * a / 0.78 + yaw, base - ex.brow_outer + 0.02)
        pmid = ((pin[0] + pout[0]) / 2, (pin[1] + pout[1]) / 2 - ex.brow_arch - 0.02)
        bu, bv = _bezier(pin, pmid, pout)
        pu_, pv_ = _thick_curve(bu, bv, 0.05, 0.022)
        pen.fill(layer, pu_, pv_, brow_col)
    if ex.furrow > 0.05:
        c = _mix(skin, dark_skin, 0.6 * ex.furrow)
        for sgn in (-1, 1):
            pen.line(
                layer,
                np.array([sgn * 0.035, sgn * 0.045]) + yaw,
                np.array([eye_y - 0.16, eye_y - 0.06]),
                c,
                0.012,
            )
    if ex.forehead > 0.05:
        c = _mix(skin, dark_skin, 0.45 * ex.forehead)
        for k, fy in enumerate((-0.45, -0.53, -0.61)):
            fu_ = np.linspace(-0.32 + 0.05 * k, 0.32 - 0.05 * k, 9)
            pen.line(layer, fu_ + yaw * 0.5, fy + 0.03 * (fu_ / 0.32) ** 2, c, 0.009)

    # --- nose
    nx = yaw * 1.6
    nose_tip = 0.26
    flare = 0.012 * ex.nostril_flare
    lift = 0.02 * ex.nose_wrinkle
    for sgn in (-1, 1):
        au, av = _ellipse(
            nx + sgn * (0.075 + flare),
            nose_tip - 0.01 - lift,
            0.045 + flare,
            0.045,
            12,
            -math.pi / 2 - sgn * 0.3,
            math.pi / 2 + 0.2,
        )
        if sgn < 0:
            au = 2 * (nx + sgn * (0.075 + flare)) - au
        pen.line(layer, au, av, line_skin, 0.012)
        ou, ov = _ellipse(
            nx + sgn * (0.05 + flare * 0.6), nose_tip + 0.025 - lift, 0.028 + flare * 0.5, 0.014, 12
        )
        pen.fill(layer, ou, ov, _scale(skin, 0.4))
    side = 1.0 if math.cos(spec.light_angle) < 0 else -1.0  # shadow falls on the side away from the light
    shade_ops.append((*_ellipse(nx + side * 0.07, 0.1, 0.045, 0.17, 12), -0.2))
    shade_ops.append((*_ellipse(nx, nose_tip + 0.08, 0.11, 0.035, 12), -0.14))
    shade_ops.append((*_ellipse(nx - side * 0.01, 0.02, 0.025, 0.17, 10), 0.08))
    shade_ops.append((*_ellipse(nx, nose_tip - 0.02, 0.04, 0.03, 10), 0.08))
    if ex.nose_wrinkle > 0.1:
        c = _mix(skin, dark_skin, 0.75 * ex.nose_wrinkle)
        for k, wy in enumerate((eye_y + 0.03, eye_y + 0.08, eye_y + 0.13)):
            ww = 0.07 - 0.01 * k
            wu = np.linspace(-ww, ww, 7)
            pen.line(layer, nx * 0.6 + wu, wy - 0.02 * (1 - (wu / ww) ** 2), c, 0.01)
        for sgn in (-1, 1):
            pen.line(
                layer,
                np.array([sgn * 0.07, sgn * 0.13]) + nx * 0.6,
                np.array([eye_y + 0.02, eye_y + 0.07]),
                c,
                0.009,
            )

    # --- mouth
    mx, my = yaw * 1.2, 0.52
    hw = 0.24 * ex.mouth_w * (a / 0.78) ** 0.5
    t = np.linspace(-1, 1, 25)
    mu = mx + hw * t
    line = my - ex.mouth_curve * t**2 + 0.006 * (1 - t**2)
    prof = _profile(t, ex.mouth_round)
    top_inner = line - ex.mouth_open * ex.open_top * prof
    bottom_inner = line + ex.mouth_open * (1 - ex.open_top) * prof
    if ex.lip_raise > 0:
        raise_w = np.exp(-(((t - 0.35 * spec.side) / 0.45) ** 2)) * (1 - np.abs(t) ** 4)
        top_inner = top_inner - ex.lip_raise * raise_w
    bow = 1.0 - 0.35 * np.exp(-((t / 0.14) ** 2))
    top_outer = top_inner - 0.05 * ex.lip_thick * np.clip(1 - t**2, 0, 1) ** 0.55 * bow
    bottom_outer = (
        bottom_inner + (0.062 * ex.lip_thick - 0.01 * ex.chin_raise) * np.clip(1 - t**2, 0, 1) ** 0.6
    )
    bottom_outer = bottom_outer - 0.015 * ex.chin_raise * (1 - t**2)
    lip_col = _mix(_scale(skin, 0.86), (186, 86, 92), 0.25 + 0.45 * spec.lip_tint)
    fold_col = _mix(skin, dark_skin, 0.55 * min(1.0, ex.fold))
    if ex.fold > 0.05:
        for sgn in (-1, 1):
            fu2, fv2 = _bezier(
                (nx + sgn * 0.12, nose_tip - 0.01),
                (mx + sgn * (hw + 0.1), my - 0.2),
                (mx + sgn * (hw + 0.045), my + 0.04 - ex.mouth_curve),
                10,
            )
            pen.line(layer, fu2, fv2, fold_col, 0.008 + 0.008 * min(1.0, ex.fold))
    if ex.chin_raise > 0.1:
        cu_, cv_ = _ellipse(mx, my + 0.21, 0.1, 0.035, 12, math.pi * 1.1, math.pi * 1.9)
        pen.line(layer, cu_, cv_, _mix(skin, dark_skin, 0.35 * ex.chin_raise), 0.01)
    pen.fill(layer, np.concatenate([mu, mu[::-1]]), np.concatenate([top_outer, bottom_outer[::-1]]), lip_col)
    gap = np.max(bottom_inner - top_inner) * s
    if gap > 1.2:
        pen.fill(
            layer,
            np.concatenate([mu, mu[::-1]]),
            np.concatenate([top_inner, bottom_inner[::-1]]),
            (62, 20, 26),
        )
        teeth = (238, 234, 222)
        tooth_h = 0.05
        inside = np.abs(t) < 0.86
        if ex.upper_teeth > 0.05:
            tu, ti, bi = mu[inside], top_inner[inside], bottom_inner[inside]
            tb = np.minimum(ti + tooth_h * ex.upper_teeth, bi)
            pen.fill(layer, np.concatenate([tu, tu[::-1]]), np.concatenate([ti, tb[::-1]]), teeth)
        if ex.lower_teeth > 0.05:
            tu, ti, bi = mu[inside], top_inner[inside], bottom_inner[inside]
            tt = np.maximum(bi - tooth_h * 0.8 * ex.lower_teeth, ti)
            pen.fill(layer, np.concatenate([tu, tu[::-1]]), np.concatenate([tt, bi[::-1]]), teeth)
        pen.line(
            layer,
            np.concatenate([mu, mu[::-1]]),
            np.concatenate([top_inner, bottom_inner[::-1]]),
            _scale(lip_col, 0.55),
            0.008,
            closed=True,
        )
    else:
        pen.line(layer, mu, (top_inner + bottom_inner) / 2, _scale(lip_col, 0.45), 0.014)
    shade_ops.append((*_ellipse(mx, my + 0.13, 0.12, 0.04, 12), -0.12))
    if ex.cheek > 0.05:
        for sgn in (-1, 1):
            shade_ops.append((*_ellipse(sgn * 0.36 * a / 0.78 + yaw, 0.2, 0.13, 0.09, 12), 0.09 * ex.cheek))

    # --- hair in front
    style = spec.hair_style
    if style != "bald":
        hairline = {"short": -0.64, "fringe": -0.44, "long": -0.6, "curly": -0.62}[style]
        temple = {"short": -0.22, "fringe": -0.2, "long": 0.05, "curly": -0.15}[style]
        grow = {"short": 0.07, "fringe": 0.08, "long": 0.1, "curly": 0.16}[style]
        hu3, hv3 = _hair_cap(a, hairline + 0.04 * rng.uniform(-1, 1), temple, grow)
        pen.fill(layer, hu3, hv3, hair)
        pen.fill(mask, hu3, hv3, 255, aa=False)
        if style == "curly":
            for ang in np.linspace(math.pi + 0.2, 2 * math.pi - 0.2, 11):
                r = 0.1 + 0.04 * rng.random()
                cu2, cv2_ = _ellipse((a + 0.1) * math.cos(ang), (1.08) * math.sin(ang), r, r, 10)
                pen.fill(layer, cu2, cv2_, hair)
                pen.fill(mask, cu2, cv2_, 255, aa=False)
        strand = _mix(hair, (255, 255, 255), 0.15) if sum(hair) < 200 else _scale(hair, 0.8)
        for _ in range(6):
            ang = rng.uniform(math.pi + 0.4, 2 * math.pi - 0.4)
            r0, r1 = 0.95 + grow * 0.5, 0.7
            pen.line(
                layer,
                np.array([a * r0 * math.cos(ang), a * r1 * math.cos(ang + 0.15)]),
                np.array([r0 * math.sin(ang), (r1 + 0.05) * math.sin(ang + 0.15)]),
                strand,
                0.008,
            )
        shade_ops.append((*_ellipse(0.0, hairline + 0.06, a * 0.8, 0.06, 16), -0.1))

    if spec.glasses:
        frame = (30, 30, 34)
        for sgn in (-1, 1):
            gu, gv = _ellipse(sgn * eye_x + yaw, eye_y + 0.01, ew + 0.05, 0.1, 20)
            pen.line(layer, gu, gv, frame, 0.016, closed=True)
            pen.line(
                layer,
                np.array([sgn * (eye_x + ew + 0.05), sgn * a * 0.98]) + yaw,
                np.array([eye_y - 0.01, eye_y - 0.04]),
                frame,
                0.014,
            )
        pen.line(
            layer,
            np.array([-eye_x + ew + 0.05, eye_x - ew - 0.05]) + yaw,
            np.array([eye_y - 0.02] * 2),
            frame,
            0.014,
        )

    # chin shadow on the neck
    shade_ops.append((*_ellipse(0.0, 0.98, 0.45 * a / 0.78, 0.16, 16), -0.35))

    # --- shading, computed at low resolution (it is smooth) and applied inside the head mask
    ph, pw = layer.shape[:2]
    q = 4 if s >= 24 else (2 if s >= 10 else 1)
    sh, sw = -(-ph // q), -(-pw // q)
    dmap = np.zeros((sh, sw), np.float32)
    lpen = _Pen(spec, x0, y0, scale=1.0 / q)
    for uu, vv, val in shade_ops:
        lpen.fill(dmap, uu, vv, float(val), aa=False)
    sigma = max(0.6, 0.06 * lpen.s)
    dmap = cv2.GaussianBlur(dmap, (0, 0), sigma)
    gx = np.arange(sw, dtype=np.float32) - lpen.cx
    gy = np.arange(sh, dtype=np.float32) - lpen.cy
    u = (lpen.cos * gx[None, :] - lpen.sin * gy[:, None]) / lpen.s
    v = (lpen.sin * gx[None, :] + lpen.cos * gy[:, None]) / lpen.s
    r2 = np.minimum((u / a) ** 2 + (v * 0.95) ** 2, 1.4)
    lx, ly = math.cos(spec.light_angle), math.sin(spec.light_angle)
    shade = 1.1 - 0.28 * r2 + dmap - 0.22 * spec.light_strength * np.clip(u * lx + v * ly, -1.3, 1.3)
    shade = cv2.resize(shade, (sw * q, sh * q), interpolation=cv2.INTER_LINEAR)[:ph, :pw]
    m = mask.astype(np.float32) * (1.0 / 255.0)
    gain = 1.0 + m * (shade - 1.0)
    patch[...] = cv2.multiply(layer, cv2.merge([gain, gain, gain]), dtype=cv2.CV_8U)


# ---------------------------------------------------------------------------------------- sampling


def random_face_spec(
    rng: np.random.Generator,
    emotion: str,
    frame_shape: tuple[int, int],
    look: Look | str = "stock",
    *,
    center: tuple[float, float] | None = None,
    size: float | None = None,
    intensity: float | None = None,
) -> FaceSpec:
    """Draw a random person showing ``emotion`` for a frame of ``frame_shape = (height, width)``.

    ``center``, ``size`` and ``intensity`` override the look's ranges (films place and animate faces
    themselves); otherwise the face is placed fully inside the frame.
    """
    look = get_look(look)
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; allowed: {', '.join(EMOTIONS)}")
    fh, fw = int(frame_shape[0]), int(frame_shape[1])
    aspect = float(rng.uniform(0.7, 0.86))
    jaw = float(rng.uniform(0.0, 1.0))
    rotation = float(rng.uniform(-look.max_rotation, look.max_rotation))
    if size is None:
        size = float(rng.uniform(*look.face_size)) * min(fh, fw)
    if center is None:
        if look.centred:
            j = look.jitter * size
            center = (fw / 2 + rng.uniform(-j, j), fh / 2 - 0.03 * size + rng.uniform(-j, j))
        else:
            probe = FaceSpec(emotion, size=size, aspect=aspect, rotation=rotation)
            _, _, bw, bh = face_box(probe)
            mx, my = bw / 2 + 0.02 * size, bh / 2 + 0.02 * size
            center = (
                float(rng.uniform(min(mx, fw / 2), max(fw - mx, fw / 2))),
                float(rng.uniform(min(my, fh / 2), max(fh - my, fh / 2))),
            )
    tone_pos = rng.uniform(0, len(SKIN_TONES) - 1)
    k = int(min(tone_pos, len(SKIN_TONES) - 2))
    skin = _mix(SKIN_TONES[k], SKIN_TONES[k + 1], tone_pos - k)
    skin = _scale(skin, rng.uniform(0.94, 1.05))
    hair_colour = HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))]
    hair_colour = _scale(hair_colour, rng.uniform(0.85, 1.15))
    if intensity is None:
        intensity = float(rng.uniform(*look.intensity))
    return FaceSpec(
        emotion=emotion,
        intensity=float(np.clip(intensity, 0.0, 1.0)),
        center=(float(center[0]), float(center[1])),
        size=float(size),
        aspect=aspect,
        jaw=jaw,
        rotation=rotation,
        yaw=float(rng.uniform(-look.max_yaw, look.max_yaw)),
        skin=skin,
        hair_style=look.hair_styles[int(rng.integers(len(look.hair_styles)))],
        hair_colour=hair_colour,
        eye_colour=EYE_COLOURS[int(rng.integers(len(EYE_COLOURS)))],
        lip_tint=float(rng.uniform(0.0, 1.0)),
        clothing=tuple(int(c) for c in rng.integers(20, 236, 3)),  # type: ignore[arg-type]
        light_angle=float(rng.uniform(-math.pi, math.pi)),
        light_strength=float(rng.uniform(0.2, 0.8)),
        gaze=(float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.3, 0.3))),
        variant=int(rng.integers(VARIANTS[emotion])),
        side=1 if rng.random() < 0.5 else -1,
        glasses=bool(rng.random() < look.glasses),
        stroke=look.stroke,
        detail_seed=int(rng.integers(2**31)),
    )


# ------------------------------------------------------------------------------------- backgrounds


def _muted(
    rng: np.random.Generator, n: int, lo: int = 30, hi: int = 235, sat: tuple[float, float] = (0.15, 0.8)
):
    """``n`` random colours pulled towards their grey, like real rooms and backdrops."""
    col = rng.integers(lo, hi, (n, 3)).astype(np.float32)
    k = rng.uniform(*sat, (n, 1)).astype(np.float32)
    return col * k + col.mean(axis=1, keepdims=True) * (1 - k)


def render_background(rng: np.random.Generator, height: int, width: int, clutter: float) -> np.ndarray:
    """A plausible backdrop (RGB uint8): a smooth, muted colour gradient or (one time in four) a light
    studio backdrop, a blotchy texture and, with ``clutter`` in [0, 1], random shapes (frames, shelves,
    lamps, stripes) softened by a depth-of-field blur.
    """
    studio = rng.random() < 0.25
    if studio:
        base = _muted(rng, 4, 170, 250, (0.0, 0.3)).reshape(2, 2, 3)
        clutter *= 0.3
    else:
        base = _muted(rng, 4).reshape(2, 2, 3)
    img = cv2.resize(base.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)
    if clutter > 0:
        tex = _muted(rng, int(rng.integers(3, 9)) * 6).reshape(-1, 6, 3).astype(np.uint8)
        tex = cv2.resize(tex, (width, height), interpolation=cv2.INTER_CUBIC)
        img = cv2.addWeighted(img, 1.0 - 0.3 * clutter, tex, 0.3 * clutter, 0.0)
    n_shapes = int(round(clutter * rng.uniform(4, 14)))
    diag = math.hypot(width, height)
    colours = _muted(rng, n_shapes, 0, 256, (0.2, 1.0))
    for colour_f in colours:
        colour = tuple(int(c) for c in colour_f)
        kind = rng.integers(5)
        x, y = int(rng.integers(width)), int(rng.integers(height))
        if kind == 0:  # rectangle (frame, window, box)
            w, h = int(rng.uniform(0.05, 0.4) * width), int(rng.uniform(0.05, 0.4) * height)
            thick = -1 if rng.random() < 0.6 else int(rng.integers(2, 8))
            cv2.rectangle(img, (x, y), (x + w, y + h), colour, thick, cv2.LINE_AA)
        elif kind == 1:  # disc / lamp / plant pot
            r = int(rng.uniform(0.02, 0.12) * diag)
            cv2.circle(img, (x, y), r, colour, -1 if rng.random() < 0.7 else 3, cv2.LINE_AA)
        elif kind == 2:  # long lines (shelves, door frames)
            x2, y2 = int(rng.integers(width)), int(rng.integers(height))
            cv2.line(img, (x, y), (x2, y2), colour, int(rng.integers(1, 10)), cv2.LINE_AA)
        elif kind == 3:  # irregular polygon (furniture, foliage)
            pts = np.stack([x + rng.normal(0, 0.08 * width, 6), y + rng.normal(0, 0.08 * height, 6)], axis=1)
            cv2.fillPoly(img, [pts.astype(np.int32)], colour, cv2.LINE_AA)
        else:  # stripes (wallpaper, blinds)
            step = int(rng.integers(8, 30))
            vertical = rng.random() < 0.5
            w, h = int(rng.uniform(0.2, 0.6) * width), int(rng.uniform(0.2, 0.6) * height)
            for k in range(0, w if vertical else h, step):
                if vertical:
                    cv2.line(img, (x + k, y), (x + k, y + h), colour, max(1, step // 3))
                else:
                    cv2.line(img, (x, y + k), (x + w, y + k), colour, max(1, step // 3))
    if clutter > 0 and rng.random() < 0.7:  # depth of field
        k = 2 * int(rng.integers(1, 4)) + 1
        img = cv2.GaussianBlur(img, (k, k), 0)
    return img


# ---------------------------------------------------------------------------------------- pictures


@dataclass(frozen=True)
class Scene:
    """A rendered picture with the specs of the faces on it (ground truth for tests and films)."""

    image: np.ndarray
    faces: tuple[FaceSpec, ...]


def _head_box(cx: float, cy: float, size: float) -> tuple[float, float, float, float]:
    """Box around a head with hair (x0, y0, x1, y1), used to keep faces apart."""
    return cx - 0.62 * size, cy - 0.7 * size, cx + 0.62 * size, cy + 0.62 * size


def _place_faces(
    rng: np.random.Generator, n: int, fh: int, fw: int, look: Look
) -> list[tuple[float, float, float]]:
    """Sizes and centres for ``n`` faces whose heads (with hair) do not overlap; [] for a single face."""
    if n <= 1:
        return []  # random_face_spec places a single face itself
    shrink = 1.0 / (1.0 + 0.45 * (n - 1))
    for _attempt in range(10):
        placed: list[tuple[float, float, float]] = []
        for _ in range(n):
            size = float(rng.uniform(*look.face_size)) * min(fh, fw) * shrink
            for _try in range(40):
                cx = float(rng.uniform(0.62 * size, max(0.62 * size + 1, fw - 0.62 * size)))
                cy = float(rng.uniform(0.7 * size, max(0.7 * size + 1, fh - 0.62 * size)))
                a = _head_box(cx, cy, size)
                if all(
                    a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
                    for b in (_head_box(*p) for p in placed)
                ):
                    placed.append((cx, cy, size))
                    break
            else:
                break
        if len(placed) == n:
            return placed
        shrink *= 0.8
    raise RuntimeError(f"could not place {n} faces on a {fw}x{fh} frame")


def render_scene(rng: np.random.Generator, emotions: Sequence[str], look: Look | str = "stock") -> Scene:
    """Render one picture in ``look`` showing one face per entry of ``emotions`` (none = empty scene).

    Several faces never overlap; they are drawn back (higher in the frame) to front. Grey looks return
    an RGB image with three equal channels, so every caller handles one array layout.
    """
    look = get_look(look)
    for e in emotions:
        if e not in EMOTIONS:
            raise ValueError(f"unknown emotion {e!r}; allowed: {', '.join(EMOTIONS)}")
    fw = int(rng.integers(look.width[0], look.width[1] + 1))
    fh = int(rng.integers(look.height[0], look.height[1] + 1))
    k = look.supersample
    rh, rw = fh * k, fw * k
    clutter = float(rng.uniform(*look.clutter))
    img = render_background(rng, rh, rw, clutter)
    places = _place_faces(rng, len(emotions), rh, rw, look)
    specs = []
    for i, emotion in enumerate(emotions):
        if places:
            cx, cy, size = places[i]
            specs.append(random_face_spec(rng, emotion, (rh, rw), look, center=(cx, cy), size=size))
        else:
            specs.append(random_face_spec(rng, emotion, (rh, rw), look))
    for spec in sorted(specs, key=lambda sp: sp.center[1]):
        draw_face(img, spec)
    img = _photo_finish(rng, img, look)
    if k > 1:
        img = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA)
        specs = [replace(sp, center=(sp.center[0] / k, sp.center[1] / k), size=sp.size / k) for sp in specs]
    return Scene(img, tuple(specs))


def render_photo(rng: np.random.Generator, emotions: Sequence[str], look: Look | str = "stock") -> np.ndarray:
    """Like :func:`render_scene` but only the RGB uint8 image."""
    return render_scene(rng, emotions, look).image


def _normal_quantiles(n: int = 256) -> np.ndarray:
    """Standard-normal quantiles at (i + 0.5) / n: turns uniform random bytes into Gaussian noise fast."""
    out = np.empty(n, np.float32)
    for i in range(n):
        p, lo, hi = (i + 0.5) / n, -6.0, 6.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
                lo = mid
            else:
                hi = mid
        out[i] = (lo + hi) / 2
    return out


_GAUSS_LUT = _normal_quantiles()


def _photo_finish(rng: np.random.Generator, img: np.ndarray, look: Look) -> np.ndarray:
    """Camera and light: exposure, contrast, a light gradient, colour cast, sensor noise, grey if asked.

    Works on the (H, W*3) view with separable factors: the whole pass costs about a millisecond.
    """
    h, w = img.shape[:2]
    strength = look.lighting
    gain = 1.0 + strength * rng.uniform(-0.2, 0.15)
    contrast = 1.0 + strength * rng.uniform(-0.2, 0.15)
    ang = rng.uniform(0, 2 * math.pi)
    ramp = strength * rng.uniform(0.0, 0.3)
    cast = 1.0 + strength * rng.uniform(-0.06, 0.06, 3)
    sigma = float(rng.uniform(*look.noise))
    xs = 1.0 + np.linspace(-0.5, 0.5, w) * (ramp * math.cos(ang))
    ys = 1.0 + np.linspace(-0.5, 0.5, h, dtype=np.float32) * (ramp * math.sin(ang))
    channels = 1 if look.grey else 3
    if look.grey:
        src = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        cols = (xs * (gain * contrast)).astype(np.float32)
    else:
        src = img.reshape(h, w * 3)
        cols = np.outer(xs, cast * (gain * contrast)).astype(np.float32).reshape(-1)
    out = np.multiply.outer(ys, cols)
    out *= src
    noise = np.frombuffer(rng.bytes(h * w * channels), np.uint8).reshape(h, w * channels)
    out += cv2.LUT(noise, _GAUSS_LUT * sigma + 128.0 * (1.0 - contrast))
    np.clip(out, 0, 255, out=out)
    out8 = out.astype(np.uint8)
    if look.grey:
        return cv2.cvtColor(out8, cv2.COLOR_GRAY2RGB)
    return out8.reshape(h, w, 3)
