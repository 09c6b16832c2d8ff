"""The simulator's posed grey 48×48 "lab" look as a curated dataset: the base env's benchmark baseline.

Images are rendered in memory (PNG bytes inline in ``data``) and split train/test per class with a
seeded shuffle, so the same seed always gives the same table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.labels import EMOTIONS, STUDY_CLASSES, UnknownLabelError, validate_classes
from expressions_ensemble.simulation import render_lab_dataset
from expressions_ensemble.sources.curated.table import (
    OK,
    ParamError,
    as_fraction,
    make_table,
    positive_int,
)

DATASET = "sim_lab"


def _counts(per_class: Any, classes: Sequence[str]) -> dict[str, int]:
    if isinstance(per_class, Mapping):
        try:
            names = validate_classes(per_class, "per_class")
        except (UnknownLabelError, ValueError) as exc:
            raise ParamError("per_class", str(exc).split(": ", 1)[-1]) from None
        return {
            name: positive_int(n, f"per_class.{key}", minimum=0)
            for name, (key, n) in zip(names, per_class.items(), strict=True)
        }
    n = positive_int(per_class, "per_class")
    try:
        wanted = validate_classes(classes, "classes")
    except (UnknownLabelError, ValueError) as exc:
        raise ParamError("classes", str(exc).split(": ", 1)[-1]) from None
    return dict.fromkeys(wanted, n)


def read_sim_lab(
    per_class: int | Mapping[str, int],
    seed: int = 0,
    test_fraction: float = 0.2,
    classes: Sequence[str] = STUDY_CLASSES,
) -> pd.DataFrame:
    """Render ``per_class`` lab images per class (an int for each of ``classes``, or a mapping).

    ``test_fraction`` of each class (at least one image when a class has two or more) goes to test.
    """
    counts = _counts(per_class, classes)
    seed = positive_int(seed, "seed", minimum=0)
    share = as_fraction(test_fraction, "test_fraction")
    images = list(
        tqdm(
            render_lab_dataset(seed, counts),
            total=sum(counts.values()),
            desc="sim_lab",
            unit="image",
            leave=False,
            disable=None,
        )
    )
    rows: list[dict[str, Any]] = []
    for emotion in counts:
        mine = [im for im in images if im.emotion == emotion]
        n = len(mine)
        n_test = 0 if n < 2 else min(n - 1, max(1, round(n * share)))
        order = np.random.default_rng([seed, EMOTIONS.index(emotion)]).permutation(n)
        test = set(order[:n_test].tolist())
        for i, im in enumerate(mine):
            rows.append(
                {
                    "image_id": f"{DATASET}/{im.id}",
                    "dataset": DATASET,
                    "label": emotion,
                    "raw_label": emotion,
                    "split": "test" if i in test else "train",
                    "data": im.data,
                    "outcome": OK,
                }
            )
    return make_table(rows)
