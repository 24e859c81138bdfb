"""Columns that carry row order rather than behaviour: ids and clocks.

A sequential policy number or a seconds-since-start column is unique per row, or rises with
time. A model fitted on it learns where in the file a row sits, which a random split
rewards (PR-AUC 0.19 -> 0.67 on one claims table) and which the single-feature leak guard
cannot see (such a column scores about 0.55 ROC-AUC alone). ``features: all`` stops on
them unless they are declared; evaluate names them when test and out-of-fold scores
disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SAMPLE_ROWS = 200_000
MIN_ROWS = 100
DISTINCT_SHARE = 0.95  # whole numbers or text this unique are ids
ORDER_CORRELATION = 0.99  # |Spearman| with time or row order


def order_like_columns(
    frame: pd.DataFrame, columns: list[str], time: str | None, seed: int = 0
) -> dict[str, str]:
    """Column -> why it looks like an id or a clock, for the columns given."""
    if len(frame) < MIN_ROWS:
        return {}
    if len(frame) > SAMPLE_ROWS:
        frame = frame.sample(n=SAMPLE_ROWS, random_state=seed).sort_index()
    position = np.arange(len(frame), dtype=np.float64)
    clock = _numbers(frame[time]) if time is not None and time in frame else None
    found: dict[str, str] = {}
    for column in columns:
        values = frame[column]
        numbers = _numbers(values)
        whole = numbers is not None and bool(np.all(np.isnan(numbers) | (numbers % 1 == 0)))
        if numbers is None or whole:
            share = values.nunique(dropna=True) / max(int(values.notna().sum()), 1)
            if share >= DISTINCT_SHARE:
                found[column] = f"{share:.0%} of its values are distinct"
                continue
        if numbers is None or np.nanstd(numbers) == 0:
            continue
        for name, reference in (("time", clock), ("row order", position)):
            if reference is None:
                continue
            rho = _spearman(numbers, reference)
            if abs(rho) >= ORDER_CORRELATION:
                found[column] = f"it follows the {name} (Spearman {rho:+.3f})"
                break
    return found


def _numbers(values: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("int64").to_numpy(dtype=np.float64)
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return None
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < MIN_ROWS:
        return 0.0
    ra, rb = rankdata(a[keep]), rankdata(b[keep])
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denominator) if denominator else 0.0


def describe(found: dict[str, str]) -> str:
    return "; ".join(f"{column!r}: {why}" for column, why in found.items())
