"""A seeded generator of ULB-shaped transactions, so every command runs on a fresh machine.

It imitates what makes the real table hard rather than its exact values:
- about 0.17 % fraud over days of diurnal traffic, with fraud relatively more common at night;
- PCA-like components with decreasing spread and heavy (Student-t) tails, so some
  legitimate rows look extreme too;
- fraud signal spread over a dozen components (the ones that carry it in the real data:
  V14, V17, V12, V10, ...), with a per-fraud intensity drawn from a wide distribution so
  that many frauds sit inside the legitimate cloud: a good model lands well below PR-AUC 1;
- heavy-tailed amounts, card-testing frauds of a few cents, and V2 tied to the amount.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudctl.data.schema import ULB_FEATURES

SECONDS_PER_DAY = 86_400
# Relative traffic per hour of day, shaped like the real table's hourly counts.
HOURLY_TRAFFIC = np.array(
    [
        7.7,
        4.2,
        3.3,
        3.5,
        2.2,
        3.0,
        4.1,
        7.2,
        10.3,
        15.8,
        16.6,
        16.9,
        15.4,
        15.4,
        16.6,
        16.5,
        16.5,
        16.2,
        17.0,
        15.6,
        16.8,
        17.7,
        15.4,
        10.9,
    ]
)
# Spread of V1..V28, decreasing like a PCA's components.
COMPONENT_STD = np.linspace(1.95, 0.33, len(ULB_FEATURES))
# Direction of the fraud signal, in units of each component's spread.
FRAUD_SHIFT = {
    "V17": -4.0,
    "V14": -4.0,
    "V12": -3.3,
    "V10": -2.8,
    "V16": -2.4,
    "V3": -2.4,
    "V7": -2.2,
    "V11": 2.2,
    "V4": 2.6,
    "V2": 1.4,
    "V1": -1.4,
    "V9": -1.3,
    "V18": -1.4,
    "V5": -1.0,
    "V21": 0.6,
    "V19": 0.5,
}
TAIL_DOF = 4.0


def _student_t(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Unit-variance heavy-tailed noise."""
    return rng.standard_t(TAIL_DOF, size=shape) / np.sqrt(TAIL_DOF / (TAIL_DOF - 2.0))


def _sample_times(rng: np.random.Generator, n: int, days: int, night_boost: float) -> np.ndarray:
    """Seconds since the first transaction, following the diurnal traffic profile."""
    profile = HOURLY_TRAFFIC ** (1.0 - night_boost)
    weights = np.tile(profile, days)
    hours = rng.choice(weights.size, size=n, p=weights / weights.sum())
    return (hours * 3600 + rng.uniform(0.0, 3600.0, size=n)).round()


def _legit_amounts(rng: np.random.Generator, n: int) -> np.ndarray:
    large = rng.random(n) < 0.05
    amounts = np.where(large, rng.lognormal(5.0, 1.2, n), rng.lognormal(2.9, 1.25, n))
    return np.clip(amounts, 0.0, 25_000.0).round(2)


def _fraud_amounts(rng: np.random.Generator, n: int) -> np.ndarray:
    card_testing = rng.random(n) < 0.45
    amounts = np.where(card_testing, rng.uniform(0.0, 2.0, n), rng.lognormal(4.2, 1.4, n))
    return np.clip(amounts, 0.0, 5_000.0).round(2)


def generate_transactions(
    n_rows: int = 200_000, fraud_rate: float = 0.0017, days: int = 2, seed: int = 42
) -> pd.DataFrame:
    """``n_rows`` transactions with columns ``Time, V1..V28, Amount, Class``, sorted by time."""
    if n_rows < 2:
        raise ValueError("n_rows must be at least 2")
    rng = np.random.default_rng(seed)
    n_fraud = min(max(2, round(n_rows * fraud_rate)), n_rows - 1)
    n_legit = n_rows - n_fraud
    n_features = len(ULB_FEATURES)

    legit = _student_t(rng, (n_legit, n_features)) * COMPONENT_STD
    shift = np.array([FRAUD_SHIFT.get(name, 0.0) for name in ULB_FEATURES]) * COMPONENT_STD
    # Most frauds are mild: a gamma-distributed intensity puts many of them among legitimate rows.
    intensity = rng.gamma(shape=1.6, scale=0.45, size=(n_fraud, 1))
    fraud = _student_t(rng, (n_fraud, n_features)) * COMPONENT_STD * 1.4 + intensity * shift

    legit_amount = _legit_amounts(rng, n_legit)
    fraud_amount = _fraud_amounts(rng, n_fraud)
    v2 = ULB_FEATURES.index("V2")
    log_amount = np.log1p(np.concatenate([legit_amount, fraud_amount]))
    features = np.vstack([legit, fraud])
    features[:, v2] -= 0.45 * (log_amount - log_amount.mean())

    frame = pd.DataFrame(features, columns=list(ULB_FEATURES))
    frame.insert(
        0,
        "Time",
        np.concatenate(
            [
                _sample_times(rng, n_legit, days, night_boost=0.0),
                _sample_times(rng, n_fraud, days, night_boost=0.8),
            ]
        ),
    )
    frame["Amount"] = np.concatenate([legit_amount, fraud_amount])
    frame["Class"] = np.concatenate([np.zeros(n_legit, np.int8), np.ones(n_fraud, np.int8)])
    return frame.sort_values("Time", kind="stable").reset_index(drop=True)
