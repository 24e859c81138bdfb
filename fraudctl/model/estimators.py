"""A configured, unfitted estimator for ``model`` in params.yaml, read from the family table.

Hyper-parameters are already checked (:func:`fraudctl.model.families.model_spec`);
``base.seed`` reaches every estimator that draws random numbers, and ``model.imbalance``
wraps any family with its resampling (which only ever sees the rows being fitted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fraudctl.model.families import BuildContext, ModelSpec, family, requirements_of
from fraudctl.model.imbalance import with_resampling


def build_estimator(
    params: ModelSpec, seed: int, features: Sequence[str], categorical: Sequence[str] = ()
) -> tuple[Any, dict[str, Any]]:
    """A fresh classifier for ``params.name`` and the keyword arguments its ``fit`` takes
    (LightGBM is told its categorical columns there)."""
    chosen = family(params.name)
    context = BuildContext(params, seed, tuple(features), tuple(categorical))
    estimator = with_resampling(
        chosen.build(context),
        params.imbalance,
        params.name,
        [list(features).index(c) for c in categorical],
        seed,
    )
    return estimator, chosen.fit_options(context)


def library_requirements(params: ModelSpec) -> list[str]:
    """Pinned packages an MLflow model of this kind needs, so MLflow need not infer them."""
    from importlib.metadata import version

    packages = ["scikit-learn", "numpy", "pandas", "scipy", *requirements_of(params)]
    return [f"{name}=={version(name)}" for name in packages]
