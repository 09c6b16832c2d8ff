"""The one home of metrics: distributions, classification and ecological validity.

Functions here take plain arrays (counts, share matrices, integer label codes) and return numbers, so
that the ensemble's model selection and the film report compute the same quantity the same way.
Tables (per model, per film, per genre) are assembled by their callers; the definitions live here and
are documented in ``docs/metrics.md``.

Label codes: an emotion is its index in the caller's class list; ``-1`` marks a row without a known
emotion, which every function below counts nowhere (never as a class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

UNKNOWN_CODE = -1

# ---------------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------------


def encode_labels(labels: Sequence[object], classes: Sequence[str]) -> np.ndarray:
    """Integer codes of ``labels`` in ``classes``; anything else (None, NaN, other names) becomes -1."""
    index = {name: i for i, name in enumerate(classes)}
    return np.fromiter((index.get(x, UNKNOWN_CODE) for x in labels), dtype=np.int64, count=len(labels))


def label_counts(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts per class of integer codes (codes outside ``[0, n_classes)`` are not counted)."""
    codes = np.asarray(codes)
    return np.bincount(codes[(codes >= 0) & (codes < n_classes)], minlength=n_classes)


def shares(counts: np.ndarray) -> np.ndarray:
    """Normalise counts along the last axis; rows that count nothing become NaN (no distribution)."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1.0), np.nan)


def normalised_entropy(p: np.ndarray) -> np.ndarray | float:
    """Shannon entropy of distributions along the last axis divided by ``log K`` (K = its length).

    1 means every class equally often, 0 means a single class; ``0 log 0 = 0``. Dividing by the
    size of the shared class list (not by the classes a model happens to use) keeps models comparable.
    """
    p = np.asarray(p, dtype=float)
    k = p.shape[-1]
    if k < 2:
        raise ValueError(f"normalised entropy needs at least 2 classes, got {k}")
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = terms.sum(axis=-1) / np.log(k)
    h = np.where(np.isnan(p).any(axis=-1), np.nan, h)
    return float(h) if np.ndim(h) == 0 else h


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray | float:
    """Jensen–Shannon divergence in bits (0 = same distribution, 1 = disjoint), along the last axis."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    m = 0.5 * (p + q)

    def _kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(a > 0, a * np.log2(np.where(a > 0, a, 1.0) / np.where(b > 0, b, 1.0)), 0.0).sum(
                axis=-1
            )

    d = 0.5 * _kl(p, m) + 0.5 * _kl(q, m)
    d = np.clip(d, 0.0, 1.0)
    return float(d) if np.ndim(d) == 0 else d


# ---------------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------------


def confusion_matrix(true_codes: np.ndarray, pred_codes: np.ndarray, n_classes: int) -> np.ndarray:
    """K×K counts, rows = truth, columns = prediction; pairs with an unknown code (-1) are left out."""
    t = np.asarray(true_codes)
    p = np.asarray(pred_codes)
    if t.shape != p.shape:
        raise ValueError(f"truth and prediction differ in length: {t.shape} vs {p.shape}")
    ok = (t >= 0) & (t < n_classes) & (p >= 0) & (p < n_classes)
    flat = t[ok] * n_classes + p[ok]
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(cm: np.ndarray) -> float:
    """Share of the confusion matrix on its diagonal (NaN when it counts nothing)."""
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """Recall of each class (NaN for a class absent from the truth)."""
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.where(support > 0, support, 1), np.nan)


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """F1 of each class; NaN for a class absent from both truth and prediction, 0 when never right."""
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    denom = support + predicted
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), np.nan)


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over the classes present in the truth or the predictions (absent classes do not count)."""
    f1 = per_class_f1(cm)
    return float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")


def cohen_kappa(cm: np.ndarray) -> float:
    """Cohen's kappa of two raters from their K×K agreement counts: (p_o - p_e) / (1 - p_e).

    1 = perfect agreement, 0 = what the two marginal distributions agree by chance, < 0 = worse.
    When both raters always give one and the same class (p_e = 1), kappa is undefined (NaN).
    """
    n = cm.sum()
    if n == 0:
        return float("nan")
    p_o = np.trace(cm) / n
    p_e = float((cm.sum(axis=0) * cm.sum(axis=1)).sum()) / n**2
    if np.isclose(p_e, 1.0):
        return float("nan")
    return float((p_o - p_e) / (1.0 - p_e))


def expected_calibration_error(probs: np.ndarray, true_codes: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error: mean |accuracy - confidence| over equal-width confidence bins,
    weighted by the share of rows in each bin (Guo et al. 2017). Rows with an unknown code are left out.

    0 = the confidence of the predicted class is exactly how often it is right; NaN without rows.
    """
    probs = np.asarray(probs, dtype=float)
    codes = np.asarray(true_codes)
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins!r}")
    keep = (codes >= 0) & (codes < probs.shape[1]) if probs.ndim == 2 else np.zeros(0, bool)
    probs, codes = probs[keep], codes[keep]
    if len(codes) == 0:
        return float("nan")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == codes
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total / len(codes))


# ---------------------------------------------------------------------------------------------------
# Ecological validity
# ---------------------------------------------------------------------------------------------------


def top_k(share: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Indices of the ``k`` largest shares (ties: earlier class first) and their combined share.

    ``k = 1`` is the *collapse* of a distribution: the share of its most frequent emotion.
    """
    share = np.asarray(share, dtype=float)
    if np.isnan(share).all():
        return np.array([], dtype=np.int64), float("nan")
    order = np.argsort(-np.nan_to_num(share, nan=-1.0), kind="stable")[:k]
    return order, float(np.nansum(share[order]))


def rolling_shares(
    times: np.ndarray, codes: np.ndarray, n_classes: int, window: float
) -> tuple[np.ndarray, np.ndarray]:
    """Emotion shares in a centred time window, evaluated at each distinct time.

    Every face within ``[t - window/2, t + window/2]`` counts once; faces with an unknown code count
    in no class. Returns the sorted distinct times and a (T, K) share matrix (NaN where the window
    holds no known emotion).
    """
    if window <= 0:
        raise ValueError(f"window must be positive, got {window!r}")
    times = np.asarray(times, dtype=float)
    codes = np.asarray(codes)
    keep = np.isfinite(times)
    times, codes = times[keep], codes[keep]
    order = np.argsort(times, kind="stable")
    times, codes = times[order], codes[order]
    onehot = np.zeros((len(codes), n_classes))
    known = (codes >= 0) & (codes < n_classes)
    onehot[np.flatnonzero(known), codes[known]] = 1.0
    cum = np.vstack([np.zeros((1, n_classes)), np.cumsum(onehot, axis=0)])
    at = np.unique(times)
    lo = np.searchsorted(times, at - window / 2, side="left")
    hi = np.searchsorted(times, at + window / 2, side="right")
    return at, shares(cum[hi] - cum[lo])


@dataclass(frozen=True)
class TemporalVariation:
    """How much a film's emotion mix moves over time (see ``docs/metrics.md``)."""

    duration_min: float
    switches: int
    switches_per_min: float
    mean_abs_change: float


def temporal_variation(
    times: np.ndarray, codes: np.ndarray, n_classes: int, window: float
) -> TemporalVariation:
    """Dominant-emotion switches per minute and mean absolute change of the rolling shares.

    The dominant emotion at a time is the largest rolling share (ties: earlier class). A switch is a
    change of dominant emotion between consecutive times. The change between consecutive rolling share
    vectors is their total-variation distance (half the L1 distance, in [0, 1]); its mean is reported.
    Films with fewer than two distinct times, or no duration, give NaN (nothing to vary).
    """
    at, sh = rolling_shares(times, codes, n_classes, window)
    valid = ~np.isnan(sh).any(axis=1)
    at, sh = at[valid], sh[valid]
    duration = float((at[-1] - at[0]) / 60.0) if len(at) else 0.0
    if len(at) < 2 or duration <= 0:
        return TemporalVariation(duration, 0, float("nan"), float("nan"))
    dominant = np.argmax(sh, axis=1)
    switches = int(np.count_nonzero(dominant[1:] != dominant[:-1]))
    change = 0.5 * np.abs(np.diff(sh, axis=0)).sum(axis=1)
    return TemporalVariation(duration, switches, switches / duration, float(change.mean()))


@dataclass(frozen=True)
class GenreSeparation:
    """Difference of mean emotion shares of two groups of films, and their JS divergence, with CIs."""

    share_a: np.ndarray
    share_b: np.ndarray
    diff: np.ndarray
    diff_low: np.ndarray
    diff_high: np.ndarray
    jsd: float
    jsd_low: float
    jsd_high: float


def genre_separation(
    films_a: np.ndarray, films_b: np.ndarray, n_resamples: int, confidence: float, seed: int
) -> GenreSeparation:
    """Separation of two genres from per-film share vectors (rows = films, columns = emotions).

    Each genre's distribution is the mean of its films' shares, so every film weighs the same however
    many faces it has. Percentile bootstrap intervals resample films with replacement within each genre
    (films are the unit of replication). ``diff = share_a - share_b``; JSD is between the two means.
    """
    a = np.asarray(films_a, dtype=float)
    b = np.asarray(films_b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"film share matrices must be (films, classes) alike, got {a.shape} and {b.shape}")
    if len(a) == 0 or len(b) == 0:
        raise ValueError("each genre needs at least one film with faces")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence!r}")
    rng = np.random.default_rng(seed)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    boot_a = a[rng.integers(0, len(a), size=(n_resamples, len(a)))].mean(axis=1)
    boot_b = b[rng.integers(0, len(b), size=(n_resamples, len(b)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    diff_lo, diff_hi = np.percentile(boot_a - boot_b, [tail, 100 - tail], axis=0)
    boot_jsd = js_divergence(boot_a, boot_b)
    jsd_lo, jsd_hi = np.percentile(boot_jsd, [tail, 100 - tail])
    return GenreSeparation(
        share_a=mean_a,
        share_b=mean_b,
        diff=mean_a - mean_b,
        diff_low=diff_lo,
        diff_high=diff_hi,
        jsd=float(js_divergence(mean_a, mean_b)),
        jsd_low=float(jsd_lo),
        jsd_high=float(jsd_hi),
    )
