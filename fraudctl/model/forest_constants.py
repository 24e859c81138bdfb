"""Numbers the compiled forest and its kernel share; a module of their own so that the
kernel (:mod:`fraudctl.model.forest_kernel`) need not import the forest that loads it."""

from __future__ import annotations

import numpy as np

# LightGBM's kZeroThreshold is the float literal 1e-35f, compared in double precision.
ZERO_THRESHOLD = float(np.float32(1e-35))
BLOCK = 64  # rows per vectorised block
SCALAR_BELOW = 8  # fewer rows than this: the early-stopping scan is cheaper than a block
MAX_LEAVES = 64  # a tree's live-leaf set is one machine word
