"""Numbers the compiled forest and its kernel share; a module of their own so that the
kernel (:mod:`fraudctl.model.forest_kernel`) need not import the forest that loads it."""

from __future__ import annotations

import numpy as np

# LightGBM's kZeroThreshold is the float literal 1e-35f, compared in double precision.
ZERO_THRESHOLD = float(np.float32(1e-35))
BLOCK = 256  # rows per vectorised block: the per-split work is spread over more rows...
MIN_BLOCK = 64  # ...unless the block's live-leaf words would outgrow BLOCK_BYTES
BLOCK_BYTES = 1 << 20  # about a core's L2 cache
SCALAR_BELOW = 8  # fewer rows than this: the early-stopping scan is cheaper than a block
MAX_LEAVES = 64  # a tree's live-leaf set is one machine word
