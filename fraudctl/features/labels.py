"""Label columns of raw rows as the history features' kernel reads them: 0/1 arrays of the
target (chargebacks, or labels loaded with the history), and bit masks by source when an
analysts' label column sits beside it (:mod:`fraudctl.features.kernel`)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def label_arrays(frame: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, fraud) as 0/1 int64; rows without a known label count as unlabelled."""
    if target not in frame.columns:
        zeros = np.zeros(len(frame), dtype=np.int64)
        return zeros, zeros.copy()
    labels = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
    labelled = (~np.isnan(labels)).astype(np.int64)
    fraud = np.where(labelled == 1, labels, 0).astype(np.int64)
    return labelled, fraud


def source_labels(
    frame: pd.DataFrame, target: str, analyst: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, fraud) as bit masks by source (:mod:`fraudctl.features.kernel`): the
    target is the chargeback (bit 0), ``analyst``'s column the analysts' label (bit 1)."""
    labelled, fraud = label_arrays(frame, target)
    if analyst is None or analyst not in frame.columns:
        return labelled, fraud
    by_analyst, analyst_fraud = label_arrays(frame, analyst)
    return labelled | (by_analyst << 1), fraud | (analyst_fraud << 1)
