import pytest

from expressions_ensemble.labels import (
    AFFWILD2_HEADER,
    EMOTIONS,
    FER2013_INDEX,
    RAFDB_INDEX,
    UnknownLabelError,
    map_index,
    normalise_label,
    require_label,
    validate_classes,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("anger", "angry"),
        ("Happiness", "happy"),
        (" sadness ", "sad"),
        ("surprised", "surprise"),
        ("fear", "fear"),
    ],
)
def test_aliases_map_to_canonical(raw, expected):
    assert normalise_label(raw) == expected


def test_unknown_labels_are_none_or_named_errors():
    assert normalise_label("contempt") is None
    assert normalise_label(None) is None
    with pytest.raises(UnknownLabelError, match=r"contempt.*allowed: angry"):
        require_label("contempt")


def test_dataset_maps_cover_the_canonical_set():
    assert set(FER2013_INDEX.values()) == set(EMOTIONS)
    assert set(RAFDB_INDEX.values()) == set(EMOTIONS)
    assert RAFDB_INDEX[6] == "angry" and FER2013_INDEX[2] == "fear"
    assert {normalise_label(h) for h in AFFWILD2_HEADER[:-1]} == set(EMOTIONS)
    with pytest.raises(UnknownLabelError, match="RAF-DB: label 9"):
        map_index(9, RAFDB_INDEX, "RAF-DB")


def test_validate_classes_names_the_key():
    assert validate_classes(["Anger", "happiness"]) == ("angry", "happy")
    with pytest.raises(UnknownLabelError, match=r"training\.classes: unknown emotion 'bored'"):
        validate_classes(["happy", "bored"], key="training.classes")
    with pytest.raises(ValueError, match="listed twice"):
        validate_classes(["anger", "angry"])
    with pytest.raises(ValueError, match="at least one"):
        validate_classes([])
