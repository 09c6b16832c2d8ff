"""Ensemble nodes: build an ensemble from members' validation logits; score every model on a test set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from expressions_ensemble.models import LoadedModel, ModelSpec, create_model
from expressions_ensemble.models.ensemble import EnsembleModel, EnsembleSpec
from expressions_ensemble.pipelines.ensemble.nodes import build_ensemble, combine_matrix, score_dataset_domain
from expressions_ensemble.sources.curated.sim_lab import read_sim_lab
from expressions_ensemble.training.splits import split_table

CLASSES = ("angry", "happy", "sad")


def _model(seed: int, classes=CLASSES) -> LoadedModel:
    torch.manual_seed(seed)
    net = create_model("test_efficientnet", classes, pretrained="none")
    return LoadedModel(net, ModelSpec.from_model(net, classes, input_size=32, metadata={"seed": seed}))


def _predictions(model: LoadedModel, rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """Validation logits that are right about 70 % of the time, multiplied by ``scale`` (over-confidence)."""
    n = 300
    truth = rng.integers(0, len(model.classes), n)
    pred = np.where(rng.random(n) < 0.7, truth, (truth + 1) % len(model.classes))
    logits = np.eye(len(model.classes))[pred] * scale + rng.normal(0, 0.2, (n, len(model.classes)))
    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(n)], "label": np.array(model.classes)[truth]})
    for i, c in enumerate(model.classes):
        frame[f"logit_{c}"] = logits[:, i]
    return frame.assign(split="val")


def test_build_ensemble_fits_temperatures_and_reports_ece_before_and_after():
    rng = np.random.default_rng(0)
    members = {"a": _model(0), "b": _model(1, ("sad", "angry", "happy", "fear"))}
    data = []
    for m in members.values():
        data += [m, _predictions(m, rng, scale=8.0)]
    params = {"members": "weak_label_sources", "method": "calibrated_mean"}
    ensemble, calibration, scores = build_ensemble("exe_cal", list(members), params, 15, *data)
    # the union of the members' classes, in order of first appearance: b alone knows fear
    assert isinstance(ensemble, EnsembleModel) and ensemble.classes == (*CLASSES, "fear")
    assert list(calibration["member"]) == ["a", "b"]
    assert (calibration["temperature"] > 2).all()  # over-confident members are cooled down
    assert (calibration["ece_after"] < calibration["ece_before"]).all()
    assert (calibration["nll_after"] < calibration["nll_before"]).all()
    assert ensemble.spec.temperatures == tuple(calibration["temperature"])
    assert scores["ece_after.a"]["value"] == pytest.approx(calibration.loc[0, "ece_after"])
    weighted, _, _ = build_ensemble("w", list(members), {"method": "f1_weighted"}, 15, *data)
    # the weights are the members' macro-F1 on their own validation logits (right ~70 % of the time)
    assert weighted.spec.weights == tuple(calibration["val_macro_f1"]) and weighted.spec.temperatures is None
    assert all(0.6 < w < 0.8 for w in weighted.spec.weights)
    narrow, _, _ = build_ensemble(
        "n", list(members), {"method": "mean", "classes": ["fear", "sad"]}, 15, *data
    )
    assert narrow.classes == ("fear", "sad")
    with pytest.raises(ValueError, match=r"ensemble\.ensembles\.u\.classes: no member knows 'surprise'"):
        build_ensemble("u", list(members), {"classes": ["surprise"]}, 15, *data)
    with pytest.raises(ValueError, match=r"ensemble\.ensembles\.bad\.method: got 'max'"):
        build_ensemble("bad", list(members), {"method": "max"}, 15, *data)
    # test-split logits would let calibration and weights see the test set: refused
    leaky = [data[0], data[1].assign(split="test"), data[2], data[3]]
    with pytest.raises(ValueError, match="not its validation split"):
        build_ensemble("leaky", list(members), params, 15, *leaky)


def test_matrix_scores_every_model_on_shared_classes_and_names_the_best():
    table = read_sim_lab(per_class=6, seed=1, classes=("angry", "happy", "sad", "surprise"))
    split = split_table(table, ("angry", "happy", "sad", "surprise"), 0.2, 0)
    names = ["three", "four", "ens"]
    three, four = _model(0), _model(2, ("angry", "happy", "sad", "surprise"))
    ens = EnsembleModel({"x": three, "y": _model(3)}, EnsembleSpec(("x", "y"), CLASSES))
    kinds = {"three": "weak_label", "four": "baseline", "ens": "ensemble"}
    scores, confusion = score_dataset_domain(
        "lab", names, kinds, {"batch_size": 4}, split, None, three, four, ens
    )
    n_test = int((split["split"] == "test").sum())
    assert list(scores["model"]) == names and (scores["n_images"] == n_test).all()
    assert (scores["domain_kind"] == "dataset_test").all()
    three_row = scores.set_index("model").loc["three"]
    # the 3-class model cannot be scored on surprise: those test rows are dropped and counted
    n_surprise = int(((split["split"] == "test") & (split["label"] == "surprise")).sum())
    assert three_row["n_scored"] == n_test - n_surprise
    assert three_row["dropped_share"] == pytest.approx(n_surprise / n_test)
    assert three_row["shared_classes"] == "angry,happy,sad" and np.isnan(three_row["recall_surprise"])
    assert scores.set_index("model").loc["four", "dropped_share"] == 0
    matrix, csv, long, best, heatmap, grid, metrics = combine_matrix(scores, confusion)
    assert csv is matrix and set(matrix["rank"]) <= {1, 2, 3}
    assert best.loc[0, "best_model"] == matrix.sort_values("macro_f1").iloc[-1]["model"]
    assert best.loc[0, "lead_macro_f1"] >= 0
    assert long.groupby("model")["count"].sum().to_dict() == scores.set_index("model")["n_scored"].to_dict()
    assert "three.lab.macro_f1" in metrics and heatmap.axes and grid.axes


def test_source_domains_score_the_validation_split_or_every_crop_of_a_test_source():
    from expressions_ensemble.imaging import encode_jpeg
    from expressions_ensemble.pipelines.ensemble.nodes import score_source_domain

    rng = np.random.default_rng(0)
    crops = {f"{i}.jpg": encode_jpeg(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)) for i in range(6)}
    split = pd.DataFrame(
        {"image_id": [str(i) for i in range(6)], "label": ["angry", "happy", "sad"] * 2,
         "path": list(crops), "split": ["train", "val", "val", "test", "test", "test"]}
    )  # fmt: skip
    model = _model(0)
    val, _ = score_source_domain("s", ["m"], {"m": "weak_label"}, False, {}, split, crops, None, model)
    test, _ = score_source_domain("t", ["m"], {"m": "weak_label"}, True, {}, split, crops, None, model)
    assert val.loc[0, "domain_kind"] == "source_val" and val.loc[0, "n_images"] == 2
    assert test.loc[0, "domain_kind"] == "source_test" and test.loc[0, "n_images"] == 3


def test_a_rerun_reads_scores_back_and_scores_only_what_changed(tmp_path, caplog, monkeypatch):
    from expressions_ensemble.datasets.score_cache import ScoreCache
    from expressions_ensemble.imaging import encode_jpeg
    from expressions_ensemble.pipelines.ensemble import nodes

    rng = np.random.default_rng(1)
    crops = {f"{i}.jpg": encode_jpeg(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)) for i in range(6)}
    split = pd.DataFrame(
        {"image_id": [str(i) for i in range(6)], "label": ["angry", "happy", "sad"] * 2,
         "path": list(crops), "split": ["test"] * 6}
    )  # fmt: skip
    kinds = {"a": "weak_label", "b": "weak_label"}
    cache = ScoreCache(tmp_path / "cache")
    scored: list[list[str]] = []
    real = nodes.score_chunks
    monkeypatch.setattr(nodes, "score_chunks", lambda c, m, b: scored.append(sorted(m)) or real(c, m, b))

    def run(crops, a, b):
        return nodes.score_source_domain("t", ["a", "b"], kinds, True, {}, split, crops, cache, a, b)[0]

    first = run(crops, _model(0), _model(1))
    again = run(crops, _model(0), _model(1))  # the same weights rebuilt: the same digest
    pd.testing.assert_frame_equal(first, again)
    assert scored == [["a", "b"]]  # the second run scored nothing
    run(crops, _model(0), _model(2))  # b retrained
    assert scored[-1] == ["b"]
    changed = {**crops, "3.jpg": encode_jpeg(np.zeros((40, 40, 3), np.uint8))}  # one crop made again
    run(changed, _model(0), _model(2))
    assert scored[-1] == ["a", "b"]
    assert len(list((tmp_path / "cache" / "t").glob("*.npz"))) == 2  # one file per model and test set
    for f in (tmp_path / "cache" / "t").glob("a.*.npz"):
        f.write_bytes(b"damaged")
    with caplog.at_level("WARNING"):
        table = run(changed, _model(0), _model(2))
    assert scored[-1] == ["a"] and "not a readable score file" in caplog.text
    assert table["n_images"].tolist() == [6, 6]


def test_on_a_searched_dataset_each_model_is_scored_on_its_own_crop_of_the_detected_face():
    from dataclasses import replace

    from expressions_ensemble.imaging import CropGeometry
    from expressions_ensemble.models.scoring import score_models
    from expressions_ensemble.sources.curated.faces import FACE_COLUMNS, face_reader
    from expressions_ensemble.sources.curated.table import load_image

    table = read_sim_lab(per_class=4, seed=3, classes=CLASSES)
    split = split_table(table, CLASSES, 0.25, 0)
    # every image searched, its face box the middle of the (enlarged) image
    split = split.assign(face_x=30.0, face_y=40.0, face_w=100.0, face_h=100.0, face_score=0.9)
    split = split.assign(**{c: np.nan for c in FACE_COLUMNS[5:]})
    tight, framed = CropGeometry(margin=0.0, crop_size=48), CropGeometry.dataset_framing(margin=0.08)
    a, b = _model(0), _model(1)
    a = LoadedModel(a.model, replace(a.spec, crop=tight))
    b = LoadedModel(b.model, replace(b.spec, crop=framed))
    _, confusion = score_dataset_domain("lab", ["a", "b"], {}, {"batch_size": 4}, split, None, a, b)
    test = split[split["split"] == "test"]
    rows = [r for _, r in test.iterrows()]
    own = {
        "a": score_models({"a": a}, [face_reader(tight)(r) for r in rows])["a"],  # the detected face
        "b": score_models({"b": b}, [load_image(r) for r in rows])["b"],  # as the dataset framed it
    }
    for name, model in (("a", a), ("b", b)):
        pairs = pd.Series(list(zip(test["label"], np.array(model.classes)[own[name].argmax(1)], strict=True)))
        expected = pairs.value_counts().to_dict()
        got = confusion[(confusion["model"] == name) & (confusion["count"] > 0)]
        assert {(r.true, r.pred): r.count for r in got.itertuples()} == expected
