"""Metric and threshold arithmetic against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

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
