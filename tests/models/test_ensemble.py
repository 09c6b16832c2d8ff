"""The ensemble: combination methods, alignment by class name, shared preparation, calibration, artifact."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from expressions_ensemble import metrics
from expressions_ensemble.models import (
    LoadedModel,
    ModelArtifactError,
    ModelSpec,
    create_model,
    load_artifact,
)
from expressions_ensemble.models.artifact import HEADER_MEMBER
from expressions_ensemble.models.ensemble import (
    METHODS,
    EnsembleClassError,
    EnsembleModel,
    EnsembleParams,
    EnsembleSpec,
    ensemble_bytes,
    fit_temperature,
)
from expressions_ensemble.models.scoring import PreparedBatch, score_models
from scoring_support import CLASSES, crops, member


def one_hot_logits(codes: np.ndarray, k: int, strength: float = 4.0) -> np.ndarray:
    logits = np.zeros((len(codes), k))
    logits[np.arange(len(codes)), codes] = strength
    return logits


def test_spec_is_validated_by_key():
    with pytest.raises(ValueError, match=r"ensemble\.method: got 'median'; allowed: mean, f1_weighted"):
        EnsembleSpec(("a",), CLASSES, method="median")
    with pytest.raises(ValueError, match=r"ensemble\.members: a member is listed twice"):
        EnsembleSpec(("a", "a"), CLASSES)
    with pytest.raises(ValueError, match=r"ensemble\.weights: 1 values for 2 members"):
        EnsembleSpec(("a", "b"), CLASSES, weights=(1.0,))
    with pytest.raises(ValueError, match=r"ensemble\.temperatures: expected finite values"):
        EnsembleSpec(("a", "b"), CLASSES, temperatures=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"ensemble\.classes: unknown emotion 'bored'"):
        EnsembleSpec(("a",), ("bored",))


def test_mean_weighted_calibrated_and_vote_combine_as_documented():
    a = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    b = np.array([[0.0, 3.0, 0.0], [0.0, 1.0, 0.0]])
    c = np.array([[0.0, 3.0, 0.0], [0.0, 0.0, 5.0]])
    members = {"a": member(a), "b": member(b), "c": member(c)}
    images = crops(2)
    probs = {name: m.predict_proba(images) for name, m in members.items()}

    mean = EnsembleModel(members, EnsembleSpec(("a", "b", "c"), CLASSES, "mean")).predict_proba(images)
    np.testing.assert_allclose(mean, (probs["a"] + probs["b"] + probs["c"]) / 3, rtol=1e-5)

    weighted = EnsembleModel(
        members, EnsembleSpec(("a", "b", "c"), CLASSES, "f1_weighted", weights=(0.6, 0.2, 0.2))
    ).predict_proba(images)
    np.testing.assert_allclose(weighted, 0.6 * probs["a"] + 0.2 * probs["b"] + 0.2 * probs["c"], rtol=1e-5)

    temps = (2.0, 1.0, 0.5)
    calibrated = EnsembleModel(
        members, EnsembleSpec(("a", "b", "c"), CLASSES, "calibrated_mean", temperatures=temps)
    ).predict_proba(images)
    scaled = [
        torch.softmax(torch.tensor(t) / temp, 1).numpy() for t, temp in zip((a, b, c), temps, strict=True)
    ]
    np.testing.assert_allclose(calibrated, sum(scaled) / 3, rtol=1e-5)

    vote = EnsembleModel(members, EnsembleSpec(("a", "b", "c"), CLASSES, "vote")).predict_proba(images)
    np.testing.assert_allclose(vote.sum(axis=1), 1.0, rtol=1e-5)
    assert vote[0].argmax() == 1  # b and c vote happy, a votes angry
    # row 1: one vote each for happy (a, b) ... a and b both vote happy, c votes sad: happy wins
    assert vote[1].argmax() == 1


def test_vote_ties_go_to_the_higher_mean_probability():
    a = np.array([[5.0, 0.0, 0.0]])  # very sure: angry
    b = np.array([[0.0, 0.5, 0.0]])  # barely: happy
    ens = EnsembleModel({"a": member(a), "b": member(b)}, EnsembleSpec(("a", "b"), CLASSES, "vote"))
    assert ens.predict_proba(crops(1))[0].argmax() == 0


def test_members_are_aligned_by_class_name_not_position():
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 0.5, 2.0]])
    straight = member(logits)
    permuted = member(logits[:, [2, 0, 1]], classes=("sad", "angry", "happy"))
    spec = EnsembleSpec(("x",), CLASSES, "mean")
    a = EnsembleModel({"x": straight}, spec).predict_proba(crops(2))
    b = EnsembleModel({"x": permuted}, spec).predict_proba(crops(2))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    # a member with an extra class is renormalised over the shared ones
    wider = member(np.c_[logits, [9.0, 9.0]], classes=(*CLASSES, "fear"))
    c = EnsembleModel({"x": wider}, spec).predict_proba(crops(2))
    np.testing.assert_allclose(a, c, rtol=1e-6)


# members of different class sets, as the web searches give them: "fear" is known by c alone
MIXED = {
    "a": (("angry", "happy", "sad"), [[2.0, 0.0, 1.0], [0.0, 0.5, 0.0]]),
    "b": (("happy", "angry"), [[0.0, 1.0], [3.0, 0.0]]),
    "c": (("fear", "sad", "happy"), [[0.2, 0.0, 0.5], [4.0, 0.0, 0.0]]),
}
UNION = ("angry", "happy", "sad", "fear")


def _mixed_members() -> dict[str, LoadedModel]:
    return {n: member(np.array(t), classes=c) for n, (c, t) in MIXED.items()}


def _expected(weights=(1.0, 1.0, 1.0), temperatures=(1.0, 1.0, 1.0)) -> np.ndarray:
    """The documented rule, written out class by class: a weighted mean over the members that know
    the class (each member's softmax over its own classes), then the row renormalised."""
    out = np.zeros((2, len(UNION)))
    for row in range(2):
        for k, cls in enumerate(UNION):
            num = den = 0.0
            for (classes, table), w, t in zip(MIXED.values(), weights, temperatures, strict=True):
                if cls in classes:
                    z = np.exp(np.array(table[row]) / t)
                    num += w * z[classes.index(cls)] / z.sum()
                    den += w
            out[row, k] = num / den if den else 0.0
        out[row] /= out[row].sum()
    return out


def test_union_of_classes_is_the_default_and_classes_can_narrow_it():
    members = _mixed_members()
    params = EnsembleParams.from_params({"members": list(MIXED)}, "ensemble.ensembles.x")
    assert params.resolve_classes(members) == UNION
    narrow = EnsembleParams.from_params({"members": list(MIXED), "classes": ["fear", "angry"]}, "e.x")
    assert narrow.resolve_classes(members) == ("fear", "angry")
    with pytest.raises(
        EnsembleClassError, match=r"e\.x\.classes: no member knows 'surprise'.*b: happy, angry"
    ):
        EnsembleParams.from_params({"members": list(MIXED), "classes": ["surprise"]}, "e.x").resolve_classes(
            members, "e.x"
        )
    with pytest.raises(EnsembleClassError, match=r"ensemble\.classes: no member knows 'surprise'"):
        EnsembleModel(members, EnsembleSpec(tuple(MIXED), ("happy", "surprise")))
    with pytest.raises(EnsembleClassError, match=r"member 'b' shares no class with the ensemble"):
        EnsembleModel(members, EnsembleSpec(tuple(MIXED), ("fear", "sad")))


@pytest.mark.parametrize("method", ["mean", "f1_weighted", "calibrated_mean"])
def test_averaging_methods_average_each_class_over_the_members_that_know_it(method):
    weights, temps = (0.5, 0.3, 0.2), (2.0, 1.0, 0.5)
    spec = EnsembleSpec(
        tuple(MIXED), UNION, method,
        weights=weights if method == "f1_weighted" else None,
        temperatures=temps if method == "calibrated_mean" else None,
    )  # fmt: skip
    p = EnsembleModel(_mixed_members(), spec).predict_proba(crops(2))
    expected = _expected(
        weights=weights if method == "f1_weighted" else (1.0,) * 3,
        temperatures=temps if method == "calibrated_mean" else (1.0,) * 3,
    )
    np.testing.assert_allclose(p, expected, rtol=1e-5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    # row 1: c alone knows fear and is sure of it; not diluted by the members that cannot say fear
    assert p[1].argmax() == UNION.index("fear")


def test_a_class_known_by_one_member_takes_that_members_probability_before_renormalising():
    members = _mixed_members()
    p = EnsembleModel(members, EnsembleSpec(tuple(MIXED), UNION, "mean")).predict_proba(crops(2))
    own = members["c"].predict_proba(crops(2))[:, 0]  # c's probability of fear
    angry = (members["a"].predict_proba(crops(2))[:, 0] + members["b"].predict_proba(crops(2))[:, 1]) / 2
    np.testing.assert_allclose(p[:, 3] / p[:, 0], own / angry, rtol=1e-5)


def test_zero_weight_members_leave_their_own_classes_at_zero():
    spec = EnsembleSpec(tuple(MIXED), UNION, "f1_weighted", weights=(0.5, 0.5, 0.0))
    p = EnsembleModel(_mixed_members(), spec).predict_proba(crops(2))
    np.testing.assert_allclose(p[:, 3], 0.0)  # fear: only c knows it, and c weighs nothing
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_vote_lets_each_member_vote_among_its_own_classes():
    members = _mixed_members()
    p = EnsembleModel(members, EnsembleSpec(tuple(MIXED), UNION, "vote")).predict_proba(crops(2))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    mean = _expected()
    # row 0: a votes angry, b angry, c happy; row 1: a happy, b happy, c fear (c alone can)
    votes = np.array([[2, 1, 0, 0], [0, 2, 0, 1]], dtype=float)
    np.testing.assert_allclose(p, (votes + mean) / 4, rtol=1e-5)
    assert p[0].argmax() == UNION.index("angry") and p[1].argmax() == UNION.index("happy")


def test_members_sharing_preprocessing_share_the_prepared_tensor_and_shared_weights_run_once():
    table = np.random.default_rng(0).normal(size=(10, 3))
    same = {f"m{i}": member(table) for i in range(4)}
    batch = PreparedBatch(crops(10))
    ens = EnsembleModel(same, EnsembleSpec(tuple(same), CLASSES))
    ens.proba_from(batch)
    assert batch.prepared == 1
    other = member(table, size=16, preprocessing="grayscale")
    mixed = EnsembleModel({**same, "g": other}, EnsembleSpec((*same, "g"), CLASSES))
    batch = PreparedBatch(crops(10))
    mixed.proba_from(batch)
    assert batch.prepared == 2
    # the film evaluation scores the ensemble and its members together: each member runs once per batch
    calls_before = [m.model.calls for m in same.values()]
    out = score_models({"ensemble": ens, **same}, crops(10), batch_size=5)
    assert [m.model.calls - c for m, c in zip(same.values(), calls_before, strict=True)] == [2, 2, 2, 2]
    np.testing.assert_allclose(out["ensemble"], ens.predict_proba(crops(10)), rtol=1e-6)


def _noisy_member(truth: np.ndarray, rng: np.random.Generator, right: float) -> np.ndarray:
    """Logits right on a random ``right`` share of rows, confidently wrong elsewhere."""
    k = len(CLASSES)
    wrong = (truth + rng.integers(1, k, len(truth))) % k
    pred = np.where(rng.random(len(truth)) < right, truth, wrong)
    return one_hot_logits(pred, k, strength=2.0) + rng.normal(0, 0.3, (len(truth), k))


@pytest.mark.parametrize("method", METHODS)
def test_ensemble_of_members_that_err_differently_beats_the_mean_member(method):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, len(CLASSES), 200)
    n_members = 5
    members = {f"m{i}": member(_noisy_member(truth, rng, 0.65)) for i in range(n_members)}
    images = crops(200)
    member_acc = [float((m.predict_proba(images).argmax(1) == truth).mean()) for m in members.values()]
    spec = EnsembleSpec(
        tuple(members), CLASSES, method,
        weights=tuple(member_acc) if method == "f1_weighted" else None,
        temperatures=(1.5,) * n_members if method == "calibrated_mean" else None,
    )  # fmt: skip
    ensemble_acc = float((EnsembleModel(members, spec).predict_proba(images).argmax(1) == truth).mean())
    assert ensemble_acc >= np.mean(member_acc) + 0.1, (ensemble_acc, member_acc)


def test_temperature_fitting_lowers_the_ece_of_an_over_confident_member():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 3, 600)
    honest = _noisy_member(truth, rng, 0.7)
    over = honest * 6.0  # same predictions, far too sure of them
    before = metrics.expected_calibration_error(torch.softmax(torch.tensor(over), 1).numpy(), truth)
    t = fit_temperature(over, truth)
    after = metrics.expected_calibration_error(torch.softmax(torch.tensor(over / t), 1).numpy(), truth)
    assert t > 3.0
    assert after < before / 3, (before, after)
    assert fit_temperature(over, np.full(len(over), -1)) == 1.0  # no known labels: nothing to fit


def _small(seed: int, classes=CLASSES) -> LoadedModel:
    torch.manual_seed(seed)
    model = create_model("test_efficientnet", classes, pretrained="none")
    spec = ModelSpec.from_model(model, classes, input_size=32, metadata={"seed": seed})
    return LoadedModel(model, spec)


def test_ensemble_artifact_loads_with_the_same_one_call(tmp_path):
    members = {"a": _small(0), "b": _small(1, ("sad", "happy", "angry", "fear"))}
    spec = EnsembleSpec(("a", "b"), CLASSES, "calibrated_mean", temperatures=(1.3, 0.8), metadata={"k": 2})
    ens = EnsembleModel(members, spec)
    path = tmp_path / "ensemble.eemodel"
    path.write_bytes(ensemble_bytes(ens))
    loaded = load_artifact(path)
    assert isinstance(loaded, EnsembleModel)
    assert loaded.spec == spec and loaded.classes == CLASSES
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(5)]
    np.testing.assert_allclose(loaded.predict_proba(images), ens.predict_proba(images), rtol=1e-5, atol=1e-6)
    # a member loaded from the ensemble file carries its weights' checksum
    assert all(m.weights_digest for m in loaded.members.values())


def test_damaged_or_inconsistent_ensemble_files_are_refused(tmp_path):
    ens = EnsembleModel({"a": _small(0)}, EnsembleSpec(("a",), CLASSES))
    data = ensemble_bytes(ens)
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = json.loads(members[HEADER_MEMBER])

    def refused(content: dict[str, bytes], pattern: str) -> None:
        buf = __import__("io").BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, blob in content.items():
                zf.writestr(name, blob)
        path = tmp_path / "bad.eemodel"
        path.write_bytes(buf.getvalue())
        with pytest.raises(ModelArtifactError, match=pattern):
            load_artifact(path)

    inner = bytearray(members["members/a.eemodel"])
    inner[len(inner) // 2] ^= 0xFF
    refused({**members, "members/a.eemodel": bytes(inner)}, r"ensemble member 'a' checksum mismatch")
    missing = {**header, "spec": {**header["spec"], "members": ["a", "z"]}}
    refused({**members, HEADER_MEMBER: json.dumps(missing).encode()}, r"members \['z'\] are not in the file")
    unknown = {**header, "kind": "committee"}
    refused({**members, HEADER_MEMBER: json.dumps(unknown).encode()}, "unknown artifact kind 'committee'")


def test_a_loaded_model_writes_back_the_bytes_it_was_read_from():
    """Loaded models run channels_last; saving them again (into an ensemble, to a worker) keeps the
    weights' checksum, so the member inside an ensemble and its own file are recognised as one."""
    from expressions_ensemble.models import artifact_bytes, read_artifact
    from expressions_ensemble.models.artifact import model_bytes

    model = _small(4)
    first = read_artifact(artifact_bytes(model.model, model.spec))
    assert read_artifact(model_bytes(first)).weights_digest == first.weights_digest
