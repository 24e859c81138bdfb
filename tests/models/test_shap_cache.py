"""shap's masking kernels are compiled once and kept on disk; the kernel numba cannot key by
value (it takes the link function) is not, since it would add a file on every run, and the
identity link's step goes to a cached copy that gives shap's numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
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


def test_the_identity_link_kernel_is_kept_on_disk():
    import shap.utils._masked_model as masked_model

    from fraudctl.model.shap_kernels import fixed_single_output_identity

    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    model = LogisticRegression().fit(table, (table.a > 0).astype(int))
    contributions(model, "logistic_regression", table[:2], background=table)
    assert hasattr(masked_model._build_fixed_output, "shap_kernel")
    kept = _cache_files(fixed_single_output_identity)
    assert any(name.endswith(".nbi") for name in kept), kept


@given(
    samples=st.integers(1, 12),
    batches=st.lists(st.integers(0, 4), min_size=1, max_size=8),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_the_identity_link_kernel_gives_shaps_numbers(samples, batches, weighted, seed):
    """The same averages as shap's own kernel, bit for bit: full and partial row updates,
    empty batches that carry the last average over, with and without weights."""
    import shap.links
    import shap.utils._masked_model as masked_model

    from fraudctl.model.shap_cache import cache_shap_kernels

    cache_shap_kernels()
    routed = masked_model._build_fixed_output
    rng = np.random.default_rng(seed)
    varying = rng.random((len(batches), samples)) < 0.5
    varying[:, 0] = True  # at least one row varies in each step
    for i, full in enumerate(rng.random(len(batches)) < 0.3):
        varying[i] |= full
    counts = varying.sum(axis=1)
    sizes = [counts[i] if n else 0 for i, n in enumerate(batches)]
    sizes[0] = counts[0]  # the first step is never empty: nothing to carry over
    positions = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    outputs = rng.normal(size=int(positions[-1]))
    weights = rng.random(samples) if weighted else None

    def run(build):
        averaged, last = np.zeros(len(batches)), np.zeros(samples)
        build(averaged, last, outputs, positions, varying, counts, shap.links.identity, weights)
        return averaged

    assert np.array_equal(run(routed), run(routed.shap_kernel), equal_nan=True)
