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
    validate_label_aliases,
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


def test_label_aliases_come_before_the_label_map():
    aliases = validate_label_aliases({"Surpirse": "surprise", "glad": "happiness", "anger": "sad"}, "k")
    assert aliases == {"surpirse": "surprise", "glad": "happy", "anger": "sad"}
    assert normalise_label(" SURPIRSE ", aliases) == "surprise"
    assert normalise_label("anger", aliases) == "sad"  # a source's own word wins over the shared map
    assert normalise_label("fearful", aliases) == "fear"  # other words still go through the map
    assert normalise_label("surpirse") is None  # the alias is the source's, not everyone's
    assert normalise_label("contempt", aliases) is None
    assert validate_label_aliases(None) == {}


def test_bad_label_aliases_name_the_key_and_the_allowed_emotions():
    key = "ingestion.sources.google_b.label_aliases"
    with pytest.raises(
        UnknownLabelError, match=rf"^{key}\.surpirse: unknown emotion 'suprise'; allowed: angry, "
    ):
        validate_label_aliases({"surpirse": "suprise"}, key)
    with pytest.raises(ValueError, match=rf"^{key}: expected a mapping of word to emotion"):
        validate_label_aliases(["surpirse"], key)
    with pytest.raises(ValueError, match="listed twice"):
        validate_label_aliases({"Mad": "angry", "mad": "angry"}, key)
