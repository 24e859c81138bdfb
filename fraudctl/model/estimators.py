"""Estimator name -> a configured scikit-learn-compatible classifier.

Names and hyper-parameters come from ``model`` in params.yaml, already type-checked by
the config loader; ``base.seed`` reaches every estimator that draws random numbers.
Libraries are imported on demand so choosing one model never loads the others.
"""

from __future__ import annotations

from typing import Any

from fraudctl.config import ESTIMATOR_NAMES, ModelParams
from fraudctl.errors import ConfigError


def _lightgbm(hp: dict[str, Any], seed: int) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(objective="binary", random_state=seed, verbose=-1, **hp)


def _hist_gradient_boosting(hp: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed, **hp)


def _random_forest(hp: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, **hp)


def _logistic_regression(hp: dict[str, Any], seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(random_state=seed, **hp))


_FACTORIES = {
    "lightgbm": _lightgbm,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "random_forest": _random_forest,
    "logistic_regression": _logistic_regression,
}
assert tuple(_FACTORIES) == ESTIMATOR_NAMES


def build_estimator(params: ModelParams, seed: int) -> Any:
    """A fresh, unfitted classifier for ``params.name``."""
    factory = _FACTORIES.get(params.name)
    if factory is None:
        raise ConfigError(
            f"model.name: unknown model {params.name!r}; valid names: {', '.join(_FACTORIES)}"
        )
    return factory(params.hyperparameters(), seed)


def library_requirements(params: ModelParams) -> list[str]:
    """Pinned packages an MLflow model of this kind needs, so MLflow need not infer them."""
    from importlib.metadata import version

    packages = ["scikit-learn", "cloudpickle", "numpy", "pandas"]
    if params.name == "lightgbm":
        packages.append("lightgbm")
    return [f"{name}=={version(name)}" for name in packages]
