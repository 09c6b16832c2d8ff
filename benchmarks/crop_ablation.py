"""Why a model is wrong on real faces: its film crops varied one factor at a time, on the real clips.

On the real clips of ``../shared/data/videos`` (the Pexels clip and the 16 MEAD clips, truth in
``truth.csv``), every ``--stride``-th frame (default 5), the largest face: each model of ``--models``
(single-model artifacts; default ``data/06_models/fer2013/model.eemodel``) scores the same faces cropped
and prepared in different ways, each factor alone against the model's own recorded way (``as_trained``:
its artifact's margin, square crop, preprocessing and test-time flip, on MediaPipe boxes) and then the
best level of every factor together:

- ``margin``: share of the face box added on each side (negative crops inside the box);
- ``shift``: the crop's centre moved down (negative: up) by a share of the box side (FER2013's faces
  sit lower in their frame than BlazeFace's box centre: the frame shows more forehead);
- ``box``: the box's own aspect (letterboxed) instead of a square;
- ``grey`` / ``equalized``: the crop turned grey (three equal channels), or grey with its histogram
  equalised, instead of the model's recorded preprocessing;
- ``aligned``: the crop turned so that the eyes (BlazeFace's keypoints) are level;
- ``flip``: test-time flip on or off;
- ``haar``: OpenCV's Haar boxes instead of MediaPipe's (the framing FER2013 was cut with).

Input size is a training choice, not a crop: ``benchmarks/fer2013.py --size`` measures it.

Per model and variant it prints frame accuracy and macro-F1 over the five study classes on the Pexels
clip and on the MEAD clips (scored as ``benchmarks/real_clips.py`` scores them: a frame without a face is
wrong, frames whose truth is another emotion or none are set aside), and writes the table to
``data/08_reporting/benchmarks/crop_ablation.csv``.

    .venv/bin/python benchmarks/crop_ablation.py [--models a.eemodel ...] [--stride 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
OUT = REPO / "data" / "08_reporting" / "benchmarks" / "crop_ablation.csv"
GROUPS = {"Stock clip": "pexels", "Acted (MEAD)": "mead"}
MIN_FACE = 24  # pixels, movie_eval's default
DETECTOR_MARGIN = 0.2  # face_extraction's default margin: a curated model's crops before its framing


@dataclass(frozen=True)
class Variant:
    """One way of making a model's crops from a detected face."""

    detector: str = "mediapipe"
    margin: float = 0.2
    shift: float = 0.0
    square: bool = True
    aligned: bool = False
    preprocessing: str = "rgb"
    flip: bool = True


@dataclass
class Face:
    """The largest face of one sampled frame, per detector (``None``: no face found)."""

    movie: str
    group: str
    frame_idx: int
    rgb: np.ndarray
    boxes: dict[str, Any]


def base_variant(spec: Any) -> Variant:
    """The model's own way, from its artifact: the crop geometry it records (margin, shift, eye
    alignment; a dataset model's ``framing``), its preprocessing and test-time flip."""
    crop = spec.crop
    return Variant(margin=crop.margin, shift=crop.shift, aligned=crop.aligned,
                   preprocessing=spec.preprocessing, flip=spec.test_time_flip)  # fmt: skip


def factor_variants(base: Variant) -> Iterator[tuple[str, str, Variant]]:
    """``(factor, level, variant)``: the model's own way, then each factor changed alone."""
    yield "as_trained", "-", base
    if (base.margin, base.shift) != (DETECTOR_MARGIN, 0.0):  # a dataset framing: the crops it replaced
        yield "framing", "detector crops", replace(base, margin=DETECTOR_MARGIN, shift=0.0)
    for m in (-0.1, 0.0, 0.1, 0.2, 0.3, 0.4):
        if m != base.margin:
            yield "margin", f"{m:+.1f}", replace(base, margin=m)
    for d in (-0.15, -0.1, -0.05, 0.0, 0.05):
        if d != base.shift:
            yield "shift", f"{d:+.2f}", replace(base, shift=d)
    yield "aspect", "box", replace(base, square=False)
    for p in ("rgb", "grayscale", "equalized"):
        if p != base.preprocessing:
            yield "colour", p, replace(base, preprocessing=p)
    yield "aligned", "off" if base.aligned else "eyes level", replace(base, aligned=not base.aligned)
    yield "flip", "on" if not base.flip else "off", replace(base, flip=not base.flip)
    yield "detector", "haar", replace(base, detector="haar")


def together(base: Variant, scores: pd.DataFrame) -> Variant:
    """Every factor at its best level (mean of Pexels accuracy and MEAD macro-F1), where it beats the
    model's own way; a factor no level improves stays as trained."""
    ref = scores.loc[scores["factor"] == "as_trained", "score"].iloc[0]
    fields = {"margin": "margin", "shift": "shift", "aspect": "square", "colour": "preprocessing",
              "aligned": "aligned", "flip": "flip", "detector": "detector"}  # fmt: skip
    gains = []
    for factor, part in scores[scores["factor"].isin(list(fields))].groupby("factor"):
        top = part.sort_values("score", ascending=False).iloc[0]
        if top["score"] > ref:
            gains.append((top["score"], fields[factor], getattr(top["variant"], fields[factor])))
    best = base
    for _, name, value in sorted(gains, key=lambda g: -g[0]):  # the larger gain first
        candidate = replace(best, **{name: value})
        if candidate.aligned and not candidate.square:  # aligned crops are square: keep the better one
            continue
        best = candidate
    return best


def sample_faces(films: pd.DataFrame, stride: int) -> list[Face]:
    """The sampled frames of every clip with the largest MediaPipe and Haar face of each."""
    from tqdm import tqdm

    from expressions_ensemble.faces import create_detector, select_faces
    from expressions_ensemble.video import Sampling, iter_frames

    detectors = {"mediapipe": create_detector("mediapipe", 0.5), "haar": create_detector("haar", 0.5)}
    out: list[Face] = []
    try:
        for film in tqdm(films.itertuples(), total=len(films), desc="detect"):
            for frame in iter_frames(film.path, Sampling("stride", stride)):
                boxes = {}
                for name, detector in detectors.items():
                    chosen, _ = select_faces(detector.detect(frame.rgb), "largest", MIN_FACE)
                    boxes[name] = chosen[0] if chosen else None
                out.append(Face(film.movie, GROUPS.get(film.category, film.category), frame.frame_idx,
                                frame.rgb, boxes))  # fmt: skip
    finally:
        for detector in detectors.values():
            detector.close()
    return out


def crops_of(faces: Sequence[Face], variant: Variant, size: int) -> tuple[list[np.ndarray], list[int]]:
    """The crops ``variant`` makes and the indices of the faces that have one."""
    from expressions_ensemble.imaging import crop_face

    crops, index = [], []
    for i, face in enumerate(faces):
        box = face.boxes[variant.detector]
        if box is None:
            continue
        eyes = box.eyes if variant.aligned else None
        crops.append(crop_face(face.rgb, (box.x, box.y, box.w, box.h), variant.margin, size,
                               square=variant.square, eyes=eyes, shift=variant.shift))  # fmt: skip
        index.append(i)
    return crops, index


def labels_of(
    model: Any, faces: Sequence[Face], variant: Variant, classes: Sequence[str]
) -> list[str | None]:
    """The model's most likely study class per face, ``None`` where ``variant`` has no face."""
    import torch
    from real_clips import shared_top

    from expressions_ensemble.imaging import prepare_batch
    from expressions_ensemble.training.loop import predict_logits

    spec = model.spec
    crops, index = crops_of(faces, variant, spec.crop.crop_size)
    labels: list[str | None] = [None] * len(faces)
    if not crops:
        return labels
    images = torch.from_numpy(prepare_batch(crops, spec.input_size, variant.preprocessing))
    probs = torch.softmax(predict_logits(model.model, images, spec.mean, spec.std, flip=variant.flip), 1)
    for i, row in zip(index, probs.numpy(), strict=True):
        labels[i] = shared_top(dict(zip(spec.classes, row.tolist(), strict=True)), classes)
    return labels


def score(faces: Sequence[Face], labels: Sequence[str | None], truth: pd.DataFrame,
          classes: Sequence[str]) -> dict[str, float]:  # fmt: skip
    """Accuracy and macro-F1 per clip group, and the ranking score (Pexels accuracy + MEAD macro-F1) / 2."""
    import pandas as pd
    from real_clips import frame_outcomes, score_frames

    frames = pd.DataFrame({
        "movie": [f.movie for f in faces], "frame_idx": [f.frame_idx for f in faces], "label": labels,
        "group": [f.group for f in faces],
    })  # fmt: skip
    out: dict[str, float] = {}
    for group, part in frames.groupby("group"):
        s = score_frames(frame_outcomes(part, truth, classes), classes)
        out |= {f"{group}_accuracy": s["accuracy"], f"{group}_macro_f1": s["macro_f1"],
                f"{group}_no_face": s["no_face"]}  # fmt: skip
    out["score"] = (out.get("pexels_accuracy", 0.0) + out.get("mead_macro_f1", 0.0)) / 2
    return out


def ablate(name: str, model: Any, faces: Sequence[Face], truth: pd.DataFrame,
           classes: Sequence[str]) -> pd.DataFrame:  # fmt: skip
    """One model's table: its own way, each factor alone, then the best of each together."""
    import pandas as pd

    base = base_variant(model.spec)
    rows = []
    for factor, level, variant in factor_variants(base):
        rows.append({"model": name, "factor": factor, "level": level, "variant": variant,
                     **score(faces, labels_of(model, faces, variant, classes), truth, classes)})  # fmt: skip
        r = rows[-1]
        print(f"  {name} {factor} {level}: Pexels acc {r['pexels_accuracy']:.3f}, MEAD acc "
              f"{r['mead_accuracy']:.3f}, MEAD F1 {r['mead_macro_f1']:.3f}", flush=True)  # fmt: skip
    table = pd.DataFrame(rows)
    best = together(base, table)
    label = ", ".join(f"{k}={v}" for k, v in vars(best).items() if getattr(base, k) != v) or "as trained"
    row = {"model": name, "factor": "together", "level": label, "variant": best,
           **score(faces, labels_of(model, faces, best, classes), truth, classes)}  # fmt: skip
    return pd.concat([table, pd.DataFrame([row])], ignore_index=True)


def print_table(table: pd.DataFrame) -> None:
    for name, part in table.groupby("model", sort=False):
        print(f"\n{name}")
        head = f"{'Pexels acc':>10} {'MEAD acc':>9} {'MEAD F1':>8} {'score':>6}"
        print(f"  {'factor':<11} {'level':<34} {head}")
        for r in part.itertuples():
            print(f"  {r.factor:<11} {r.level:<34} {r.pexels_accuracy:10.3f} {r.mead_accuracy:9.3f} "
                  f"{r.mead_macro_f1:8.3f} {r.score:6.3f}")  # fmt: skip


def run(models: Mapping[str, Path], videos: Path, stride: int) -> pd.DataFrame:
    from real_clips import plan_clips, read_truth

    from expressions_ensemble.labels import STUDY_CLASSES
    from expressions_ensemble.models import load_artifact
    from expressions_ensemble.models.ensemble import EnsembleModel

    truth = read_truth(videos / "truth.csv")
    faces = sample_faces(plan_clips(videos), stride)
    tables = []
    for name, path in models.items():
        model = load_artifact(path)
        if isinstance(model, EnsembleModel):
            sys.exit(f"--models {path}: an ensemble; give its members (each has its own crops)")
        tables.append(ablate(name, model, faces, truth, STUDY_CLASSES))
    import pandas as pd

    return pd.concat(tables, ignore_index=True)


def main() -> None:
    from real_clips import model_paths

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, nargs="+",
                        default=[REPO / "data" / "06_models" / "fer2013" / "model.eemodel"])  # fmt: skip
    parser.add_argument("--videos", type=Path, help="the clips, truth.csv, movie_list.json")
    parser.add_argument("--stride", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from support import shared_data_dir

    table = run(model_paths(args.models), args.videos or shared_data_dir() / "videos", args.stride)
    print_table(table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table.assign(variant=table["variant"].map(lambda v: repr(v))).to_csv(OUT, index=False)
    print(f"\nwritten: {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
