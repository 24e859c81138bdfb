"""The leak guard: a feature that alone separates the classes is almost always a label in
disguise (a chargeback flag, a status column, a feature built from future labels).

``train`` stops with the feature's name rather than registering a perfect-looking model
that would then win the champion comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudctl.errors import DataError

SAMPLE_ROWS = 200_000


def single_feature_auc(values: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC of one feature used as a score in either direction (so always >= 0.5)."""
    from scipy.stats import rankdata

    filled = np.where(np.isnan(values), -np.inf, values)
    ranks = rankdata(filled)
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(max(auc, 1.0 - auc))


def check_for_leaks(
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    limit: float,
    allowed: list[str],
    seed: int,
) -> dict[str, float]:
    """Single-feature AUCs on (a sample of) the train split; raise on any at the limit."""
    if len(frame) > SAMPLE_ROWS:
        frame = frame.sample(n=SAMPLE_ROWS, random_state=seed)
    labels = frame[target].to_numpy()
    aucs = {
        name: single_feature_auc(frame[name].to_numpy(dtype=np.float64), labels)
        for name in features
    }
    leaks = {name: auc for name, auc in aucs.items() if auc >= limit and name not in allowed}
    if leaks:
        listed = ", ".join(f"{name!r} (ROC-AUC {auc:.4f})" for name, auc in leaks.items())
        raise DataError(
            f"possible label leak: {listed} alone separates fraud from legitimate rows on the "
            f"train split (limit features.leak_guard_auc = {limit}); drop the column with "
            "data.schema.exclude, or list it in features.leak_guard_allow if it is genuine"
        )
    return aucs
