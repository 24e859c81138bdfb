"""The compiled forest's kernel (see :mod:`fraudctl.model.forest` for the method).

A module of its own so that numba's on-disk cache finds it again: a kernel defined inside
a function closes over what it uses, and that closure changes the cache key every run,
which meant compiling again (about 3 s) in every ``fraudctl score``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from fraudctl.model.forest_constants import BLOCK, SCALAR_BELOW, ZERO_THRESHOLD


@numba.njit(nogil=True, cache=True, boundscheck=False)
def raw_scores(
    x,
    starts,
    threshold,
    tree,
    mask,
    nan_right,
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
    columns = BLOCK if n >= SCALAR_BELOW else n  # a single row needs one column, not 64
    alive = np.empty((n_trees, columns), mask.dtype)  # leaves still reachable, per row
    block = np.empty((n_features, BLOCK))  # the block's rows, feature-major
    acc = np.empty(BLOCK)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        alive[:, :m] = full
        if m < SCALAR_BELOW:  # a few rows: scan each feature's sorted splits, stop early
            for i in range(m):
                for j in range(n_features):
                    value = x[start + i, j]
                    if np.isnan(value):
                        for k in range(starts[j], starts[j + 1]):
                            if nan_right[k]:
                                alive[tree[k], i] &= mask[k]
                    else:
                        k = starts[j]
                        while k < starts[j + 1] and threshold[k] < value:
                            alive[tree[k], i] &= mask[k]
                            k += 1
        else:  # a full block: every split against every row, vectorised over the rows
            alive[:, m:] = full
            for i in range(BLOCK):
                row = start + min(i, m - 1)
                for j in range(n_features):
                    block[j, i] = x[row, j]
            for j in range(n_features):
                for k in range(starts[j], starts[j + 1]):
                    t, cut, bound, nan_goes_right = tree[k], mask[k], threshold[k], nan_right[k]
                    for i in range(BLOCK):
                        value = block[j, i]
                        right = (value > bound) | ((value != value) & nan_goes_right)
                        alive[t, i] &= cut if right else full
        for s in range(special_feature.shape[0]):  # categorical and zero-as-missing splits
            for i in range(m):
                value = x[start + i, special_feature[s]]
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
        acc[:m] = 0.0
        for t in range(n_trees):  # the exit leaf is the leftmost one still alive
            for i in range(m):
                acc[i] += leaves[t, trailing_zeros(alive[t, i])]
        out[start : start + m] = acc[:m]
    return out
