"""Metric definitions, checked on cases small enough to compute by hand (and against scikit-learn)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from expressions_ensemble import metrics

# --- distributions ---------------------------------------------------------------------------------


def test_encode_labels_marks_unknowns() -> None:
    codes = metrics.encode_labels(["happy", None, "sad", "joy", float("nan")], ["happy", "sad"])
    assert codes.tolist() == [0, -1, 1, -1, -1]


def test_label_counts_ignore_unknown_codes() -> None:
    assert metrics.label_counts(np.array([0, 1, 1, -1, 5]), 3).tolist() == [1, 2, 0]


def test_shares_of_empty_row_is_nan() -> None:
    out = metrics.shares(np.array([[1, 3], [0, 0]]))
    assert out[0].tolist() == [0.25, 0.75]
    assert np.isnan(out[1]).all()


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        ([0.25, 0.25, 0.25, 0.25], 1.0),
        ([1.0, 0.0, 0.0, 0.0], 0.0),
        ([0.5, 0.5, 0.0, 0.0], math.log(2) / math.log(4)),
    ],
)
def test_normalised_entropy(p: list[float], expected: float) -> None:
    assert metrics.normalised_entropy(np.array(p)) == pytest.approx(expected)


def test_normalised_entropy_rows_and_nan() -> None:
    out = metrics.normalised_entropy(np.array([[0.5, 0.5], [np.nan, np.nan]]))
    assert out[0] == pytest.approx(1.0)
    assert np.isnan(out[1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        metrics.normalised_entropy(np.array([1.0]))


def test_js_divergence_bounds_and_hand_value() -> None:
    assert metrics.js_divergence(np.array([0.3, 0.7]), np.array([0.3, 0.7])) == pytest.approx(0.0)
    assert metrics.js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    # p = (1, 0), q = (.5, .5): m = (.75, .25); KL(p|m) = log2(4/3); KL(q|m) = .5 log2(2/3) + .5 log2(2)
    expected = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5)
    assert metrics.js_divergence(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(expected)


# --- classification --------------------------------------------------------------------------------


def test_confusion_accuracy_f1_by_hand() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2, -1])
    pred = np.array([0, 0, 1, 1, 0, 2, 0])
    cm = metrics.confusion_matrix(truth, pred, 3)
    assert cm.tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert metrics.accuracy(cm) == pytest.approx(4 / 6)
    # F1: class 0 = 2*2/(3+3), class 1 = 2*1/(2+2), class 2 = 1
    assert metrics.per_class_f1(cm).tolist() == pytest.approx([2 / 3, 0.5, 1.0])
    assert metrics.macro_f1(cm) == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)
    assert metrics.per_class_recall(cm).tolist() == pytest.approx([2 / 3, 0.5, 1.0])


def test_macro_f1_leaves_out_absent_classes() -> None:
    cm = metrics.confusion_matrix(np.array([0, 1]), np.array([0, 1]), 4)
    assert metrics.macro_f1(cm) == pytest.approx(1.0)
    assert np.isnan(metrics.per_class_recall(cm)[2])


def test_confusion_matrix_length_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        metrics.confusion_matrix(np.array([0]), np.array([0, 1]), 2)


def test_cohen_kappa_textbook_example() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o = .7, p_e = .5, kappa = .4
    cm = np.array([[20, 5], [10, 15]])
    assert metrics.cohen_kappa(cm) == pytest.approx(0.4)
    assert metrics.cohen_kappa(np.array([[10, 0], [0, 10]])) == pytest.approx(1.0)
    assert np.isnan(metrics.cohen_kappa(np.array([[10, 0], [0, 0]])))
    assert np.isnan(metrics.cohen_kappa(np.zeros((2, 2))))


def test_classification_agrees_with_sklearn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, 500)
    b = np.where(rng.random(500) < 0.6, a, rng.integers(0, 5, 500))
    cm = metrics.confusion_matrix(a, b, 5)
    assert metrics.cohen_kappa(cm) == pytest.approx(sk.cohen_kappa_score(a, b))
    assert metrics.macro_f1(cm) == pytest.approx(sk.f1_score(a, b, average="macro"))
    assert metrics.accuracy(cm) == pytest.approx(sk.accuracy_score(a, b))


# --- ecological validity ---------------------------------------------------------------------------


def test_top_k_ties_take_the_earlier_class() -> None:
    idx, share = metrics.top_k(np.array([0.3, 0.1, 0.3, 0.3]), 2)
    assert idx.tolist() == [0, 2]
    assert share == pytest.approx(0.6)
    idx, share = metrics.top_k(np.array([np.nan, np.nan]), 1)
    assert len(idx) == 0 and np.isnan(share)


def test_rolling_shares_centred_window() -> None:
    times = np.array([0.0, 10.0, 20.0, 30.0, np.nan])
    codes = np.array([0, 0, 1, -1, 1])
    at, sh = metrics.rolling_shares(times, codes, 2, window=20.0)
    assert at.tolist() == [0.0, 10.0, 20.0, 30.0]
    # window [t-10, t+10]: t=0 -> {0,0}; t=10 -> {0,0,1}; t=20 -> {0,1,unknown}; t=30 -> {1, unknown}
    np.testing.assert_allclose(sh, [[1, 0], [2 / 3, 1 / 3], [0.5, 0.5], [0, 1]])
    with pytest.raises(ValueError, match="window"):
        metrics.rolling_shares(times, codes, 2, window=0)


def test_temporal_variation_counts_switches() -> None:
    times = np.arange(0, 600, 10.0)  # 10 minutes, one face every 10 s
    blocks = (np.arange(len(times)) // 15) % 2  # 0 for 150 s, then 1, then 0, then 1
    tv = metrics.temporal_variation(times, blocks, 2, window=10.0)
    assert tv.duration_min == pytest.approx(590 / 60)
    assert tv.switches == 3
    assert tv.switches_per_min == pytest.approx(3 / (590 / 60))
    # with a window holding one face, each switch moves the whole distribution (change 1), else 0
    assert tv.mean_abs_change == pytest.approx(3 / (len(times) - 1))
    steady = metrics.temporal_variation(times, np.zeros(len(times), dtype=int), 2, window=60.0)
    assert steady.switches == 0 and steady.mean_abs_change == 0.0
    single = metrics.temporal_variation(np.array([5.0]), np.array([0]), 2, window=60.0)
    assert np.isnan(single.switches_per_min)


def test_genre_separation_separated_and_identical() -> None:
    comedy = np.array([[0.8, 0.2], [0.7, 0.3], [0.9, 0.1], [0.75, 0.25]])
    crime = np.array([[0.2, 0.8], [0.1, 0.9], [0.3, 0.7]])
    res = metrics.genre_separation(comedy, crime, n_resamples=500, confidence=0.95, seed=1)
    assert res.diff[0] == pytest.approx(comedy[:, 0].mean() - crime[:, 0].mean())
    assert res.diff_low[0] > 0 and res.diff_high[1] < 0
    assert res.diff_low[0] <= res.diff[0] <= res.diff_high[0]
    assert res.jsd == pytest.approx(metrics.js_divergence(comedy.mean(0), crime.mean(0)))
    assert res.jsd_low <= res.jsd_high
    same = metrics.genre_separation(comedy, comedy, n_resamples=500, confidence=0.95, seed=1)
    assert same.diff_low[0] < 0 < same.diff_high[0]
    again = metrics.genre_separation(comedy, crime, n_resamples=500, confidence=0.95, seed=1)
    assert again.diff_low.tolist() == res.diff_low.tolist()


def test_genre_separation_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one film"):
        metrics.genre_separation(np.empty((0, 2)), np.ones((2, 2)) / 2, 100, 0.95, 0)
    with pytest.raises(ValueError, match="alike"):
        metrics.genre_separation(np.ones((2, 2)) / 2, np.ones((2, 3)) / 3, 100, 0.95, 0)
    with pytest.raises(ValueError, match="confidence"):
        metrics.genre_separation(np.ones((2, 2)) / 2, np.ones((2, 2)) / 2, 100, 1.5, 0)
