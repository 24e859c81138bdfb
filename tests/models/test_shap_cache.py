"""shap's masking kernels are compiled once and kept on disk, and the kernels numba cannot
key by value (they take the link function) are not: those would add a file on every run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from fraudctl.model.explainers import contributions


def _cache_files(kernel) -> list[str]:
    cache = kernel._cache
    if type(cache).__name__ == "NullCache":
        return []
    stem = f"{Path(kernel.py_func.__code__.co_filename).stem}.{kernel.py_func.__name__}-"
    return sorted(p.name for p in Path(cache.cache_path).glob(f"{stem}*"))


def test_an_agnostic_explanation_keeps_the_masking_kernel_on_disk_and_adds_up():
    import shap.maskers._tabular as tabular
    import shap.utils._masked_model as masked_model

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(120, 6)), columns=[f"V{i}" for i in range(6)])
    model = LogisticRegression().fit(table, (table.V1 + rng.normal(size=120) > 1).astype(int))
    values, base = contributions(model, "logistic_regression", table[:3], background=table)

    margin = model.decision_function(table[:3])
    np.testing.assert_allclose(values.sum(axis=1) + base, margin, atol=1e-6)
    kept = _cache_files(tabular._delta_masking)
    assert any(name.endswith(".nbi") for name in kept), kept
    # keyed on the link function's identity: a cache would grow by a file every process
    assert _cache_files(masked_model._build_fixed_single_output) == []
