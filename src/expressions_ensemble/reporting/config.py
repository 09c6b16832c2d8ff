"""The ``reporting`` parameters, validated once at the boundary into a frozen :class:`ReportConfig`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from expressions_ensemble.labels import validate_classes

#: How the prediction input is laid out (see :func:`reporting.predictions.normalise_predictions`).
LAYOUTS = ("auto", "study", "movie_eval")
#: Kinds of study claims the report checks against the numbers.
CLAIM_KINDS = ("collapse", "highest_entropy", "genre_difference")
DIRECTIONS = ("greater", "less")


class ReportingConfigError(ValueError):
    """A ``reporting`` parameter with a bad value; the message names the key and the allowed values."""


@dataclass(frozen=True)
class Claim:
    """One claim of the study, checked against the metrics (see ``docs/metrics.md``, *Claims*)."""

    kind: str
    text: str
    model: str | None = None
    emotions: tuple[str, ...] = ()
    emotion: str | None = None
    genres: tuple[str, str] | None = None
    direction: str = "greater"
    min_share: float = 0.5


@dataclass(frozen=True)
class ReportConfig:
    """Validated ``reporting`` parameters."""

    title: str = "Expressions Ensemble — emotions in films"
    layout: str = "auto"
    classes: tuple[str, ...] | None = None
    rolling_window_sec: float = 60.0
    min_films_per_genre: int = 2
    n_resamples: int = 10_000
    confidence: float = 0.95
    seed: int = 42
    focus_genres: tuple[str, str] = ("Comedy", "Crime")
    truth_tolerance_sec: float = 0.5
    figure_dpi: int = 80
    timeline_films: tuple[str, ...] | None = None
    claims: tuple[Claim, ...] = field(default_factory=tuple)


_TOP_KEYS = {
    "title",
    "layout",
    "classes",
    "rolling_window_sec",
    "min_films_per_genre",
    "bootstrap",
    "focus_genres",
    "truth_tolerance_sec",
    "figures",
    "claims",
}
_BOOTSTRAP_KEYS = {"n_resamples", "confidence", "seed"}
_FIGURE_KEYS = {"dpi", "timeline_films"}
_CLAIM_KEYS = {"kind", "text", "model", "emotions", "emotion", "genres", "direction", "min_share"}


def _fail(key: str, message: str) -> ReportingConfigError:
    return ReportingConfigError(f"reporting.{key}: {message}")


def _check_keys(params: Mapping[str, Any], allowed: set[str], key: str) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise _fail(key or "<root>", f"unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")


def _number(value: Any, key: str, low: float, high: float, integer: bool = False) -> float:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and int(value) != value):
        raise _fail(key, f"must be {kind} within [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise _fail(key, f"must be {kind} within [{low}, {high}], got {value!r}")
    return int(value) if integer else float(value)


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(key, f"must be a mapping, got {type(value).__name__}")
    return value


def _claim(raw: Any, i: int) -> Claim:
    key = f"claims[{i}]"
    raw = _mapping(raw, key)
    _check_keys(raw, _CLAIM_KEYS, key)
    kind = raw.get("kind")
    if kind not in CLAIM_KINDS:
        raise _fail(f"{key}.kind", f"unknown kind {kind!r}; allowed: {', '.join(CLAIM_KINDS)}")
    model = raw.get("model")
    if kind in ("collapse", "highest_entropy") and not model:
        raise _fail(f"{key}.model", f"a '{kind}' claim names the model it is about")
    emotions: tuple[str, ...] = ()
    if kind == "collapse":
        emotions = validate_classes(raw.get("emotions") or [], key=f"reporting.{key}.emotions")
    emotion = None
    genres = None
    if kind == "genre_difference":
        emotion = validate_classes([raw.get("emotion")], key=f"reporting.{key}.emotion")[0]
        genres = raw.get("genres")
        if not isinstance(genres, Sequence) or isinstance(genres, str) or len(genres) != 2:
            raise _fail(f"{key}.genres", f"must be a list of two genres, got {genres!r}")
        genres = (str(genres[0]), str(genres[1]))
    direction = raw.get("direction", "greater")
    if direction not in DIRECTIONS:
        raise _fail(f"{key}.direction", f"unknown direction {direction!r}; allowed: {', '.join(DIRECTIONS)}")
    min_share = _number(raw.get("min_share", 0.5), f"{key}.min_share", 0.0, 1.0)
    text = str(raw.get("text") or f"{kind} ({model or ''})")
    return Claim(
        kind=kind,
        text=text,
        model=None if model is None else str(model),
        emotions=emotions,
        emotion=emotion,
        genres=genres,
        direction=direction,
        min_share=min_share,
    )


def _films(value: Any, key: str) -> tuple[str, ...] | None:
    if value is None or value == "all":
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail(key, f"must be 'all' or a list of film names, got {value!r}")
    return tuple(str(v) for v in value)


def parse_config(params: Mapping[str, Any] | None) -> ReportConfig:
    """Validate the ``reporting`` parameters; every error names its key and the allowed values."""
    params = _mapping(params, "<root>")
    _check_keys(params, _TOP_KEYS, "")
    defaults = ReportConfig()
    layout = params.get("layout", defaults.layout)
    if layout not in LAYOUTS:
        raise _fail("layout", f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    classes = params.get("classes")
    if classes is not None:
        if isinstance(classes, str) or not isinstance(classes, Sequence):
            raise _fail("classes", f"must be null or a list of emotions, got {classes!r}")
        classes = validate_classes(classes, key="reporting.classes")
        if len(classes) < 2:
            raise _fail("classes", "needs at least two emotions (entropy and kappa compare classes)")
    boot = _mapping(params.get("bootstrap"), "bootstrap")
    _check_keys(boot, _BOOTSTRAP_KEYS, "bootstrap")
    figures = _mapping(params.get("figures"), "figures")
    _check_keys(figures, _FIGURE_KEYS, "figures")
    focus = params.get("focus_genres", list(defaults.focus_genres))
    if isinstance(focus, str) or not isinstance(focus, Sequence) or len(focus) != 2:
        raise _fail("focus_genres", f"must be a list of two genres, got {focus!r}")
    claims = params.get("claims") or []
    if not isinstance(claims, Sequence) or isinstance(claims, str):
        raise _fail("claims", f"must be a list of claims, got {claims!r}")
    return ReportConfig(
        title=str(params.get("title", defaults.title)),
        layout=layout,
        classes=classes,
        rolling_window_sec=_number(
            params.get("rolling_window_sec", defaults.rolling_window_sec), "rolling_window_sec", 1.0, 3600.0
        ),
        min_films_per_genre=_number(
            params.get("min_films_per_genre", defaults.min_films_per_genre),
            "min_films_per_genre",
            2,
            1000,
            True,
        ),
        n_resamples=_number(
            boot.get("n_resamples", defaults.n_resamples), "bootstrap.n_resamples", 100, 100_000, True
        ),
        confidence=_number(boot.get("confidence", defaults.confidence), "bootstrap.confidence", 0.5, 0.999),
        seed=_number(boot.get("seed", defaults.seed), "bootstrap.seed", 0, 2**32 - 1, True),
        focus_genres=(str(focus[0]), str(focus[1])),
        truth_tolerance_sec=_number(
            params.get("truth_tolerance_sec", defaults.truth_tolerance_sec), "truth_tolerance_sec", 0.0, 60.0
        ),
        figure_dpi=_number(figures.get("dpi", defaults.figure_dpi), "figures.dpi", 40, 300, True),
        timeline_films=_films(figures.get("timeline_films", "all"), "figures.timeline_films"),
        claims=tuple(_claim(c, i) for i, c in enumerate(claims)),
    )
