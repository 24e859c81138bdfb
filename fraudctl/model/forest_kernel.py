"""The compiled forest's kernel (see :mod:`fraudctl.model.forest` for the method).

A module of its own so that numba's on-disk cache finds it again: a kernel defined inside
a function closes over what it uses, and that closure changes the cache key every run,
which meant compiling again (about 3 s) in every ``fraudctl score``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from fraudctl.model.forest_constants import SCALAR_BELOW, ZERO_THRESHOLD


@numba.njit(inline="always")
def _value(x, row, j):  # pragma: no cover - compiled
    """LightGBM reads a value within 1e-35 of zero as zero (its dense-row reader drops it
    as a sparse zero), so a -1e-36 goes where 0.0 goes, also past a -1e-35 threshold."""
    value = x[row, j]
    return 0.0 if -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD else value


@numba.njit(nogil=True, cache=True, boundscheck=False)
def raw_scores(
    x,
    block_rows,
    starts,
    threshold,
    tree,
    mask,
    nan_right,
    position,
    unique_starts,
    unique_threshold,
    special_feature,
    special_tree,
    special_mask,
    special_threshold,
    special_default_right,
    cat_start,
    cat_words,
    cat_bits,
    leaves,
    full,
    out,
):  # pragma: no cover - compiled
    n, n_features = x.shape
    n_trees = leaves.shape[0]
    # a single row needs one column, a small batch no more than its own
    width = n if n < SCALAR_BELOW else min(block_rows, (n + 15) // 16 * 16)
    alive = np.empty((n_trees, width), mask.dtype)  # leaves still reachable, per row
    block = np.empty((n_features, width))  # the block's rows, feature-major
    rank = np.empty((n_features, width), mask.dtype)  # thresholds below each value
    count = np.empty(width, np.int32)
    acc = np.empty(width)
    for start in range(0, n, width):
        m = min(width, n - start)
        if m < SCALAR_BELOW:  # a few rows: scan each feature's sorted splits, stop early
            w = m
            alive[:, :w] = full
            for i in range(m):
                for j in range(n_features):
                    value = _value(x, start + i, j)
                    if np.isnan(value):
                        for k in range(starts[j], starts[j + 1]):
                            if nan_right[k]:
                                alive[tree[k], i] &= mask[k]
                    else:
                        k = starts[j]
                        while k < starts[j + 1] and threshold[k] < value:
                            alive[tree[k], i] &= mask[k]
                            k += 1
        else:  # a block: rank each value once, then every split is an integer test
            w = min(width, (m + 15) // 16 * 16)  # the last rows repeat the block's last
            alive[:, :w] = full
            for i in range(w):
                row = start + min(i, m - 1)
                for j in range(n_features):
                    block[j, i] = _value(x, row, j)
            for j in range(n_features):
                # rank = how many of the feature's distinct thresholds lie below the value,
                # so ``value > threshold[k]`` is ``rank > position[k]``; NaN ranks 0
                count[:w] = 0
                for u in range(unique_starts[j], unique_starts[j + 1]):
                    bound = unique_threshold[u]
                    for i in range(w):
                        count[i] += block[j, i] > bound
                has_nan = False
                for i in range(w):
                    rank[j, i] = count[i]
                    has_nan |= block[j, i] != block[j, i]
                for k in range(starts[j], starts[j + 1]):
                    t, cut, p = tree[k], mask[k], position[k]
                    if has_nan and nan_right[k]:  # a NaN goes right here as well
                        for i in range(w):
                            right = (rank[j, i] > p) | (block[j, i] != block[j, i])
                            alive[t, i] &= cut if right else full
                    else:
                        for i in range(w):
                            alive[t, i] &= cut if rank[j, i] > p else full
        for s in range(special_feature.shape[0]):  # categorical and zero-as-missing splits
            for i in range(m):
                value = _value(x, start + i, special_feature[s])
                if cat_start[s] >= 0:  # categorical: in the set goes left
                    right = True
                    if not np.isnan(value) and value >= 0:
                        code = np.int64(value)
                        word = code >> 5
                        if word < cat_words[s]:
                            bits = cat_bits[cat_start[s] + word]
                            right = ((bits >> (code & 31)) & 1) == 0
                else:  # missing_type Zero: NaN counts as zero, zero takes the default
                    if np.isnan(value):
                        value = 0.0
                    right = value > special_threshold[s]
                    if -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD:
                        right = special_default_right[s]
                if right:
                    alive[special_tree[s], i] &= special_mask[s]
        acc[:w] = 0.0
        for t in range(n_trees):  # the exit leaf is the leftmost one still alive
            for i in range(w):
                acc[i] += leaves[t, trailing_zeros(alive[t, i])]
        out[start : start + m] = acc[:m]
    return out
