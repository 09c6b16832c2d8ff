"""Training throughput: the training node against a bare timm loop over the same tensors, side by side.

The node decodes and resizes the face crops once, then trains; the bare loop gets the already prepared
uint8 tensors and does only convert, normalise, forward, backward and step. Target: node >= 0.9 x bare
loop (crops are never re-decoded per epoch; threads set to the cores). Photos: the muxspace faces
(5 classes), used as face crops.

    .venv/bin/python benchmarks/training_throughput.py [--epochs 2] [--size 96] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import timm
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

BATCH = 32


def bare_loop(images: torch.Tensor, labels: torch.Tensor, epochs: int, n_classes: int) -> float:
    """Seconds for ``epochs`` passes of the plainest timm fine-tuning loop (channels_last, Adam).

    Called once with one epoch before anything is timed: the first convolutions of a process build
    oneDNN's kernels, a one-off cost that would otherwise land on whichever side runs first.
    """
    torch.manual_seed(0)
    model = timm.create_model("tf_efficientnet_lite0", num_classes=n_classes).to(
        memory_format=torch.channels_last
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            x = (
                images[idx]
                .float()
                .div_(255)
                .sub_(0.5)
                .div_(0.5)
                .contiguous(memory_format=torch.channels_last)
            )
            loss = loss_fn(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from expressions_ensemble.datasets.checkpoints import FileCheckpointStore
    from expressions_ensemble.imaging import decode_image, prepare_batch
    from expressions_ensemble.labels import STUDY_CLASSES, normalise_label
    from expressions_ensemble.pipelines.training.nodes import split_training_table, train_model
    from support import shared_data_dir

    mux = shared_data_dir() / "muxspace"
    labels = pd.read_csv(mux / "labels.csv")
    labels["label"] = labels["emotion"].map(normalise_label)
    labels = labels[labels["label"].isin(STUDY_CLASSES)].reset_index(drop=True)
    crops = {name: (mux / "images" / name).read_bytes() for name in labels["image"]}
    table = pd.DataFrame(
        {"image_id": labels["image"], "dataset": "muxspace", "label": labels["label"],
         "group": labels["image"], "path": labels["image"], "split": None, "outcome": "ok"}
    )  # fmt: skip
    params = {
        "classes": list(STUDY_CLASSES), "val_fraction": 0.02, "pretrained": "none", "input_size": args.size,
        "augmentation": "none", "epochs": args.epochs, "patience": args.epochs, "batch_size": BATCH,
        "learning_rate": 1e-3,
    }  # fmt: skip
    split, _ = split_training_table(table, params)
    train_rows = split[split["split"] == "train"]
    n_train = len(train_rows)
    # the bare loop's tensors: decoded and prepared once, outside its timing
    images = torch.from_numpy(prepare_batch([decode_image(crops[p]) for p in train_rows["path"]], args.size))
    codes = torch.tensor([STUDY_CLASSES.index(label) for label in train_rows["label"]])

    bare_loop(images, codes, 1, len(STUDY_CLASSES))  # warm-up, untimed
    best = {"node": np.inf, "bare": np.inf}
    epoch_best = {"node": np.inf, "bare": np.inf}  # steady state: the fastest single epoch
    for r in range(args.repeat):
        for side in ("bare", "node") if r % 2 == 0 else ("node", "bare"):  # alternate who goes first
            if side == "bare":
                seconds = bare_loop(images, codes, args.epochs, len(STUDY_CLASSES))
                per_epoch = seconds / args.epochs
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    store = FileCheckpointStore(Path(tmp))
                    start = time.perf_counter()
                    _, history, _ = train_model("muxspace", split, crops, params, store)
                    seconds = time.perf_counter() - start
                per_epoch = float(np.diff(history["seconds"]).min()) if args.epochs > 1 else seconds
            best[side] = min(best[side], seconds)
            epoch_best[side] = min(epoch_best[side], per_epoch)
    rate = {k: n_train * args.epochs / v for k, v in best.items()}
    print(
        f"\ntraining throughput, {n_train} muxspace crops x {args.epochs} epochs at {args.size} px "
        f"(best of {args.repeat}; threads {torch.get_num_threads()}):"
    )
    print(f"  bare timm loop   {rate['bare']:6.1f} images/s  ({best['bare']:.1f} s)")
    print(
        f"  training node    {rate['node']:6.1f} images/s  ({best['node']:.1f} s, with decoding, validation)"
    )
    print(f"  node / bare = {rate['node'] / rate['bare']:.2f}  (target >= 0.90)")
    print(
        f"  steady state, fastest epoch: node {n_train / epoch_best['node']:.1f} images/s (with validation), "
        f"bare {n_train / epoch_best['bare']:.1f} images/s; node / bare = "
        f"{epoch_best['bare'] / epoch_best['node']:.2f}"
    )


if __name__ == "__main__":
    main()
