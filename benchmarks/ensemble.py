"""Ensemble inference: the ensemble of four against four separate model calls on the same crops.

The ensemble prepares each distinct preprocessing once per batch and runs each member once; four
separate ``predict_proba`` calls prepare the same tensor four times. Side by side in one run, best of
``--repeat``; target: the ensemble is no slower (ratio >= 1.0). Crops: the muxspace photos (real,
350 px, resized by the models' preprocessing), or random crops where ../shared/data is absent.

    .venv/bin/python benchmarks/ensemble.py [--images 512] [--size 96] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

CLASSES = ("angry", "fear", "happy", "sad", "surprise")


def crops(n: int) -> tuple[list[np.ndarray], str]:
    """``n`` RGB crops: muxspace photos where available, else random pictures of the same size."""
    from expressions_ensemble.imaging import decode_image
    from support import shared_data_dir

    folder = shared_data_dir() / "muxspace" / "images"
    if folder.is_dir():
        files = sorted(folder.glob("*.jpg"))[:n]
        return [decode_image(f.read_bytes()) for f in files], f"{len(files)} muxspace photos"
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (350, 350, 3), dtype=np.uint8) for _ in range(n)], f"{n} random crops"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from expressions_ensemble.models import LoadedModel, ModelSpec, create_model
    from expressions_ensemble.models.ensemble import EnsembleModel, EnsembleSpec

    members = {}
    for i in range(4):
        torch.manual_seed(i)
        net = create_model("tf_efficientnet_lite0", CLASSES, pretrained="none")
        members[f"m{i}"] = LoadedModel(net, ModelSpec.from_model(net, CLASSES, input_size=args.size))
    ensemble = EnsembleModel(members, EnsembleSpec(tuple(members), CLASSES, "mean"))
    images, what = crops(args.images)

    def separate() -> np.ndarray:
        probs = [m.predict_proba(images, args.batch) for m in members.values()]
        return np.mean(probs, axis=0)

    def together() -> np.ndarray:
        return ensemble.predict_proba(images, args.batch)

    separate(), together()  # warm-up: oneDNN builds its kernels on first use
    best = {"separate": np.inf, "ensemble": np.inf}
    for r in range(args.repeat):
        for name, run in (("separate", separate), ("ensemble", together))[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            out = run()
            best[name] = min(best[name], time.perf_counter() - start)
            if name == "ensemble":
                ens_out = out
            else:
                sep_out = out
    np.testing.assert_allclose(ens_out, sep_out, rtol=1e-4, atol=1e-5)
    rate = {k: len(images) / v for k, v in best.items()}
    print(
        f"\nensemble of 4 x tf_efficientnet_lite0 at {args.size} px on {what} "
        f"(best of {args.repeat}; threads {torch.get_num_threads()}):"
    )
    print(
        f"  four separate predict_proba calls  {rate['separate']:7.1f} images/s  ({best['separate']:.2f} s)"
    )
    print(
        f"  the ensemble (shared preparation)  {rate['ensemble']:7.1f} images/s  ({best['ensemble']:.2f} s)"
    )
    print(f"  ensemble / separate = {rate['ensemble'] / rate['separate']:.2f}  (target >= 1.0; same numbers)")


if __name__ == "__main__":
    main()
