"""shap's fixed-output kernel for the identity link, in a module numba can cache.

shap's ``_build_fixed_single_output`` takes the link function as an argument. numba keys a
compiled function on its argument types, and a function's type is that function object, so
its on-disk cache never matches in the next process and the kernel compiles again, about
3.5 s, in every process that explains a model by permutation (a blend, a network). The
explanations fraudctl asks for use shap's default link, the identity; this is the same loop
with the identity written in, which numba does cache. Same statements, same numbers: the
test compares it with shap's kernel on random batches.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit  # cached by fraudctl.model.shap_cache where a cache folder is writable
def fixed_single_output_identity(
    averaged_outs,
    last_outs,
    outputs,
    batch_positions,
    varying_rows,
    num_varying_rows,
    linearizing_weights,
):  # pragma: no cover - compiled
    sample_count = last_outs.shape[0]
    for i in range(len(averaged_outs)):
        if batch_positions[i] < batch_positions[i + 1]:
            if num_varying_rows[i] == sample_count:
                last_outs[:] = outputs[batch_positions[i] : batch_positions[i + 1]]
            else:
                last_outs[varying_rows[i]] = outputs[batch_positions[i] : batch_positions[i + 1]]
            if linearizing_weights is not None:
                averaged_outs[i] = np.mean(linearizing_weights * last_outs)
            else:
                averaged_outs[i] = np.mean(last_outs)
        else:
            averaged_outs[i] = averaged_outs[i - 1]
