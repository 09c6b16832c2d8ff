"""Ensemble nodes: build each ensemble from its members, score every model on every test set."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from expressions_ensemble import metrics
from expressions_ensemble.datasets.score_cache import ScoreCache, ScoredSet, content_key
from expressions_ensemble.evaluation import rank_models, score_chunks, table_rows
from expressions_ensemble.imaging import decode_image
from expressions_ensemble.models import LoadedModel
from expressions_ensemble.models.ensemble import EnsembleModel, EnsembleParams, EnsembleSpec, fit_temperature
from expressions_ensemble.models.scoring import Scorable, distinct_networks, model_digest, softmax
from expressions_ensemble.reporting.figures import confusion_grid_figure, cross_domain_figure
from expressions_ensemble.sources.curated.faces import scoring_readers
from expressions_ensemble.training.data import iter_decoded
from expressions_ensemble.training.runs import training_run_row, training_runs_table

logger = logging.getLogger(__name__)

CALIBRATION_COLUMNS = [
    "ensemble", "member", "n_val", "val_macro_f1", "temperature", "ece_before", "ece_after",
    "nll_before", "nll_after",
]  # fmt: skip


def _validation_logits(member: LoadedModel, predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A member's validation logits (its own class order) and true class codes, from its evaluation."""
    columns = [f"logit_{c}" for c in member.classes]
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise ValueError(f"evaluation_predictions lacks {missing}: re-run the member's evaluation")
    codes = metrics.encode_labels(predictions["label"].tolist(), member.classes)
    return predictions[columns].to_numpy(np.float64), codes


def _nll(probs: np.ndarray, codes: np.ndarray) -> float:
    known = codes >= 0
    return float(-np.log(np.clip(probs[known, codes[known]], 1e-12, None)).mean()) if known.any() else np.nan


def build_ensemble(
    name: str, members_names: Sequence[str], params: Mapping[str, Any], bins: int, *member_data: Any
) -> tuple[EnsembleModel, pd.DataFrame, dict[str, Any]]:
    """The ensemble model, each member's calibration on its own validation split, and MLflow metrics.

    ``members_names`` are the resolved members (``weak_label_sources`` expanded); ``member_data``
    holds, per member, its model and its per-image validation logits. Temperatures are fitted (and
    ECE before/after reported) for every method, and the weights are the validation macro-F1s; only
    ``calibrated_mean`` applies the temperatures, only ``f1_weighted`` the weights. Both come from the
    validation split alone, so a test set scored afterwards was never seen. Members may know different
    classes: the ensemble's are their union unless ``classes`` narrows them (see
    :mod:`~expressions_ensemble.models.ensemble`); each member keeps its own crop geometry.
    """
    key = f"ensemble.ensembles.{name}"
    p = EnsembleParams.from_params({**params, "members": list(members_names)}, key)
    if len(member_data) != 2 * len(p.members):
        raise ValueError(f"ensemble {name}: expected a model and its validation predictions per member")
    members: dict[str, LoadedModel] = {}
    rows = []
    for i, member in enumerate(p.members):
        model, predictions = member_data[2 * i : 2 * i + 2]
        if not isinstance(model, LoadedModel):
            raise ValueError(f"ensemble {name}: member {member!r} must be a single model, not an ensemble")
        if set(predictions.get("split", pd.Series(["val"]))) - {"val"}:
            raise ValueError(
                f"ensemble {name}: member {member!r}'s evaluation_predictions are not its validation "
                f"split ({sorted(set(predictions['split']))}); re-run its evaluation"
            )
        members[member] = model
        logits, codes = _validation_logits(model, predictions)
        val_f1 = metrics.macro_f1(metrics.confusion_matrix(codes, logits.argmax(1), len(model.classes)))
        t = fit_temperature(logits, codes)
        before, after = softmax(logits), softmax(logits, t)
        rows.append(
            {
                "ensemble": name, "member": member, "n_val": int((codes >= 0).sum()),
                "val_macro_f1": val_f1, "temperature": t,
                "ece_before": metrics.expected_calibration_error(before, codes, bins),
                "ece_after": metrics.expected_calibration_error(after, codes, bins),
                "nll_before": _nll(before, codes), "nll_after": _nll(after, codes),
            }
        )  # fmt: skip
    calibration = pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
    spec = EnsembleSpec(
        members=p.members,
        classes=p.resolve_classes(members, key),
        method=p.method,
        weights=tuple(calibration["val_macro_f1"]) if p.method == "f1_weighted" else None,
        temperatures=tuple(calibration["temperature"]) if p.method == "calibrated_mean" else None,
        metadata={
            "ensemble": name,
            "members": {m: dict(members[m].spec.metadata) for m in p.members},
        },
    )
    scores = {
        f"{field}.{row['member']}": {"value": float(row[field]), "step": 0}
        for row in rows
        for field in ("temperature", "ece_before", "ece_after")
    }
    return EnsembleModel(members, spec), calibration, scores


def _score(
    domain: str, kind: str, rows: pd.DataFrame, read: Any, raw: Any, names: Sequence[str],
    kinds: Mapping[str, str], params: Mapping[str, Any], models: Sequence[Scorable], cache: ScoreCache | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """The models' matrix rows on one test set; scores of a model already scored on exactly these rows
    (same ids, labels and image bytes, same model digest) are read from ``cache``, the rest computed."""
    if len(models) != len(names):
        raise ValueError(f"evaluation of {domain}: {len(models)} models for {len(names)} names")
    by_name = dict(zip(names, models, strict=True))
    content = content_key(domain, kind, rows, raw) if cache is not None else ""
    digests = {name: model_digest(m) for name, m in by_name.items()} if cache is not None else {}
    found = {n: cache.get(domain, n, content, digests[n]) for n in names} if cache is not None else {}
    kept = {n: s for n, s in found.items() if s is not None}
    todo = {n: m for n, m in by_name.items() if n not in kept}
    probs = {n: s.probs for n, s in kept.items()}
    if todo:
        chunks = iter_decoded(rows, read, int(params.get("chunk", 256)))
        fresh, labels, unreadable = score_chunks(chunks, todo, int(params.get("batch_size", 64)))
        probs |= fresh
        for n in todo if cache is not None else ():
            cache.put(
                domain, n, content, digests[n], ScoredSet(fresh[n], tuple(map(str, labels)), unreadable)
            )
    else:
        first = next(iter(kept.values()))
        labels, unreadable = list(first.labels), first.unreadable
    if kept:
        logger.info("%s: %d of %d models scored again, the others read back (%s)", domain, len(todo),
                    len(names), "same rows and images, same model")  # fmt: skip
    return table_rows(domain, kind, probs, labels, unreadable, by_name, kinds)


def score_source_domain(
    domain: str, names: Sequence[str], kinds: Mapping[str, str], test_only: bool, params: Mapping[str, Any],
    split: pd.DataFrame, crops: Mapping[str, bytes], cache: ScoreCache, *models: Scorable,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Every model on a source's face crops: a trained source's validation split (its weak labels), or
    every crop of a ``role: test`` source."""
    on, kind = ("test", "source_test") if test_only else ("val", "source_val")
    rows = split[split["split"] == on]
    raw = lambda r: crops[r["path"]]  # noqa: E731
    read = lambda r: decode_image(raw(r))  # noqa: E731
    return _score(domain, kind, rows, read, raw, names, kinds, params, models, cache)


def score_dataset_domain(
    domain: str, names: Sequence[str], kinds: Mapping[str, str], params: Mapping[str, Any],
    split: pd.DataFrame, cache: ScoreCache, *models: Scorable,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Every model on a comparison dataset's published test split (its validation split where none);
    where the dataset's images were searched for faces (``framing: {detect: true}``), each model reads
    the detected face cropped with its own geometry, as it would a film's."""
    on = "test" if (split["split"] == "test").any() else "val"
    kind = "dataset_test" if on == "test" else "dataset_val"
    rows = split[split["split"] == on]
    specs = [net.spec for net in distinct_networks(models)]
    read, raw = scoring_readers(split, specs, f"evaluation of {domain}")
    return _score(domain, kind, rows, read, raw, names, kinds, params, models, cache)


def combine_matrix(
    *parts: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, Figure, Figure, dict[str, Any]]:
    """The evaluation matrix from the per-domain parts (tables and confusions, alternating).

    Returns the ranked matrix (for parquet and CSV), the long confusion table, the best model per test
    set with its lead, the macro-F1 heatmap, the confusion-matrix grid and MLflow metrics
    ``<model>.<domain>.macro_f1``/``accuracy``.
    """
    tables, confusions = parts[0::2], parts[1::2]
    matrix, best = rank_models(pd.concat(tables, ignore_index=True))
    confusion = pd.concat(confusions, ignore_index=True)
    scores = {
        f"{r.model}.{r.domain}.{field}": {"value": float(getattr(r, field)), "step": 0}
        for r in matrix.itertuples()
        for field in ("macro_f1", "accuracy")
        if np.isfinite(getattr(r, field))
    }
    return (
        matrix,
        matrix,
        confusion,
        best,
        cross_domain_figure(matrix),
        confusion_grid_figure(confusion),
        scores,
    )


def gather_training_runs(names: Sequence[str], kinds: Mapping[str, str], *parts: Any) -> pd.DataFrame:
    """The per-run training table of every trained model (``parts``: per model, in ``names`` order,
    its evaluation, split counts and training history)."""
    if len(parts) != 3 * len(names):
        raise ValueError(f"training runs: {len(parts)} inputs for {len(names)} models (3 each)")
    rows = [training_run_row(name, kinds[name], *parts[3 * i : 3 * i + 3]) for i, name in enumerate(names)]
    return training_runs_table(rows)
