import pytest

from expressions_ensemble.sources import build_source


def _write(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_class_subfolders_give_normalised_labels(tmp_path):
    _write(tmp_path / "anger" / "a.jpg", b"A")
    _write(tmp_path / "happiness" / "b.png", b"B")
    _write(tmp_path / "contempt" / "c.jpg", b"C")
    hits = list(build_source("mine", {"kind": "folder", "path": str(tmp_path)}).hits([]))
    assert [(h.source_id, h.weak_label, h.raw_label) for h in hits] == [
        ("anger/a.jpg", "angry", "anger"),
        ("contempt/c.jpg", None, "contempt"),
        ("happiness/b.png", "happy", "happiness"),
    ]
    assert hits[0].fetch() == b"A"


def test_label_aliases_of_a_folder(tmp_path):
    for word in ("surpirse", "fearful", "contempt"):
        _write(tmp_path / word / "a.jpg")
    params = {"kind": "folder", "path": str(tmp_path), "label_aliases": {"surpirse": "surprise"}}
    hits = list(build_source("web", params).hits([]))
    assert [(h.raw_label, h.weak_label) for h in hits] == [
        ("contempt", None),
        ("fearful", "fear"),
        ("surpirse", "surprise"),
    ]
    with pytest.raises(
        ValueError, match=r"^ingestion\.sources\.web\.label_aliases\.surpirse: unknown emotion"
    ):
        build_source("web", {**params, "label_aliases": {"surpirse": "amazed"}})


def test_csv_labels_missing_files_and_unlisted_files(tmp_path):
    _write(tmp_path / "img" / "a.jpg")
    _write(tmp_path / "img" / "extra.jpg")
    (tmp_path / "labels.csv").write_text("image,emotion\na.jpg,sadness\ngone.jpg,fear\n")
    src = build_source(
        "m", {"kind": "folder", "path": str(tmp_path / "img"), "labels_csv": str(tmp_path / "labels.csv")}
    )
    hits = {h.source_id: h for h in src.hits([])}
    assert hits["a.jpg"].weak_label == "sad"
    assert hits["extra.jpg"].weak_label is None and hits["extra.jpg"].raw_label == ""
    with pytest.raises(FileNotFoundError):
        hits["gone.jpg"].fetch()


def test_bad_folder_parameters(tmp_path):
    with pytest.raises(ValueError, match=r"ingestion.sources.m.path is required"):
        build_source("m", {"kind": "folder"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_source("m", {"kind": "folder", "path": str(tmp_path / "none")})
    (tmp_path / "l.csv").write_text("file,label\n")
    src = build_source("m", {"kind": "folder", "path": str(tmp_path), "labels_csv": str(tmp_path / "l.csv")})
    with pytest.raises(ValueError, match=r"columns \['emotion', 'image'\] missing"):
        list(src.hits([]))


@pytest.mark.shared_data
def test_muxspace_labels(shared_data):
    mux = shared_data / "muxspace"
    params = {"kind": "folder", "path": str(mux / "images"), "labels_csv": str(mux / "labels.csv")}
    hits = list(build_source("muxspace", params).hits([]))
    assert len(hits) >= 1377
    labels = {h.weak_label for h in hits}
    assert {"angry", "happy", "sad", "surprise", "neutral", "disgust", "fear"} <= labels
    assert sum(h.raw_label == "contempt" and h.weak_label is None for h in hits) == 2
