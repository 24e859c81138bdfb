"""The portfolio ``selection.budget`` tries after ``model.name``: families and variants of
their blocks, cheap and strong first, each with the data it suits.

The order and the variants come from out-of-fold comparisons on three kinds of table (the
ULB table, a generated claims table with 24 text columns, generated transaction logs):
logistic regression is cheap and blends well with trees; with several categorical inputs a
shallow one-hot XGBoost and a LightGBM of very small trees beat the default trees; the
network helps where the inputs are numbers; CatBoost is strong but the dearest, so it comes
last. Each entry's settings go over the family's block in params.yaml (threads and anything
the entry does not name stay the user's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fraudctl.model.costs import Cost, Shape

# "several" categorical inputs: where one-hot splits and small trees start to pay
SEVERAL_CATEGORICAL = 3


@dataclass(frozen=True)
class Variant:
    """One entry: a family with some keys of its block set, and when it is worth a try."""

    name: str  # as reports name it
    family: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    # the variant's own coefficients where its settings change the cost (else the family's)
    cost: Cost | None = None
    # modules its training imports (the network's PyTorch is an optional extra)
    needs: tuple[str, ...] = ()
    # None when the data suits it, else why not (for the report)
    unsuited: Callable[[Shape], str | None] = lambda _: None


def _few_categorical(shape: Shape) -> str | None:
    if shape.categorical >= SEVERAL_CATEGORICAL:
        return None
    return f"fewer than {SEVERAL_CATEGORICAL} categorical inputs"


def _not_mostly_numeric(shape: Shape) -> str | None:
    if 4 * shape.categorical <= shape.numeric + shape.categorical:
        return None
    return "more than a quarter of the inputs are categorical"


PORTFOLIO: tuple[Variant, ...] = (
    Variant("logistic_regression", "logistic_regression"),
    Variant(
        "xgboost-onehot",
        "xgboost",
        {"max_cat_to_onehot": 32, "max_depth": 3, "min_child_weight": 5.0},
        cost=Cost(0.3, 0.55, 0.45, work="n_estimators", measured_work=400),
        unsuited=_few_categorical,
    ),
    Variant(
        "lightgbm-small",
        "lightgbm",
        {"num_leaves": 4, "min_child_samples": 200, "n_estimators": 300},
        cost=Cost(0.2, 0.35, 0.35, work="n_estimators", measured_work=300),
        unsuited=_few_categorical,
    ),
    Variant("mlp", "mlp", needs=("torch",), unsuited=_not_mostly_numeric),
    Variant("catboost", "catboost"),
)
