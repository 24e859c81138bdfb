"""The one table of model families: name -> params section, factory, saved format,
requirements, explainer and fast-scoring support.

Adding a family is one :func:`register` call plus its params block in params.yaml; config
validation, training, saving, loading, the experiments, serving and the docs all read this
table, so no other module names a family. Libraries are imported inside the factories, so
reading the table (``fraudctl --help``, config validation) never loads them.

Class weights are each family's own knob (``scale_pos_weight``, ``class_weight``,
``auto_class_weights``), because each library defines them differently; resampling is
family-independent and lives in ``model.imbalance`` (:mod:`fraudctl.model.imbalance`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from fraudctl.errors import ConfigError
from fraudctl.model import payloads
from fraudctl.sections import _Section

if TYPE_CHECKING:
    from fraudctl.config import ModelParams


@dataclass(frozen=True)
class BuildContext:
    """What a factory may use: every family's section (an ensemble builds its members),
    the seed and the column roles of the model's inputs."""

    model: ModelParams
    seed: int
    features: tuple[str, ...]
    categorical: tuple[str, ...]

    def hyperparameters(self, name: str) -> dict[str, Any]:
        return self.model.section(name).model_dump()


@dataclass(frozen=True)
class Family:
    name: str
    params: type[_Section]
    build: Callable[[BuildContext], Any]
    payload: payloads.Format
    # distributions the saved MLflow model needs, beside numpy/pandas/scikit-learn
    requirements: tuple[str, ...] = ()
    # "native": the library computes exact SHAP values itself; "tree": shap's TreeExplainer;
    # "agnostic": shap's permutation explainer over a background sample
    explainer: Literal["native", "tree", "agnostic"] = "agnostic"
    # trees compiled to machine code for serving and batch scoring (fraudctl.model.forest)
    fast_scoring: bool = False
    # how `fraudctl serve` scores it (fraudctl.model.scorers), for `fraudctl models`
    serving: str = "predict_proba"
    fit_options: Callable[[BuildContext], dict[str, Any]] = field(default=lambda _: {})
    # compute.engine: dask: (context, client) -> an estimator that trains on Dask
    # collections and has ``to_local()`` (fraudctl.distributed.train); None: local only
    distributed: Callable[[BuildContext, Any], Any] | None = None
    summary: str = ""


FAMILIES: dict[str, Family] = {}
DEFAULT_FAMILY = "lightgbm"
# what selection.candidates compares with model.name by default: the blend of the
# ensemble block (the best out-of-fold PR-AUC on the ULB table's training period)
ENSEMBLE_FAMILY = "ensemble"
# the quick model of the poisoning grid and of its label-screening defence
SCREENING_FAMILY = "lightgbm"


def register(family: Family) -> Family:
    """Add (or replace) a family; it is then valid in params.yaml everywhere."""
    FAMILIES[family.name] = family
    payloads.FORMATS.setdefault(family.payload.name, family.payload)
    payloads.KIND_FORMATS[family.name] = family.payload
    return family


def family(name: str) -> Family:
    found = FAMILIES.get(name)
    if found is None:
        raise ConfigError(f"model.name: unknown model {name!r}; valid names: {names()}")
    return found


def names() -> str:
    return ", ".join(FAMILIES)


class ImbalanceParams(_Section):
    """Resampling of the rows a model is fitted on (fraudctl.model.imbalance)."""

    resample: Literal["none", "smote", "random_undersample", "balanced_bagging"] = "none"
    # frauds per legitimate row after resampling (e.g. 0.1: one fraud per ten legitimate)
    ratio: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    bags: Annotated[int, Field(ge=2, le=50)] = 5
    smote_neighbours: Annotated[int, Field(ge=1, le=50)] = 5


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


def _lightgbm_on_dask(context: BuildContext, client: Any) -> Any:
    """LightGBM's own distributed training, with the local model's settings (the
    workers' thread counts come from the cluster, so n_jobs is left out)."""
    from lightgbm.dask import DaskLGBMClassifier

    settings = {k: v for k, v in _lightgbm(context).get_params().items() if k != "n_jobs"}
    return DaskLGBMClassifier(client=client, **settings)


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
        fast_scoring=True,
        fit_options=_lightgbm_fit_options,
        distributed=_lightgbm_on_dask,
        summary="gradient-boosted trees; native categoricals; compiled for serving",
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


register(
    Family(
        "xgboost",
        XGBoostParams,
        _xgboost,
        payloads.XGBOOST,
        requirements=("xgboost-cpu",),
        explainer="native",
        summary="gradient-boosted trees (hist); native categoricals",
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
        summary="ordered boosting; native categoricals (target statistics)",
    )
)


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
    )
)


# --- ensembles --------------------------------------------------------------------------


class EnsembleParams(_Section):
    """A blend of other families, each with its own params block (e.g. as tuned)."""

    members: list[str] = Field(
        default_factory=lambda: ["lightgbm", "mlp", "logistic_regression"], min_length=2
    )
    # rank_average: mean of each member's score quantile; stacking: a logistic regression
    # on the members' log-odds, fitted on the later share of the training rows
    method: Literal["rank_average", "stacking"] = "rank_average"
    holdout: Annotated[float, Field(ge=0.05, le=0.5)] = 0.25


def _ensemble(context: BuildContext) -> Any:
    from fraudctl.model.ensemble import BlendClassifier

    settings = context.model.section("ensemble")
    assert isinstance(settings, EnsembleParams)
    members = []
    for name in settings.members:
        if name == "ensemble" or name not in FAMILIES:
            raise ConfigError(
                f"model.ensemble.members: {name!r} is not a model family to blend "
                f"(valid: {', '.join(n for n in FAMILIES if n != 'ensemble')})"
            )
        member = FAMILIES[name]
        members.append((name, member.build(context), member.fit_options(context)))
    return BlendClassifier(members, method=settings.method, holdout=settings.holdout)


register(
    Family(
        "ensemble",
        EnsembleParams,
        _ensemble,
        payloads.BLEND,
        serving="members, then the blend",
        summary="rank-average or stacked blend of other families; one saved model",
    )
)


def requirements_of(model: ModelParams) -> tuple[str, ...]:
    """Every distribution a model of this kind needs (an ensemble needs its members')."""
    names_needed = [model.name]
    if model.name == "ensemble":
        names_needed += model.section("ensemble").members  # type: ignore[attr-defined]
    required: list[str] = []
    for name in names_needed:
        required += [r for r in family(name).requirements if r not in required]
    return tuple(required)
