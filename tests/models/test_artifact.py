"""The model artifact: a round trip gives the same predictions; anything else is refused by name."""

import hashlib
import io
import json
import re
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from expressions_ensemble.imaging import CropGeometry, to_tensor_batch
from expressions_ensemble.models import (
    LoadedModel,
    ModelArtifactError,
    ModelSpec,
    artifact_bytes,
    create_model,
    freeze,
    load_artifact,
    read_artifact,
    save_artifact,
)
from expressions_ensemble.models.artifact import FORMAT, HEADER_MEMBER, WEIGHTS_MEMBER

CLASSES = ("angry", "happy", "sad")
SIZE = 64  # small input: these tests check bookkeeping, not accuracy


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Module, ModelSpec]:
    torch.manual_seed(0)
    model = create_model("resnet18", CLASSES, pretrained="none")
    freeze(model, {"last_stages": 2})
    with torch.no_grad():  # non-default statistics, so a lost buffer would change predictions
        model.bn1.running_mean.uniform_(-0.5, 0.5)
    spec = ModelSpec.from_model(
        model,
        CLASSES,
        preprocessing="close_crop",
        trainable={"last_stages": 2},
        pretrained="hub",
        input_size=SIZE,
        metadata={
            "source": "sim_v1",
            "metrics": {"accuracy": np.float64(0.75), "per_class": np.array([1, 2])},
        },
    )
    return model.eval(), spec


@pytest.fixture(scope="module")
def artifact_file(trained, tmp_path_factory) -> Path:
    model, spec = trained
    return save_artifact(tmp_path_factory.mktemp("artifact") / "member.eeart", model, spec)


def _faces(n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (90 + 10 * i, 90 + 10 * i, 3), dtype=np.uint8) for i in range(n)]


def test_spec_reads_backbone_and_normalisation_from_the_model(trained):
    _, spec = trained
    assert spec.backbone == "resnet18"
    assert spec.classes == CLASSES
    assert (spec.input_size, spec.preprocessing, spec.pretrained) == (SIZE, "close_crop", "hub")
    assert spec.mean == pytest.approx((0.485, 0.456, 0.406))
    assert spec.metadata["metrics"] == {"accuracy": 0.75, "per_class": [1, 2]}  # numpy made plain JSON
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_round_trip_gives_a_ready_model_with_the_same_predictions(trained, artifact_file, monkeypatch):
    model, spec = trained

    def refuse(*args, **kwargs):
        raise AssertionError("loading used the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    loaded = load_artifact(artifact_file)
    assert isinstance(loaded, LoadedModel)
    assert not loaded.training and not loaded.model.training
    assert loaded.spec == spec and loaded.classes == CLASSES
    original = model.state_dict()
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, original[key]), key
    faces = _faces()
    probs = loaded.predict_proba(faces, batch_size=2)
    assert probs.shape == (len(faces), len(CLASSES)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    x = to_tensor_batch(faces, SIZE, spec.mean, spec.std, "close_crop")
    with torch.inference_mode():
        expected = model(x).softmax(dim=1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)
    assert loaded.predict_proba([]).shape == (0, len(CLASSES))


def test_a_loaded_model_saves_again_unchanged(artifact_file, tmp_path):
    loaded = load_artifact(artifact_file)
    again = load_artifact(save_artifact(tmp_path / "again.eeart", loaded, loaded.spec))
    assert again.spec == loaded.spec
    assert all(
        torch.equal(a, b)
        for a, b in zip(again.state_dict().values(), loaded.state_dict().values(), strict=True)
    )


def test_saving_weights_that_do_not_fit_the_spec_is_refused(trained, tmp_path):
    model, spec = trained
    wrong = ModelSpec(**{**spec.to_dict(), "classes": ("angry", "happy")})
    with pytest.raises(
        ModelArtifactError, match=r"do not fit resnet18 with 2 classes.*wrong shape fc\.weight"
    ):
        save_artifact(tmp_path / "x.eeart", model, wrong)
    other = ModelSpec(**{**spec.to_dict(), "backbone": "resnet34"})
    with pytest.raises(ModelArtifactError, match="missing"):
        artifact_bytes(model, other)
    assert not (tmp_path / "x.eeart").exists()


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("backbone", "resnet_18", r"spec\.backbone: 'resnet_18' is not a timm model"),
        ("classes", ("angry", "bored"), r"spec\.classes: unknown emotion 'bored'"),
        ("preprocessing", "sepia", r"spec\.preprocessing: unknown preprocessing 'sepia'"),
        ("trainable", "some", r"spec\.trainable: got 'some'"),
        ("pretrained", "imagenet", r"spec\.pretrained: got 'imagenet'"),
        ("input_size", 0, r"spec\.input_size"),
        ("std", (0.2, 0.0, 0.2), r"spec\.std: must be positive"),
        ("metadata", {"when": object()}, r"spec\.metadata\.when: object is not JSON-serialisable"),
        ("crop", {"detector": "dlib"}, r"spec\.crop: missing keys"),
        ("crop", {**CropGeometry().to_dict(), "margins": 0.1}, r"spec\.crop: unknown keys \['margins'\]"),
        ("crop", {**CropGeometry().to_dict(), "detector": "dlib"}, r"spec\.crop\.detector: got 'dlib'"),
        ("crop", {**CropGeometry().to_dict(), "crop_size": 0}, r"spec\.crop\.crop_size: got 0"),
    ],
)
def test_invalid_specs_name_the_field(trained, field, value, pattern):
    _, spec = trained
    with pytest.raises(ValueError, match=pattern):
        ModelSpec(**{**spec.to_dict(), field: value})


# ---------------------------------------------------------------------------------------------------
# Files that are not artifacts
# ---------------------------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _refused(tmp_path: Path, data: bytes, pattern: str) -> None:
    path = tmp_path / "candidate.eeart"
    path.write_bytes(data)
    with pytest.raises(ModelArtifactError) as err:
        load_artifact(path)
    assert str(path) in str(err.value)
    assert re.search(pattern, str(err.value)), str(err.value)


def test_random_bytes_empty_and_missing_files_are_refused(tmp_path):
    _refused(tmp_path, np.random.default_rng(0).bytes(4096), "not a model artifact")
    _refused(tmp_path, b"", "empty file")
    with pytest.raises(ModelArtifactError, match="no such model artifact"):
        load_artifact(tmp_path / "absent.eeart")
    with pytest.raises(ModelArtifactError, match="is a directory"):
        load_artifact(tmp_path)


def test_plain_torch_checkpoints_are_refused(trained, tmp_path):
    model, _ = trained
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    _refused(tmp_path, buf.getvalue(), r"plain PyTorch checkpoint \(torch\.save\)")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf, _use_new_zipfile_serialization=False)
    _refused(tmp_path, buf.getvalue(), r"pickle \(legacy torch\.save checkpoint\)")


def test_json_files_and_other_formats_are_refused(artifact_file, tmp_path):
    header = json.loads(_members(artifact_file)[HEADER_MEMBER])
    _refused(tmp_path, json.dumps(header).encode(), "JSON/text file")
    members = _members(artifact_file)
    members[HEADER_MEMBER] = json.dumps({**header, "format": "someone-else/model"}).encode()
    _refused(tmp_path, _zip(members), f"header format 'someone-else/model', expected '{FORMAT}'")
    members[HEADER_MEMBER] = json.dumps({**header, "version": 99}).encode()
    _refused(tmp_path, _zip(members), "format version 99 is newer")
    members[HEADER_MEMBER] = b"not json"
    _refused(tmp_path, _zip(members), "unreadable header")
    _refused(tmp_path, _zip({"readme.txt": b"hello"}), f"zip without {HEADER_MEMBER}")


def test_truncated_and_altered_files_are_refused(artifact_file, tmp_path):
    data = artifact_file.read_bytes()
    _refused(tmp_path, data[: len(data) // 2], "damaged or truncated zip")
    _refused(tmp_path, data[:-30], "damaged or truncated zip")  # would open as the inner torch.save zip
    for cut in (100, len(data) // 3, len(data) - 1):
        _refused(tmp_path, data[:cut], "damaged or truncated zip")
    members = _members(artifact_file)
    weights = bytearray(members[WEIGHTS_MEMBER])
    weights[len(weights) // 2] ^= 0xFF
    _refused(tmp_path, _zip({**members, WEIGHTS_MEMBER: bytes(weights)}), "checksum mismatch")
    _refused(tmp_path, _zip({HEADER_MEMBER: members[HEADER_MEMBER]}), f"weights member '{WEIGHTS_MEMBER}'")


def test_pickled_code_in_the_weights_never_runs(artifact_file, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    buf = io.BytesIO()
    torch.save({"fc.weight": Exploit()}, buf)
    payload = buf.getvalue()
    members = _members(artifact_file)
    header = json.loads(members[HEADER_MEMBER])
    header["weights"].update(sha256=hashlib.sha256(payload).hexdigest(), bytes=len(payload))
    data = _zip({HEADER_MEMBER: json.dumps(header).encode(), WEIGHTS_MEMBER: payload})
    _refused(tmp_path, data, "not a safe tensor state_dict")
    assert not marker.exists()


def test_weights_of_another_model_are_refused(artifact_file, tmp_path):
    members = _members(artifact_file)
    header = json.loads(members[HEADER_MEMBER])
    header["spec"]["backbone"] = "resnet34"
    data = _zip({HEADER_MEMBER: json.dumps(header).encode(), WEIGHTS_MEMBER: members[WEIGHTS_MEMBER]})
    _refused(tmp_path, data, "do not fit resnet34 with 3 classes")


def test_read_artifact_from_bytes_names_the_source(artifact_file):
    loaded = read_artifact(artifact_file.read_bytes(), source="mlflow:/runs/1/member.eeart")
    assert loaded.classes == CLASSES
    with pytest.raises(ModelArtifactError, match=r"^mlflow:/runs/1/member\.eeart: not a model artifact"):
        read_artifact(b"garbage", source="mlflow:/runs/1/member.eeart")


def test_the_crop_geometry_is_stored_and_read_back(trained, tmp_path):
    model, spec = trained
    crop = CropGeometry(detector="haar", margin=0.4, crop_size=160, face_policy="single_only")
    path = save_artifact(tmp_path / "m.eeart", model, ModelSpec(**{**spec.to_dict(), "crop": crop}))
    header = json.loads(_members(path)[HEADER_MEMBER])
    assert header["spec"]["crop"] == crop.to_dict()
    loaded = load_artifact(path)
    assert loaded.spec.crop == crop and not loaded.spec.crop.assumed


def test_an_artifact_written_before_the_crop_geometry_loads_with_the_defaults_and_says_so(
    artifact_file, tmp_path, caplog
):
    members = _members(artifact_file)
    header = json.loads(members[HEADER_MEMBER])
    del header["spec"]["crop"]
    old = tmp_path / "old.eeart"
    old.write_bytes(
        _zip({HEADER_MEMBER: json.dumps(header).encode(), WEIGHTS_MEMBER: members[WEIGHTS_MEMBER]})
    )
    with caplog.at_level("WARNING"):
        loaded = load_artifact(old)
    assert loaded.spec.crop == CropGeometry() and loaded.spec.crop.assumed
    assert "no crop geometry" in caplog.text and "assuming the base env's defaults" in caplog.text
    # saved again (e.g. into an ensemble), it still says the geometry was assumed
    again = read_artifact(artifact_bytes(loaded.model, loaded.spec))
    assert again.spec.crop.assumed


def test_a_flipped_byte_anywhere_is_a_damaged_artifact_never_a_raw_error():
    """Every byte of the head (zip entry header, compressed JSON header) and of the tail (central
    directory, end record), and bytes across the weights: each flip is refused as a ModelArtifactError
    naming the file, or, where the byte is one no reader checks (a timestamp, a "made by" version),
    loads the very same model."""
    model = create_model("test_efficientnet", CLASSES, pretrained="none")
    spec = ModelSpec.from_model(model, CLASSES, input_size=32)
    data = bytearray(artifact_bytes(model, spec))
    reference = read_artifact(bytes(data))
    offsets = [*range(0, 700), *range(700, len(data) - 300, 997), *range(len(data) - 300, len(data))]
    refused, same = 0, 0
    for offset in offsets:
        data[offset] ^= 0xFF
        try:
            loaded = read_artifact(bytes(data), "member.eeart")
        except ModelArtifactError as exc:
            assert str(exc).startswith("member.eeart: "), (offset, str(exc))
            refused += 1
        else:
            assert loaded.weights_digest == reference.weights_digest and loaded.spec == reference.spec
            same += 1
        finally:
            data[offset] ^= 0xFF
    assert refused > 0.85 * len(offsets), (refused, same)
