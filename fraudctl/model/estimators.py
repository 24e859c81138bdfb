"""Estimator name -> a configured scikit-learn-compatible classifier.

Names and hyper-parameters come from ``model`` in params.yaml, already type-checked by
the config loader; ``base.seed`` reaches every estimator that draws random numbers.
Libraries are imported on demand so choosing one model never loads the others.
"""

from __future__ import annotations

from typing import Any

from fraudctl.config import ESTIMATOR_NAMES, ModelParams
from fraudctl.errors import ConfigError


def _lightgbm(hp: dict[str, Any], seed: int, categorical: list[str]) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(objective="binary", random_state=seed, verbose=-1, **hp)


def _hist_gradient_boosting(hp: dict[str, Any], seed: int, categorical: list[str]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        random_state=seed, categorical_features=categorical or None, **hp
    )


def _random_forest(hp: dict[str, Any], seed: int, categorical: list[str]) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, **hp)


def _logistic_regression(hp: dict[str, Any], seed: int, categorical: list[str]) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # History features are NaN where there is no history (a first transaction).
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(random_state=seed, **hp),
    )


_FACTORIES = {
    "lightgbm": _lightgbm,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "random_forest": _random_forest,
    "logistic_regression": _logistic_regression,
}
assert tuple(_FACTORIES) == ESTIMATOR_NAMES


def build_estimator(params: ModelParams, seed: int, categorical: list[str] | None = None) -> Any:
    """A fresh, unfitted classifier for ``params.name``; ``categorical`` names the columns
    holding category codes (LightGBM and HistGradientBoosting split on them natively)."""
    factory = _FACTORIES.get(params.name)
    if factory is None:
        raise ConfigError(
            f"model.name: unknown model {params.name!r}; valid names: {', '.join(_FACTORIES)}"
        )
    return factory(params.hyperparameters(), seed, list(categorical or []))


def fit_options(params: ModelParams, categorical: list[str]) -> dict[str, Any]:
    """Keyword arguments for ``fit``: LightGBM takes its categorical columns there."""
    if params.name == "lightgbm" and categorical:
        return {"categorical_feature": list(categorical)}
    return {}


def library_requirements(params: ModelParams) -> list[str]:
    """Pinned packages an MLflow model of this kind needs, so MLflow need not infer them."""
    from importlib.metadata import version

    packages = ["scikit-learn", "numpy", "pandas", "scipy"]
    packages.append("lightgbm" if params.name == "lightgbm" else "skops")
    return [f"{name}=={version(name)}" for name in packages]
