"""Keep shap's compiled masking kernels on disk between processes.

shap compiles the permutation explainer's masking kernels with numba in every process and
does not ask numba to cache them, so each ``fraudctl experiment fairness`` of a blend, and
each first explanation in a server or web app, spent about 4 s (twice that on a busy
machine) compiling the same code. numba keeps a dispatcher's machine code on disk once
caching is enabled on it; this module enables it for the kernels whose arguments are all
arrays and numbers.

The kernel that takes the link function as an argument (``_build_fixed_single_output``)
cannot be cached as it is: numba keys its cache on that function object's identity, which
differs in every process, so caching it would only add a new file on every run. For the
identity link, the one fraudctl's explanations use, shap's ``_build_fixed_output`` is
routed to the same loop with the identity written in (:mod:`fraudctl.model.shap_kernels`),
which caches; any other link, and several outputs, go to shap's own kernels as before.

The kernels are looked up by name in shap's modules; a shap release that renames or moves
them only loses the saving (nothing here is required for an explanation to be right).
"""

from __future__ import annotations

import importlib
from typing import Any

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
    if _route_identity_link():
        enabled.append("shap.utils._masked_model._build_fixed_output (identity link)")
    return enabled


def _route_identity_link() -> bool:
    """Send shap's fixed-output step for one output and the identity link to the cached
    kernel; False where shap's names moved or no cache folder is writable."""
    try:
        from shap import links
        from shap.utils import _masked_model as masked_model
    except ImportError:
        return False
    shap_build = getattr(masked_model, "_build_fixed_output", None)
    upcast = getattr(masked_model, "_upcast_array", None)
    identity = getattr(links, "identity", None)
    if shap_build is None or upcast is None or identity is None:
        return False
    from fraudctl.model.shap_kernels import fixed_single_output_identity

    try:
        fixed_single_output_identity.enable_caching()
    except RuntimeError:  # no writable cache folder: shap's own kernel, compiled as before
        return False

    def build_fixed_output(*arguments: Any) -> None:
        # shap's signature: (averaged_outs, last_outs, outputs, batch_positions,
        # varying_rows, num_varying_rows, link, linearizing_weights)
        averaged, last, outputs, *rows, link, weights = arguments
        if link is not identity or last.ndim != 1:
            return shap_build(*arguments)
        arrays = (upcast(averaged), upcast(last), upcast(outputs))
        fixed_single_output_identity(*arrays, *rows, weights)
        return None

    build_fixed_output.shap_kernel = shap_build  # type: ignore[attr-defined]
    masked_model._build_fixed_output = build_fixed_output
    return True
