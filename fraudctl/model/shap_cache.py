"""Keep shap's compiled masking kernels on disk between processes.

shap compiles the permutation explainer's masking kernels with numba in every process and
does not ask numba to cache them, so each ``fraudctl experiment fairness`` of a blend, and
each first explanation in a server or web app, spent about 4 s (twice that on a busy
machine) compiling the same code. numba keeps a dispatcher's machine code on disk once
caching is enabled on it; this module enables it for the kernels whose arguments are all
arrays and numbers.

Left out on purpose: the kernels that take the link function as an argument
(``_build_fixed_*_output``). numba keys their cache on that function object's identity,
which differs in every process, so caching them would only add a new file to shap's cache
folder on every run. They still compile, in about 3 s.

The kernels are looked up by name in shap's modules; a shap release that renames or moves
them only loses the saving (nothing here is required for an explanation to be right).
"""

from __future__ import annotations

import importlib

# module -> kernels whose arguments are arrays and scalars only (shap 0.4x-0.5x)
KERNELS: dict[str, tuple[str, ...]] = {
    "shap.maskers._tabular": ("_delta_masking", "_single_delta_mask"),
    "shap.utils._masked_model": ("_init_masks", "_rec_fill_masks"),
    "shap.links": ("identity", "logit"),
}

_enabled = False


def cache_shap_kernels() -> list[str]:
    """Enable numba's on-disk cache on shap's array-only kernels, once per process.
    Returns the kernels it enabled (empty when already done or nothing was found)."""
    global _enabled
    if _enabled:
        return []
    _enabled = True
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # shap without numba: nothing is compiled
        return []
    enabled: list[str] = []
    for module_name, names in KERNELS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            kernel = getattr(module, name, None)
            if not isinstance(kernel, Dispatcher):
                continue
            try:
                kernel.enable_caching()
            except RuntimeError:  # no writable cache folder (a read-only image): compile
                continue
            enabled.append(f"{module_name}.{name}")
    return enabled
