"""The one typed loader for params.yaml.

Every stage reads its settings from here, so a typo or an impossible value fails
before any work starts, naming the key path and what was expected. Project paths
live here too: the layout is a convention shared with dvc.yaml, not a setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fraudctl.errors import ConfigError

DEFAULT_PARAMS_FILE = Path("params.yaml")

Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseParams(_Section):
    seed: Annotated[int, Field(ge=0)] = 42


class SyntheticParams(_Section):
    n_rows: Annotated[int, Field(ge=100, le=50_000_000)] = 284_807
    fraud_rate: Annotated[float, Field(gt=0.0, le=0.5)] = 0.0017
    days: Annotated[int, Field(ge=1, le=60)] = 2


ULB_FEATURE_COLUMNS = [f"V{i}" for i in range(1, 29)] + ["Amount"]


class SchemaParams(_Section):
    """Column roles; the defaults are the ULB table's.

    ``features: all`` means every column without another role (each must be numeric).
    """

    time: str = "Time"
    amount: str = "Amount"
    target: str = "Class"
    features: Literal["all"] | list[str] = Field(default_factory=lambda: list(ULB_FEATURE_COLUMNS))
    group: str | None = None

    @model_validator(mode="after")
    def _roles_are_distinct(self) -> SchemaParams:
        roles = [self.time, self.amount, self.target] + ([self.group] if self.group else [])
        if len(set(roles)) != len(roles):
            raise ValueError(
                f"time, amount, target and group must be different columns, got {roles}"
            )
        if isinstance(self.features, list):
            if not self.features:
                raise ValueError("features must be 'all' or a non-empty list of column names")
            clash = {self.time, self.target} & set(self.features)
            if clash:
                raise ValueError(
                    f"features must not include the time or target column: {sorted(clash)}"
                )
        return self


class DataParams(_Section):
    source: str = "synthetic"
    synthetic: SyntheticParams = SyntheticParams()
    schema_: SchemaParams = Field(default=SchemaParams(), alias="schema")
    drop_duplicates: bool = True

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SplitParams(_Section):
    method: Literal["time", "random"] = "time"
    train: Fraction = 0.7
    validation: Fraction = 0.1
    test: Fraction = 0.2

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitParams:
        total = self.train + self.validation + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"train + validation + test must be 1.0, got {total:g}")
        return self


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


class HistGradientBoostingParams(_Section):
    max_iter: Annotated[int, Field(ge=1, le=20_000)] = 300
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    max_leaf_nodes: Annotated[int, Field(ge=2)] = 15
    min_samples_leaf: Annotated[int, Field(ge=1)] = 50
    l2_regularization: Annotated[float, Field(ge=0.0)] = 1.0
    class_weight: Literal["balanced"] | None = None


class RandomForestParams(_Section):
    n_estimators: Annotated[int, Field(ge=1, le=5_000)] = 200
    max_depth: Annotated[int, Field(ge=1)] | None = 12
    min_samples_leaf: Annotated[int, Field(ge=1)] = 5
    max_features: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    class_weight: Literal["balanced", "balanced_subsample"] | None = "balanced_subsample"
    n_jobs: int = 2


class LogisticRegressionParams(_Section):
    C: Annotated[float, Field(gt=0.0)] = 0.1
    max_iter: Annotated[int, Field(ge=1)] = 1000
    class_weight: Literal["balanced"] | None = "balanced"


ESTIMATOR_NAMES = ("lightgbm", "hist_gradient_boosting", "random_forest", "logistic_regression")


class ModelParams(_Section):
    name: str = "lightgbm"
    lightgbm: LightGBMParams = LightGBMParams()
    hist_gradient_boosting: HistGradientBoostingParams = HistGradientBoostingParams()
    random_forest: RandomForestParams = RandomForestParams()
    logistic_regression: LogisticRegressionParams = LogisticRegressionParams()

    @field_validator("name")
    @classmethod
    def _known_estimator(cls, name: str) -> str:
        if name not in ESTIMATOR_NAMES:
            raise ValueError(f"unknown model {name!r}; valid names: {', '.join(ESTIMATOR_NAMES)}")
        return name

    def hyperparameters(self) -> dict[str, Any]:
        """The chosen estimator's hyper-parameters, as keyword arguments."""
        return getattr(self, self.name).model_dump()

    def with_overrides(self, overrides: dict[str, Any], where: str) -> ModelParams:
        """A copy with some of the chosen estimator's hyper-parameters replaced (validated);
        keys the estimator does not have are ignored, so one override fits several models."""
        section = getattr(self, self.name)
        known = {k: v for k, v in overrides.items() if k in type(section).model_fields}
        try:
            updated = type(section).model_validate({**section.model_dump(), **known})
        except ValidationError as exc:
            problems = "; ".join(_describe(e) for e in exc.errors())
            raise ConfigError(f"{where}: {problems}") from None
        return self.model_copy(update={self.name: updated})


class ThresholdParams(_Section):
    """How the decision threshold is picked on the validation split.

    ``min_cost`` weighs ``review_cost`` per alert against the amount of every missed fraud.
    """

    strategy: Literal["max_f1", "min_precision", "min_cost"] = "max_f1"
    min_precision: Fraction = 0.8
    review_cost: Annotated[float, Field(ge=0.0)] = 5.0


class EvaluateParams(_Section):
    max_false_positive_rate: Fraction = 0.01
    top_k: PositiveInt = 100
    calibration_bins: Annotated[int, Field(ge=2, le=100)] = 10


class TrackingParams(_Section):
    uri: str = "sqlite:///mlflow.db"
    artifact_location: str = "mlartifacts"
    experiment: str = "fraud-training"
    registered_model: str = "fraud-detector"


Share = Annotated[float, Field(ge=0.0, lt=1.0)]


class DefenceParams(_Section):
    """Out-of-fold label screening: a quick detector model scores every training row it did
    not see; labels it contradicts with high confidence are corrected (``relabel``) or the
    rows dropped (``prune``) before the refit."""

    action: Literal["relabel", "prune"] = "relabel"
    folds: Annotated[int, Field(ge=2, le=10)] = 3
    detector_trees: Annotated[int, Field(ge=10, le=2000)] = 100


class PoisonParams(_Section):
    attacks: list[Literal["random", "targeted", "injection"]] = Field(
        default_factory=lambda: ["random", "targeted", "injection"], min_length=1
    )
    # share of all training labels flipped, in both directions
    random_levels: list[Share] = Field(default_factory=lambda: [0.0, 0.02, 0.08, 0.15, 0.30])
    # share of training frauds relabelled legitimate (an attacker hiding their frauds)
    targeted_levels: list[Share] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75])
    # fraud-like rows injected with a legitimate label, per real training fraud
    injection_levels: list[Annotated[float, Field(ge=0.0, le=20.0)]] = Field(
        default_factory=lambda: [0.0, 0.5, 1.0, 2.0]
    )
    seeds: Annotated[int, Field(ge=1, le=20)] = 3
    max_train_rows: Annotated[int, Field(ge=1000)] = 40_000
    # Hyper-parameters of the configured model to change for the grid's many fits.
    model_overrides: dict[str, int | float | str | None] = Field(
        default_factory=lambda: {"n_estimators": 200, "learning_rate": 0.1}
    )
    defence: DefenceParams = DefenceParams()


class FairnessParams(_Section):
    """Group fairness on the test split; without a group column, amount bands stand in."""

    amount_band_quantiles: list[Fraction] = Field(
        default_factory=lambda: [0.25, 0.75], min_length=1
    )
    max_equalized_odds_difference: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    max_demographic_parity_difference: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    mitigation: Literal[
        "group_thresholds",
        "threshold_optimizer_equalized_odds",
        "threshold_optimizer_true_positive_rate_parity",
        "none",
    ] = "group_thresholds"
    shap_rows: Annotated[int, Field(ge=10, le=100_000)] = 1000
    local_explanations: Annotated[int, Field(ge=0, le=50)] = 5


class DriftParams(_Section):
    max_rows: Annotated[int, Field(ge=100)] = 20_000
    max_drifted_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    max_prediction_psi: Annotated[float, Field(gt=0.0)] = 0.2
    psi_bins: Annotated[int, Field(ge=2, le=100)] = 10
    simulate_shift: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0


class ExperimentsParams(_Section):
    poison: PoisonParams = PoisonParams()
    fairness: FairnessParams = FairnessParams()
    drift: DriftParams = DriftParams()


class Params(_Section):
    base: BaseParams = BaseParams()
    data: DataParams = DataParams()
    split: SplitParams = SplitParams()
    model: ModelParams = ModelParams()
    threshold: ThresholdParams = ThresholdParams()
    evaluate: EvaluateParams = EvaluateParams()
    tracking: TrackingParams = TrackingParams()
    experiments: ExperimentsParams = ExperimentsParams()


@dataclass(frozen=True)
class ProjectPaths:
    """Where stages read and write, relative to the project root; mirrored by dvc.yaml."""

    root: Path = Path()

    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def prepared_dir(self) -> Path:
        return self.root / "data" / "prepared"

    def split_file(self, split: str) -> Path:
        return self.prepared_dir / f"{split}.parquet"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def model_dir(self) -> Path:
        return self.models_dir / "model"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def data_report(self) -> Path:
        return self.reports_dir / "data.json"

    @property
    def train_report(self) -> Path:
        return self.reports_dir / "train.json"

    @property
    def metrics_file(self) -> Path:
        return self.reports_dir / "metrics.json"

    @property
    def plots_dir(self) -> Path:
        return self.reports_dir / "plots"

    def experiment_dir(self, name: str) -> Path:
        """reports/poison, reports/fairness, reports/drift."""
        return self.reports_dir / name


SPLITS = ("train", "validation", "test")


def _format_location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-after", "literal", "list["))]
    return ".".join(parts).replace("schema_", "schema") or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    where = _format_location(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    if error["type"] in {"missing"} or isinstance(got, dict):
        return f"{where}: {message}"
    return f"{where}: {message} (got {got!r})"


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate a params mapping, turning every problem into one ConfigError."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def load_params(path: Path | str = DEFAULT_PARAMS_FILE) -> Params:
    """Read and validate params.yaml; a missing file means all defaults are used."""
    path = Path(path)
    if not path.exists():
        if path == DEFAULT_PARAMS_FILE:
            return Params()
        raise ConfigError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, source=str(path))
