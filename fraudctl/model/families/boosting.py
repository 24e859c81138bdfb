"""Gradient-boosted trees: LightGBM, XGBoost and CatBoost."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from fraudctl.model import payloads
from fraudctl.model.costs import Cost
from fraudctl.model.families.registry import BuildContext, Family, register
from fraudctl.sections import _Section

# --- LightGBM ---------------------------------------------------------------------------


class LightGBMParams(_Section):
    n_estimators: Annotated[int, Field(ge=1, le=20_000)] = 500
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    num_leaves: Annotated[int, Field(ge=2, le=4096)] = 15
    max_depth: int = -1
    min_child_samples: Annotated[int, Field(ge=1)] = 20
    subsample: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    subsample_freq: Annotated[int, Field(ge=0)] = 1
    colsample_bytree: Annotated[float, Field(gt=0.0, le=1.0)] = 0.6
    reg_lambda: Annotated[float, Field(ge=0.0)] = 5.0
    scale_pos_weight: Annotated[float, Field(gt=0.0)] = 1.0
    n_jobs: int = 2


def _lightgbm(context: BuildContext) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        objective="binary",
        random_state=context.seed,
        verbose=-1,
        **context.hyperparameters("lightgbm"),
    )


def _lightgbm_contributions(estimator: Any, rows: Any) -> tuple[Any, float]:
    """LightGBM's exact tree SHAP (``pred_contrib``), fitted or loaded."""
    import numpy as np

    raw = estimator.booster_.predict(np.asarray(rows, dtype=np.float64), pred_contrib=True)
    return np.asarray(raw[:, :-1]), float(raw[0, -1])


def _lightgbm_fit_options(context: BuildContext) -> dict[str, Any]:
    return {"categorical_feature": list(context.categorical)} if context.categorical else {}


register(
    Family(
        "lightgbm",
        LightGBMParams,
        _lightgbm,
        payloads.LIGHTGBM,
        requirements=("lightgbm",),
        explainer="native",
        contributions=_lightgbm_contributions,
        fast_scoring=True,
        fit_options=_lightgbm_fit_options,
        summary="gradient-boosted trees; native categoricals; compiled for serving",
        cost=Cost(0.1, 0.9, 1.5, work="n_estimators", measured_work=500),
    )
)


# --- XGBoost ----------------------------------------------------------------------------


class XGBoostParams(_Section):
    n_estimators: Annotated[int, Field(ge=1, le=20_000)] = 400
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    max_depth: Annotated[int, Field(ge=1, le=16)] = 5
    min_child_weight: Annotated[float, Field(ge=0.0)] = 1.0
    subsample: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    colsample_bytree: Annotated[float, Field(gt=0.0, le=1.0)] = 0.6
    reg_lambda: Annotated[float, Field(ge=0.0)] = 5.0
    scale_pos_weight: Annotated[float, Field(gt=0.0)] = 1.0
    max_cat_to_onehot: Annotated[int, Field(ge=1)] = 4
    n_jobs: int = 2


def _xgboost(context: BuildContext) -> Any:
    from xgboost import XGBClassifier

    # Category codes arrive as floats (NaN: unknown); feature_types marks them categorical,
    # so arrays and frames are scored the same way.
    types = ["c" if name in context.categorical else "q" for name in context.features]
    return XGBClassifier(
        objective="binary:logistic",
        tree_method="hist",
        random_state=context.seed,
        enable_categorical=bool(context.categorical),
        feature_types=types if context.categorical else None,
        **context.hyperparameters("xgboost"),
    )


def _xgboost_contributions(estimator: Any, rows: Any) -> tuple[Any, float]:
    """XGBoost's exact tree SHAP (``pred_contribs``), categories included."""
    import numpy as np
    import xgboost

    model = estimator.get_booster()
    matrix = xgboost.DMatrix(
        np.asarray(rows, dtype=np.float64),
        feature_names=model.feature_names,
        feature_types=model.feature_types,
        enable_categorical=True,
    )
    raw = model.predict(matrix, pred_contribs=True)
    return np.asarray(raw[:, :-1]), float(raw[0, -1])


register(
    Family(
        "xgboost",
        XGBoostParams,
        _xgboost,
        payloads.XGBOOST,
        requirements=("xgboost-cpu",),
        explainer="native",
        contributions=_xgboost_contributions,
        summary="gradient-boosted trees (hist); native categoricals",
        cost=Cost(0.2, 0.75, 1.5, work="n_estimators", measured_work=400),
    )
)


# --- CatBoost ---------------------------------------------------------------------------


class CatBoostParams(_Section):
    iterations: Annotated[int, Field(ge=1, le=20_000)] = 500
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.08
    depth: Annotated[int, Field(ge=1, le=12)] = 6
    l2_leaf_reg: Annotated[float, Field(ge=0.0)] = 3.0
    auto_class_weights: Literal["Balanced", "SqrtBalanced"] | None = None
    thread_count: int = 2


def _catboost(context: BuildContext) -> Any:
    from fraudctl.model.wrappers import CatBoostCodes

    return CatBoostCodes(
        hyperparameters=context.hyperparameters("catboost"),
        categorical=[context.features.index(c) for c in context.categorical],
        seed=context.seed,
    )


register(
    Family(
        "catboost",
        CatBoostParams,
        _catboost,
        payloads.CATBOOST,
        requirements=("catboost",),
        explainer="native",
        contributions=lambda estimator, rows: estimator.shap_values(rows),
        summary="ordered boosting; native categoricals (target statistics)",
        cost=Cost(0.5, 2.1, 50.0, work="iterations", measured_work=500),
    )
)
