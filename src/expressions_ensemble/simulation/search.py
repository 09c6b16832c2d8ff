"""An offline stand-in for a stock-photo search service, noisy the way real keyword search is.

:class:`SimulatedStockService` answers keyword searches with pages of :class:`SimulatedPhoto`. It knows
the study's two keyword strategies through :data:`LEXICON` (v1: one keyword per emotion, v2: three
adjectives per emotion) and returns, per keyword, a finite list of photos in which

* a keyword-dependent share (:data:`DEFAULT_NOISE`) shows another expression than the keyword, drawn from
  plausible neighbours (:data:`CONFUSIONS`: fear↔surprise, sad↔neutral, angry↔disgust, ...);
* some photos show no face and some several faces;
* a shared pool of photos recurs across keywords and pages (same id, same bytes), as stock libraries
  return one photo for "angry", "mad" and "irate".

Everything is a pure function of ``(seed, keyword, position)``: the result list of a keyword does not
depend on the page size, and :meth:`SimulatedPhoto.fetch` renders the same JPEG bytes for the same id
every time, lazily. Query text the lexicon does not know gets a *generic* mixed result set: fewer photos
(``generic_results``), every expression equally likely, deterministic by the normalised text.

:func:`render_lab_dataset` is the separate benchmark-look generator: posed grey 48×48 crops (FER2013
style), balanced per class.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from expressions_ensemble.labels import EMOTIONS, normalise_label, require_label
from expressions_ensemble.simulation.render import Look, get_look, render_scene

#: v1 strategy: one keyword per emotion (queried as ``"{keyword} face"``).
KEYWORDS_V1: dict[str, str] = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "sad": "sad",
    "surprise": "surprised",
    "neutral": "neutral",
}

#: v2 strategy: several adjectives per emotion.
KEYWORDS_V2: dict[str, tuple[str, ...]] = {
    "angry": ("angry", "mad", "irate"),
    "disgust": ("disgusted", "gross", "repulsed"),
    "fear": ("fear", "afraid", "scared"),
    "happy": ("happy", "smiling", "joyful"),
    "sad": ("sad", "crying", "unhappy"),
    "surprise": ("surprised", "shocked", "astonished"),
    "neutral": ("neutral", "calm", "expressionless"),
}

#: Every keyword the service understands -> the canonical emotion it stands for.
LEXICON: dict[str, str] = {
    **{kw: e for e, kw in KEYWORDS_V1.items()},
    **{kw: e for e, kws in KEYWORDS_V2.items() for kw in kws},
}

#: Share of a keyword's face photos whose (main) face shows another expression. Vague or rarer words
#: ("fear", "irate", "calm", "gross") are noisier than clear ones ("smiling").
DEFAULT_NOISE: dict[str, float] = {
    "angry": 0.15,
    "mad": 0.25,
    "irate": 0.35,
    "disgust": 0.3,
    "disgusted": 0.25,
    "gross": 0.35,
    "repulsed": 0.3,
    "fear": 0.35,
    "afraid": 0.3,
    "scared": 0.25,
    "happy": 0.1,
    "smiling": 0.08,
    "joyful": 0.15,
    "sad": 0.2,
    "crying": 0.15,
    "unhappy": 0.25,
    "surprised": 0.15,
    "shocked": 0.2,
    "astonished": 0.22,
    "neutral": 0.3,
    "calm": 0.35,
    "expressionless": 0.25,
}

#: Where off-target photos come from: intended emotion -> {expression actually shown: weight}.
CONFUSIONS: dict[str, dict[str, float]] = {
    "angry": {"disgust": 0.45, "neutral": 0.25, "sad": 0.15, "fear": 0.15},
    "disgust": {"angry": 0.45, "sad": 0.2, "neutral": 0.2, "surprise": 0.15},
    "fear": {"surprise": 0.55, "sad": 0.2, "neutral": 0.15, "angry": 0.1},
    "happy": {"neutral": 0.5, "surprise": 0.35, "sad": 0.15},
    "sad": {"neutral": 0.5, "fear": 0.2, "angry": 0.15, "disgust": 0.15},
    "surprise": {"fear": 0.5, "happy": 0.3, "neutral": 0.2},
    "neutral": {"sad": 0.45, "happy": 0.3, "angry": 0.25},
}

#: Words a query may contain besides its keyword ("angry face", "scared person").
_FILLER = frozenset((
    "a", "an", "the", "of", "and", "with", "face", "faces", "facial", "person", "people", "portrait",
    "portraits", "man", "men", "woman", "women", "child", "kid", "kids", "girl", "boy", "expression",
    "expressions", "emotion", "emotions", "photo", "photos", "picture", "closeup", "look", "looking",
))  # fmt: skip

_GENERIC_TAGS = (
    "portrait", "face", "person", "people", "emotion", "expression", "closeup", "studio",
    "woman", "man", "adult", "young", "senior", "lifestyle", "headshot",
)  # fmt: skip

_PHOTOGRAPHERS = (
    "Ana Ribeiro", "Tomasz Nowak", "Keiko Sato", "Samuel Okafor", "Lena Fischer", "Diego Morales",
    "Priya Nair", "Jonas Berg", "Amara Diallo", "Chen Wei", "Olivia Hughes", "Mateo Rossi",
    "Fatima Zahra", "Noah Kim", "Ingrid Larsen", "Rafael Costa",
)  # fmt: skip

#: Largest page a search accepts (like the real services).
MAX_PER_PAGE = 80


def _seed(*parts: object) -> int:
    """A stable 64-bit seed from any parts (``hash()`` is salted per process, this is not)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_seed(*parts))


def _photo_id(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=6).hexdigest()


def query_keyword(text: str) -> str | None:
    """The lexicon keyword a query stands for, or ``None`` (the generic result set).

    The first word found in :data:`LEXICON` wins; otherwise an emotion alias from
    :mod:`expressions_ensemble.labels` ("surprise", "anger", "happiness") maps to that emotion's v1 keyword,
    so "surprise face" and "surprised face" get the same results, as a stemming search engine would.
    """
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _FILLER]
    for word in words:
        if word in LEXICON:
            return word
    for word in words:
        emotion = normalise_label(word)
        if emotion is not None:
            return KEYWORDS_V1[emotion]
    return None


@dataclass(frozen=True)
class SimulatedPhoto:
    """One search result. ``shown`` (the expressions actually drawn, main face first; empty = no face)
    is ground truth for tests and reports only: a pipeline must not use it as a label.
    """

    id: str
    url: str
    tags: tuple[str, ...]
    photographer: str
    shown: tuple[str, ...]
    render_seed: int = field(repr=False, compare=False)
    jpeg_quality: int = field(default=90, repr=False, compare=False)
    look: Look = field(default_factory=lambda: get_look("stock"), repr=False, compare=False)

    def fetch(self) -> bytes:
        """The photo as JPEG bytes, rendered now; the same id always gives identical bytes."""
        image = render_scene(np.random.default_rng(self.render_seed), self.shown, self.look).image
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
        )
        if not ok:  # pragma: no cover - OpenCV failing to encode a valid array
            raise RuntimeError(f"could not encode simulated photo {self.id}")
        return buf.tobytes()


@dataclass(frozen=True)
class SimulatedPage:
    """One page of results; ``keyword`` is the lexicon keyword understood (``None`` = generic set)."""

    results: list[SimulatedPhoto]
    total: int
    has_next: bool
    keyword: str | None = None


class SimulatedStockService:
    """A deterministic, offline stock-photo search service (see the module docstring for the noise model).

    Args:
        seed: everything (which photos, what they show, their bytes) follows from it.
        noise: per-keyword off-target shares overriding :data:`DEFAULT_NOISE`.
        no_face_share: share of photos without any face.
        multi_face_share: share of photos with two or three faces.
        duplicate_share: share of results drawn from the pool shared by all keywords.
        pool_per_emotion: size of the shared pool per shown expression (smaller = more repeats).
        results_range: each keyword has between these many results (drawn per keyword).
        generic_results: number of results for query text the lexicon does not know.
        look: rendering look of the photos (a :class:`Look` or a name in ``LOOKS``).
        jpeg_quality: range of JPEG qualities photos are encoded with.
    """

    def __init__(
        self,
        seed: int,
        *,
        noise: Mapping[str, float] | None = None,
        no_face_share: float = 0.06,
        multi_face_share: float = 0.05,
        duplicate_share: float = 0.15,
        pool_per_emotion: int = 40,
        results_range: tuple[int, int] = (120, 300),
        generic_results: int = 60,
        look: Look | str = "stock",
        jpeg_quality: tuple[int, int] = (78, 95),
    ) -> None:
        self.seed = int(seed)
        self.noise = dict(DEFAULT_NOISE)
        for kw, share in (noise or {}).items():
            if kw not in LEXICON:
                raise ValueError(f"noise: unknown keyword {kw!r}; allowed: {', '.join(sorted(LEXICON))}")
            self.noise[kw] = float(share)
        shares = {
            **{f"noise.{k}": v for k, v in self.noise.items()},
            "no_face_share": no_face_share,
            "multi_face_share": multi_face_share,
            "duplicate_share": duplicate_share,
        }
        for name, share in shares.items():
            if not 0.0 <= float(share) <= 1.0:
                raise ValueError(f"{name} must lie within [0, 1], got {share!r}")
        if no_face_share + multi_face_share > 1.0:
            raise ValueError("no_face_share + multi_face_share must not exceed 1")
        lo, hi = results_range
        if not 1 <= int(lo) <= int(hi):
            raise ValueError(
                f"results_range must be an ordered (low, high) with low >= 1, got {results_range!r}"
            )
        if int(pool_per_emotion) < 1 or int(generic_results) < 1:
            raise ValueError("pool_per_emotion and generic_results must be at least 1")
        if not 1 <= jpeg_quality[0] <= jpeg_quality[1] <= 100:
            raise ValueError(f"jpeg_quality must be an ordered range within [1, 100], got {jpeg_quality!r}")
        self.no_face_share = float(no_face_share)
        self.multi_face_share = float(multi_face_share)
        self.duplicate_share = float(duplicate_share)
        self.pool_per_emotion = int(pool_per_emotion)
        self.results_range = (int(lo), int(hi))
        self.generic_results = int(generic_results)
        self.look = get_look(look)
        self.jpeg_quality = (int(jpeg_quality[0]), int(jpeg_quality[1]))
        self._lists: dict[str, tuple[SimulatedPhoto, ...]] = {}
        self._pool: dict[tuple[str, int], SimulatedPhoto] = {}

    # ----------------------------------------------------------------------------------------- search

    def search(self, text: str, page: int = 1, per_page: int = 30) -> SimulatedPage:
        """Page ``page`` (1-based) of the results for ``text``; pages past the end are empty."""
        if not re.search(r"[a-z]", str(text).lower()):
            raise ValueError(f"search text must contain a word, got {text!r}")
        if int(page) < 1:
            raise ValueError(f"page must be at least 1, got {page!r}")
        if not 1 <= int(per_page) <= MAX_PER_PAGE:
            raise ValueError(f"per_page must lie within [1, {MAX_PER_PAGE}], got {per_page!r}")
        keyword = query_keyword(text)
        results = self._results(keyword, text)
        start = (int(page) - 1) * int(per_page)
        return SimulatedPage(
            results=list(results[start : start + int(per_page)]),
            total=len(results),
            has_next=start + int(per_page) < len(results),
            keyword=keyword,
        )

    def _results(self, keyword: str | None, text: str) -> tuple[SimulatedPhoto, ...]:
        key = keyword if keyword is not None else "generic:" + " ".join(re.findall(r"[a-z]+", text.lower()))
        cached = self._lists.get(key)
        if cached is None:
            cached = self._lists[key] = self._build(key, keyword)
        return cached

    def _build(self, key: str, keyword: str | None) -> tuple[SimulatedPhoto, ...]:
        if keyword is None:
            total = self.generic_results
        else:
            total = int(
                _rng(self.seed, "total", key).integers(self.results_range[0], self.results_range[1] + 1)
            )
        target = LEXICON.get(keyword or "")
        noise = self.noise.get(keyword or "", 0.0)
        out = []
        for j in range(total):
            rng = _rng(self.seed, "slot", key, j)
            if target is None:
                shown = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
            elif rng.random() < noise:
                options = CONFUSIONS[target]
                p = np.array(list(options.values()))
                shown = list(options)[int(rng.choice(len(options), p=p / p.sum()))]
            else:
                shown = target
            if rng.random() < self.duplicate_share:
                out.append(self._pool_photo(shown, int(rng.integers(self.pool_per_emotion))))
            else:
                tags = (keyword,) if keyword else tuple(key.split(":", 1)[1].split())
                out.append(self._make_photo(_photo_id(self.seed, "photo", key, j), shown, tags))
        return tuple(out)

    def _pool_photo(self, emotion: str, index: int) -> SimulatedPhoto:
        photo = self._pool.get((emotion, index))
        if photo is None:
            words = tuple(kw for kw, e in LEXICON.items() if e == emotion)
            photo = self._make_photo(_photo_id(self.seed, "pool", emotion, index), emotion, words)
            self._pool[(emotion, index)] = photo
        return photo

    def _make_photo(self, photo_id: str, main: str, keywords: tuple[str, ...]) -> SimulatedPhoto:
        """A photo whose content follows from its id alone (same id -> same faces, same bytes)."""
        rng = _rng(self.seed, "content", photo_id)
        r = rng.random()
        if r < self.no_face_share:
            shown: tuple[str, ...] = ()
        elif r < self.no_face_share + self.multi_face_share:
            extra = [main if rng.random() < 0.5 else EMOTIONS[int(rng.integers(len(EMOTIONS)))]]
            if rng.random() < 0.4:
                extra.append(EMOTIONS[int(rng.integers(len(EMOTIONS)))])
            shown = (main, *extra)
        else:
            shown = (main,)
        n_generic = int(rng.integers(2, 6))
        generic = tuple(
            _GENERIC_TAGS[i] for i in sorted(rng.choice(len(_GENERIC_TAGS), n_generic, replace=False))
        )
        return SimulatedPhoto(
            id=photo_id,
            url=f"sim://stock/photo/{photo_id}",
            tags=tuple(dict.fromkeys((*keywords, *generic))),
            photographer=_PHOTOGRAPHERS[int(rng.integers(len(_PHOTOGRAPHERS)))],
            shown=shown,
            render_seed=int(rng.integers(2**63)),
            jpeg_quality=int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1)),
            look=self.look,
        )


# ------------------------------------------------------------------------------------------ lab set


@dataclass(frozen=True)
class LabImage:
    """One posed benchmark-look image: grey 48×48 (single-channel PNG by default)."""

    id: str
    emotion: str
    data: bytes


def render_lab_dataset(
    seed: int, per_class: Mapping[str, int], *, look: Look | str = "lab", fmt: str = "png"
) -> Iterator[LabImage]:
    """Yield ``per_class[e]`` posed images of each emotion ``e`` (in the mapping's order).

    Image ``i`` of an emotion depends only on ``(seed, emotion, i)``, so asking for more images per class
    extends a set without changing the images already made. Grey looks are encoded single-channel.
    """
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"fmt must be 'png' or 'jpeg', got {fmt!r}")
    look = get_look(look)
    counts = {}
    for name, n in per_class.items():
        emotion = require_label(name)
        if int(n) < 0:
            raise ValueError(f"per_class.{name} must be >= 0, got {n!r}")
        counts[emotion] = counts.get(emotion, 0) + int(n)
    ext = ".png" if fmt == "png" else ".jpg"
    for emotion, n in counts.items():
        for i in range(n):
            image = render_scene(_rng(seed, "lab", emotion, i), [emotion], look).image
            pixels = image[:, :, 0] if look.grey else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            ok, buf = cv2.imencode(ext, pixels)
            if not ok:  # pragma: no cover
                raise RuntimeError("could not encode a lab image")
            yield LabImage(
                id=f"lab-{_photo_id(seed, 'lab', emotion, i)}", emotion=emotion, data=buf.tobytes()
            )
