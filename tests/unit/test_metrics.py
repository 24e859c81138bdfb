"""Metric and threshold arithmetic against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudctl.config import ThresholdParams
from fraudctl.model import metrics as m
from fraudctl.model.threshold import choose_threshold

Y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1, 0.05])
AMOUNTS = np.array([100.0, 1.0, 50.0, 1.0, 1.0, 500.0, 1.0, 1.0])


def test_counts_and_rates_at_threshold():
    counts = m.counts_at(Y, S, 0.7)
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (2, 1, 1, 4)
    assert counts.precision == pytest.approx(2 / 3)
    assert counts.recall == pytest.approx(2 / 3)
    assert counts.false_positive_rate == pytest.approx(1 / 5)


def test_ranking_metrics():
    # Average precision: precision at each fraud's rank, averaged: (1/1 + 2/3 + 3/6) / 3.
    assert m.pr_auc(Y, S) == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    assert m.precision_at_k(Y, S, 3) == pytest.approx(2 / 3)
    # With FPR <= 0.2 (one false positive of five) the best recall is 2/3.
    assert m.recall_at_fpr(Y, S, 0.2) == pytest.approx(2 / 3)
    assert m.recall_at_fpr(Y, S, 0.0) == pytest.approx(1 / 3)


def test_money_terms():
    money = m.money(Y, S, AMOUNTS, 0.7, review_cost=2.0)
    assert money == {
        "fraud_amount_caught": 150.0,
        "fraud_amount_missed": 500.0,
        "expected_cost": 3 * 2.0 + 500.0,
    }


def test_max_f1_threshold():
    choice = choose_threshold(Y, S, AMOUNTS, ThresholdParams(strategy="max_f1"))
    # Candidates: 0.9 -> F1 .5, 0.7 -> .667, 0.2 -> .667 (p=.5, r=1); first maximum wins.
    assert choice.value == pytest.approx(0.7)


def test_min_precision_threshold_maximises_recall():
    choice = choose_threshold(
        Y, S, AMOUNTS, ThresholdParams(strategy="min_precision", min_precision=0.6)
    )
    assert choice.value == pytest.approx(0.7) and choice.satisfied


def test_min_precision_unreachable_falls_back_and_says_so():
    y = np.array([0, 1, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.6])
    choice = choose_threshold(
        y, s, np.ones(4), ThresholdParams(strategy="min_precision", min_precision=0.9)
    )
    assert not choice.satisfied and "fell back" in choice.note


def test_min_cost_threshold_weighs_reviews_against_losses():
    cheap = choose_threshold(Y, S, AMOUNTS, ThresholdParams(strategy="min_cost", review_cost=1.0))
    # Flagging down to 0.2 costs 6 reviews and loses nothing: cheaper than missing the 500.
    assert cheap.value == pytest.approx(0.2)
    dear = choose_threshold(Y, S, AMOUNTS, ThresholdParams(strategy="min_cost", review_cost=1000.0))
    assert dear.value > S.max() and "nothing is flagged" in dear.note


# --- the drawn curves against scikit-learn's on the same scores ---------------------------


def _distance_to_polyline(points: np.ndarray, line: np.ndarray, block: int = 4096) -> np.ndarray:
    """Each point's distance to the polyline through ``line``'s rows, in order: points x
    segments at once, ``block`` points at a time (200,000 points at once took 30 s in
    arrays of gigabytes; in blocks, 5 s)."""
    if len(line) == 1:
        return np.hypot(*(points - line[0]).T)
    a, b = line[:-1], line[1:]
    ab = b - a
    length = np.maximum((ab**2).sum(axis=1), 1e-300)
    distances = np.empty(len(points))
    for start in range(0, len(points), block):
        chunk = points[start : start + block, None, :]
        t = np.clip(((chunk - a) * ab).sum(axis=2) / length, 0.0, 1.0)
        nearest = a + t[..., None] * ab
        distances[start : start + block] = np.sqrt(((chunk - nearest) ** 2).sum(axis=2)).min(1)
    return distances


def _full_and_drawn(y, s):
    from sklearn.metrics import precision_recall_curve, roc_curve

    precision, recall, _ = precision_recall_curve(y, s)
    fpr, tpr, _ = roc_curve(y, s)
    return [
        (np.column_stack([recall[::-1], precision[::-1]]), m.pr_curve(y, s).to_numpy()),
        (np.column_stack([fpr, tpr]), m.roc_curve_frame(y, s).to_numpy()),
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 4000).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < n),
            st.lists(st.integers(0, 60), min_size=n, max_size=n),  # many ties
        )
    )
)
def test_drawn_curves_are_scikit_learns_curves(data):
    y, s = np.array(data[0]), np.array(data[1], dtype=float) / 60
    for full, drawn in _full_and_drawn(y, s):
        assert len(drawn) <= m.MAX_CURVE_POINTS
        assert (drawn[0] == full[0]).all() and (drawn[-1] == full[-1]).all()
        # every drawn point is one of scikit-learn's, in its order
        rows = [np.flatnonzero((full == point).all(axis=1)) for point in drawn]
        assert all(len(r) for r in rows)
        # and every one of scikit-learn's points lies on the drawn line
        assert _distance_to_polyline(full, drawn).max() < 1e-12


def test_a_long_curve_stays_within_one_spacing_of_scikit_learns():
    rng = np.random.default_rng(3)
    y = (rng.random(200_000) < 0.02).astype(int)  # ~4,000 frauds: too many turns to keep
    s = rng.random(200_000) + y * rng.random(200_000)
    for full, drawn in _full_and_drawn(y, s):
        assert len(drawn) <= m.MAX_CURVE_POINTS
        length = np.hypot(*np.diff(full, axis=0).T).sum()
        assert _distance_to_polyline(full, drawn).max() <= length / (m.MAX_CURVE_POINTS - 1)


def test_the_high_precision_start_of_a_rare_class_curve_is_drawn():
    """57,000 test rows, 100 frauds, the top half of them above every legitimate row: the
    curve holds precision 1.0 to recall 0.5. Points evenly spaced by threshold kept almost
    none of that stretch and drew a straight line from (0, 1) to (0.77, 0.53)."""
    rng = np.random.default_rng(0)
    y = np.zeros(57_000, dtype=int)
    y[:100] = 1
    s = rng.random(57_000) * 0.9
    s[:50] = 0.95 + rng.random(50) * 0.05
    drawn = m.pr_curve(y, s)
    assert ((drawn["recall"] == 0.5) & (drawn["precision"] == 1.0)).any()
    assert drawn.loc[drawn["recall"] > 0.5, "precision"].max() < 1.0


def test_calibration_bins_hold_equal_expected_frauds():
    rng = np.random.default_rng(1)
    p = rng.beta(0.05, 20, 100_000)  # mostly near zero, as a fraud model's scores
    y = (rng.random(100_000) < p).astype(int)
    frame = m.calibration_frame(y, p, 10)
    assert list(frame.columns) == ["predicted", "observed", "rows"]
    assert frame["rows"].sum() == 100_000
    expected = [p[np.argsort(p)][a:b].sum() for a, b in _bounds(frame["rows"])]
    assert np.ptp(expected) < 0.25 * np.mean(expected)
    assert frame["predicted"].is_monotonic_increasing
    assert (frame["predicted"] > 1e-3).sum() >= 5  # not all in the corner
    assert np.allclose(frame["observed"], frame["predicted"], rtol=0.5, atol=2e-3)


def _bounds(rows):
    ends = np.cumsum(rows.to_numpy())
    return zip(np.concatenate([[0], ends[:-1]]), ends, strict=True)
