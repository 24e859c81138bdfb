"""scikit-learn families: histogram boosting, random forest, logistic regression, MLP."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from fraudctl.model import payloads
from fraudctl.model.costs import Cost
from fraudctl.model.families.registry import BuildContext, Family, register
from fraudctl.sections import _Section

# --- scikit-learn -----------------------------------------------------------------------


class HistGradientBoostingParams(_Section):
    max_iter: Annotated[int, Field(ge=1, le=20_000)] = 300
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    max_leaf_nodes: Annotated[int, Field(ge=2)] = 15
    min_samples_leaf: Annotated[int, Field(ge=1)] = 50
    l2_regularization: Annotated[float, Field(ge=0.0)] = 1.0
    class_weight: Literal["balanced"] | None = None


def _hist_gradient_boosting(context: BuildContext) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        random_state=context.seed,
        categorical_features=list(context.categorical) or None,
        **context.hyperparameters("hist_gradient_boosting"),
    )


register(
    Family(
        "hist_gradient_boosting",
        HistGradientBoostingParams,
        _hist_gradient_boosting,
        payloads.SKOPS,
        requirements=("skops",),
        explainer="tree",
        summary="scikit-learn's histogram boosting",
        cost=Cost(0.2, 0.9, 1.5, work="max_iter", measured_work=300),
    )
)


class RandomForestParams(_Section):
    n_estimators: Annotated[int, Field(ge=1, le=5_000)] = 200
    max_depth: Annotated[int, Field(ge=1)] | None = 12
    min_samples_leaf: Annotated[int, Field(ge=1)] = 5
    max_features: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    class_weight: Literal["balanced", "balanced_subsample"] | None = "balanced_subsample"
    n_jobs: int = 2


def _random_forest(context: BuildContext) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    # scikit-learn's forests route missing values (no history, unknown category) natively.
    return RandomForestClassifier(
        random_state=context.seed, **context.hyperparameters("random_forest")
    )


register(
    Family(
        "random_forest",
        RandomForestParams,
        _random_forest,
        payloads.SKOPS,
        requirements=("skops",),
        summary="bagged deep trees",
        cost=Cost(0.2, 3.0, 3.0, work="n_estimators", measured_work=200),
    )
)


class LogisticRegressionParams(_Section):
    C: Annotated[float, Field(gt=0.0)] = 0.1
    max_iter: Annotated[int, Field(ge=1)] = 1000
    class_weight: Literal["balanced"] | None = "balanced"


def _imputed(estimator: Any, *, scale: bool) -> Any:
    """History features are NaN where there is no history (a first transaction)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [SimpleImputer(strategy="median", keep_empty_features=True)]
    if scale:
        steps.append(StandardScaler())
    return make_pipeline(*steps, estimator)


def _logistic_regression(context: BuildContext) -> Any:
    from sklearn.linear_model import LogisticRegression

    return _imputed(
        LogisticRegression(
            random_state=context.seed, **context.hyperparameters("logistic_regression")
        ),
        scale=True,
    )


register(
    Family(
        "logistic_regression",
        LogisticRegressionParams,
        _logistic_regression,
        payloads.SKOPS,
        requirements=("skops",),
        serving="numpy",
        summary="a linear baseline",
        cost=Cost(0.1, 0.38, 0.38),
    )
)


class MLPParams(_Section):
    hidden_layers: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [64, 32], min_length=1, max_length=6
    )
    alpha: Annotated[float, Field(ge=0.0)] = 1e-4  # AdamW's weight decay
    learning_rate_init: Annotated[float, Field(gt=0.0, le=1.0)] = 1e-3
    batch_size: Annotated[int, Field(ge=1)] = 512
    max_iter: Annotated[int, Field(ge=1, le=10_000)] = 200  # epochs at most
    # early stopping on the latest share of the training rows
    validation_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.1
    n_iter_no_change: Annotated[int, Field(ge=1)] = 8
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    pos_weight: Annotated[float, Field(gt=0.0)] = 1.0  # class weight of the frauds
    threads: Annotated[int, Field(ge=1)] = 2


def _mlp(context: BuildContext) -> Any:
    from fraudctl.model.network import NeuralNetworkClassifier

    hp = context.hyperparameters("mlp")
    return NeuralNetworkClassifier(
        hidden_layers=tuple(hp.pop("hidden_layers")), random_state=context.seed, **hp
    )


register(
    Family(
        "mlp",
        MLPParams,
        _mlp,
        payloads.NETWORK,
        serving="numpy",
        summary="a small PyTorch network with early stopping (a neural baseline; "
        "the torch extra trains it, numpy scores it)",
        cost=Cost(0.5, 1.05, 1.05),
    )
)
