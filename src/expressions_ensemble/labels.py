"""The one home of emotion labels: the canonical classes and every dataset's label map.

Every other module names emotions through this file, so that "anger", "Anger", FER2013's 0 and
RAF-DB's 6 all become the same canonical ``"angry"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Canonical emotions, in the order used for probability columns everywhere.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: The study's ensemble classes (it dropped disgust and neutral).
STUDY_CLASSES: tuple[str, ...] = ("angry", "fear", "happy", "sad", "surprise")

#: Names used by datasets and people for the canonical emotions (lower-cased keys).
_ALIASES: dict[str, str] = {
    "angry": "angry",
    "anger": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
}

#: FER2013 (Kaggle CSV ``emotion`` column).
FER2013_INDEX: dict[int, str] = {
    0: "angry",
    1: "disgust",
    2: "fear",
    3: "happy",
    4: "sad",
    5: "surprise",
    6: "neutral",
}

#: RAF-DB basic expressions (``EmoLabel/list_patition_label.txt``).
RAFDB_INDEX: dict[int, str] = {
    1: "surprise",
    2: "fear",
    3: "disgust",
    4: "happy",
    5: "sad",
    6: "angry",
    7: "neutral",
}

#: Aff-Wild2 expression annotation header (older releases lack ``Other``); index = column position.
AFFWILD2_HEADER: tuple[str, ...] = (
    "Neutral",
    "Anger",
    "Disgust",
    "Fear",
    "Happiness",
    "Sadness",
    "Surprise",
    "Other",
)


class UnknownLabelError(ValueError):
    """A label name that no map knows."""


def normalise_label(name: object, aliases: Mapping[str, str] | None = None) -> str | None:
    """Map any spelling of an emotion to its canonical name, or ``None`` when it is not one of ours.

    ``aliases`` (from :func:`validate_label_aliases`) are a source's own words, looked up first, so a
    search's typo (``surpirse``) can mean an emotion without teaching every source that spelling.
    ``None`` (rather than an exception) lets callers record an ``unknown_label`` outcome per row
    instead of dropping the row.
    """
    if name is None:
        return None
    key = str(name).strip().lower()
    if aliases:
        key = aliases.get(key, key)
    return _ALIASES.get(key)


def validate_label_aliases(aliases: object, key: str = "label_aliases") -> dict[str, str]:
    """A source's ``{word: emotion}`` aliases, lower-cased, each value canonicalised; errors name
    ``key.<word>`` and the allowed emotions, because a wrong alias silently relabels photos."""
    if aliases is None:
        return {}
    if not isinstance(aliases, Mapping):
        raise ValueError(f"{key}: expected a mapping of word to emotion, got {aliases!r}")
    out: dict[str, str] = {}
    for word, emotion in aliases.items():
        where = f"{key}.{word}"
        name = str(word).strip().lower()
        if not name:
            raise ValueError(f"{key}: an alias word may not be empty")
        if name in out:
            raise ValueError(f"{where}: the word {name!r} is listed twice (aliases ignore case)")
        label = normalise_label(emotion)
        if label is None:
            raise UnknownLabelError(f"{where}: unknown emotion {emotion!r}; allowed: {', '.join(EMOTIONS)}")
        out[name] = label
    return out


def require_label(name: object) -> str:
    """Like :func:`normalise_label` but raise with the allowed values when the name is unknown."""
    label = normalise_label(name)
    if label is None:
        raise UnknownLabelError(
            f"Unknown emotion label {name!r}; allowed: {', '.join(EMOTIONS)} "
            f"(or an alias: {', '.join(sorted(set(_ALIASES) - set(EMOTIONS)))})"
        )
    return label


def validate_classes(classes: Iterable[str], key: str = "classes") -> tuple[str, ...]:
    """Canonicalise a configured class list; fail naming ``key`` on unknown or repeated names."""
    out: list[str] = []
    for name in classes:
        label = normalise_label(name)
        if label is None:
            raise UnknownLabelError(f"{key}: unknown emotion {name!r}; allowed: {', '.join(EMOTIONS)}")
        if label in out:
            raise ValueError(f"{key}: emotion {label!r} is listed twice")
        out.append(label)
    if not out:
        raise ValueError(f"{key}: at least one emotion is required; allowed: {', '.join(EMOTIONS)}")
    return tuple(out)


def map_index(index: int, mapping: Mapping[int, str], dataset: str) -> str:
    """Map a dataset's integer label, failing with the dataset's valid range."""
    try:
        return mapping[int(index)]
    except (KeyError, ValueError, TypeError):
        raise UnknownLabelError(f"{dataset}: label {index!r} is outside the map {dict(mapping)}") from None


def prob_column(emotion: str) -> str:
    """Name of the probability column for an emotion (the study's ``prob_<emotion>``)."""
    return f"prob_{emotion}"
