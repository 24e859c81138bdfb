"""The one typed loader for params.yaml.

Every stage reads its settings from here, so a typo or an impossible value fails
before any work starts, naming the key path and what was expected. Project paths
live here too: the layout is a convention shared with dvc.yaml, not a setting.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)

from fraudctl.durations import parse_duration
from fraudctl.errors import ConfigError
from fraudctl.paths import DEFAULT_PARAMS_FILE
from fraudctl.sections import Fraction, PositiveInt, _Section

SectionT = TypeVar("SectionT", bound=_Section)


def _duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, AfterValidator(_duration)]


class BaseParams(_Section):
    seed: Annotated[int, Field(ge=0)] = 42


class SyntheticParams(_Section):
    n_rows: Annotated[int, Field(ge=100, le=50_000_000)] = 284_807
    fraud_rate: Annotated[float, Field(gt=0.0, le=0.5)] = 0.0017
    days: Annotated[int, Field(ge=1, le=60)] = 2


_ULB_FEATURES = [f"V{i}" for i in range(1, 29)] + ["Amount"]


class SchemaParams(_Section):
    """Column roles; the defaults are the ULB table's.

    ``features: all`` means every column without another role: not the time, target,
    group or an entity id, nor a column listed in ``exclude``. Declared ``categorical``
    columns may hold text; every other feature must be numeric. Identifiers are never
    model inputs unless listed in ``features`` by name.

    ``time`` is a datetime column or a numeric clock whose step is ``time_unit`` (a day
    number: ``d``). Durations are written in real time everywhere (``split.gap: 7d``) and
    reach the clock through that unit (:func:`fraudctl.durations.clock_seconds`).
    """

    time: str = "Time"
    # What one step of a numeric time column is: ms, s, m, h or d (a datetime carries its own)
    time_unit: Literal["ms", "s", "m", "h", "d"] = "s"
    amount: str | None = "Amount"
    target: str = "Class"
    features: Literal["all"] | list[str] = Field(default_factory=lambda: list(_ULB_FEATURES))
    # role name -> id column, e.g. {customer: customer_id, terminal: terminal_id}
    entities: dict[str, str] = Field(default_factory=dict)
    categorical: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    group: str | None = None
    # analysts' labels (1 fraud, 0 legitimate, empty where none was given): the fast label
    # source, read by risk features with an analyst_delay; never a model input
    analyst_label: str | None = None

    @model_validator(mode="after")
    def _roles_are_distinct(self) -> SchemaParams:
        roles = [self.time, self.target]
        roles += [self.amount] if self.amount else []
        roles += [self.group] if self.group else []
        roles += [self.analyst_label] if self.analyst_label else []
        roles += list(self.entities.values())
        if len(set(roles)) != len(roles):
            raise ValueError(
                "time, amount, target, group, analyst label and entity columns must be "
                f"different columns, got {roles}"
            )
        for role in self.entities:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", role):
                raise ValueError(
                    f"entity role {role!r} must be a lower-case name (letters, digits, _)"
                )
        if isinstance(self.features, list):
            if not self.features:
                raise ValueError("features must be 'all' or a non-empty list of column names")
            clash = {self.time, self.target, self.analyst_label} & set(self.features)
            if clash:
                raise ValueError(
                    "features must not include the time, target or analyst label column: "
                    f"{sorted(clash)}"
                )
        if self.target in self.categorical or self.time in self.categorical:
            raise ValueError("the time and target columns cannot be categorical")
        return self


class SyntheticTransactionsParams(_Section):
    """The raw-log generator: customers spend at terminals; frauds only history reveals."""

    n_customers: Annotated[int, Field(ge=10, le=10_000_000)] = 2_000
    n_terminals: Annotated[int, Field(ge=10, le=10_000_000)] = 4_000
    days: Annotated[int, Field(ge=7, le=3650)] = 90
    start: str = "2026-04-01"
    # share of terminals compromised for a few days at some point
    compromised_terminal_rate: Annotated[float, Field(ge=0.0, le=0.5)] = 0.01
    # share of customers whose card is stolen for a few days at some point
    compromised_card_rate: Annotated[float, Field(ge=0.0, le=0.5)] = 0.01


class DataParams(_Section):
    # "synthetic" (ULB-shaped), "synthetic-transactions" (a raw log) or a file path
    source: str = "synthetic"
    synthetic: SyntheticParams = SyntheticParams()
    synthetic_transactions: SyntheticTransactionsParams = SyntheticTransactionsParams()
    schema_: SchemaParams = Field(default=SchemaParams(), alias="schema")
    drop_duplicates: bool = True
    # larger amounts are reported as data errors (a 1e308 is a unit or export mistake)
    max_amount: Annotated[float, Field(gt=0.0)] = 1e9

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SplitParams(_Section):
    method: Literal["time", "random"] = "time"
    train: Fraction = 0.7
    validation: Fraction = 0.1
    test: Fraction = 0.2
    # With a time split: a period left out after train and after validation, because labels
    # arrive late. Its rows still count as history for the features; they are never scored.
    gap: Duration | None = None

    @property
    def gap_seconds(self) -> float:
        return parse_duration(self.gap) if self.gap else 0.0

    @model_validator(mode="after")
    def _gap_needs_time(self) -> SplitParams:
        if self.gap and self.method != "time":
            raise ValueError("gap needs method: time (a random split has no periods to separate)")
        return self

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitParams:
        total = self.train + self.validation + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"train + validation + test must be 1.0, got {total:g}")
        return self


Aggregate = Literal["count", "sum", "mean", "max"]


class EntityRiskParams(_Section):
    """Fraud share among the entity's labelled transactions in a window that ends ``delay``
    before the transaction: labels arrive late, so newer ones are never used."""

    windows: list[Duration] = Field(min_length=1)
    delay: Duration = "7d"
    # analysts' labels (data.schema.analyst_label) count from this long after a transaction:
    # each window also counts the analysts' labels of the rows newer than `delay` and at
    # least this old (a chargeback overrides them once due); null: chargebacks alone
    analyst_delay: Duration | None = None

    @model_validator(mode="after")
    def _analysts_are_not_slower(self) -> EntityRiskParams:
        if self.analyst_delay and parse_duration(self.analyst_delay) > parse_duration(self.delay):
            raise ValueError(
                f"analyst_delay {self.analyst_delay} is longer than delay {self.delay}: "
                "analysts' labels are the ones that arrive first"
            )
        return self


class EntityFeatureParams(_Section):
    """History features of one entity (a customer, a terminal, ...)."""

    windows: list[Duration] = Field(default_factory=list)
    aggregates: list[Aggregate] = Field(default_factory=lambda: ["count", "sum", "mean", "max"])
    # the amount divided by the entity's mean amount over each window
    relative_amount: bool = False
    time_since_previous: bool = False
    risk: EntityRiskParams | None = None


class FeaturesParams(_Section):
    """Declared feature definitions, computed point-in-time correct (only that transaction,
    earlier ones, and labels older than the delay) by one transform saved with the model."""

    entities: dict[str, EntityFeatureParams] = Field(default_factory=dict)
    calendar: list[Literal["hour", "night", "weekend"]] = Field(default_factory=list)
    # a feature whose ROC-AUC alone reaches this on train stops `train`: a label leak
    leak_guard_auc: Annotated[float, Field(gt=0.5, le=1.0)] = 0.999
    leak_guard_allow: list[str] = Field(default_factory=list)


class ImbalanceParams(_Section):
    """Resampling of the rows a model is fitted on (fraudctl.model.imbalance)."""

    resample: Literal["none", "smote", "random_undersample", "balanced_bagging"] = "none"
    # frauds per legitimate row after resampling (e.g. 0.1: one fraud per ten legitimate)
    ratio: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    bags: Annotated[int, Field(ge=2, le=50)] = 5
    smote_neighbours: Annotated[int, Field(ge=1, le=50)] = 5


def _blocks(data: Any, fixed: set[str], where: str) -> Any:
    """Every key but ``fixed`` is a named block of settings (a model family's, an engine's):
    gathered under ``blocks`` for the library that owns the names to check."""
    if not isinstance(data, dict) or "blocks" in data:
        return data
    data = dict(data)
    blocks = {key: data.pop(key) for key in list(data) if key not in fixed}
    for key, block in blocks.items():
        if block is not None and not isinstance(block, dict):
            raise ValueError(f"{where}.{key}: expected a mapping of settings, got {block!r}")
    return {**data, "blocks": {str(key): block or {} for key, block in blocks.items()}}


class ModelParams(_Section):
    """``name`` picks a model family (``fraudctl models`` lists them); every other key is a
    family's own block of hyper-parameters. The families own those blocks: the model library
    checks each against its family's section when a stage loads params
    (:func:`fraudctl.model.families.model_spec`), so adding a family never touches this
    loader, and this loader never imports the model library."""

    name: str = "lightgbm"
    imbalance: ImbalanceParams = ImbalanceParams()
    blocks: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _family_blocks(cls, data: Any) -> Any:
        return _blocks(data, {"name", "imbalance"}, "model")


class SelectionParams(_Section):
    """Prequential (rolling-origin) validation over the training period: fold k trains on
    every row before its validation block (less ``gap``) and validates on the block. The
    pooled out-of-fold scores pick the threshold and compare configurations; the final
    model is then refitted on the whole training period. ``folds: 0`` keeps the plain
    train/validation split."""

    folds: Annotated[int, Field(ge=0, le=20)] = 3
    # the first validation block starts after this share of the training period
    min_train: Annotated[float, Field(ge=0.2, le=0.9)] = 0.5
    gap: Duration | None = None
    # Families the same folds compare with model.name; the best mean out-of-fold PR-AUC is
    # the one refitted and saved (a tie keeps model.name). Needs folds >= 2. With a budget
    # they are tried first, within it.
    candidates: list[str] = Field(default_factory=list)
    # Seconds of fitting (the folds and the final refit) that selection may plan, in the
    # predicted seconds of a 2-core reference machine (each family's cost model), never the
    # clock: model.name first, then a fixed portfolio of families and their blends while
    # the plan fits (fraudctl.model.portfolio). null: model.name and the candidates only.
    budget: Annotated[float, Field(gt=0.0, le=86_400.0, allow_inf_nan=False)] | None = 30.0

    @field_validator("folds")
    @classmethod
    def _not_one(cls, folds: int) -> int:
        if folds == 1:
            raise ValueError("one fold is not a comparison; use 0 (plain split) or 2 or more")
        return folds

    @field_validator("candidates")
    @classmethod
    def _once_each(cls, candidates: list[str]) -> list[str]:
        return list(dict.fromkeys(candidates))

    @field_validator("budget")
    @classmethod
    def _budget_needs_folds(cls, budget: float | None, info: ValidationInfo) -> float | None:
        # runs only on a budget written in params.yaml: the default budget beside folds: 0
        # is no mistake (the plain split trains model.name), a budget written there is one
        if budget is not None and "folds" in info.data and not info.data["folds"]:
            raise ValueError(
                "searches on the prequential folds and folds is 0; set folds: 2 or more, or "
                "budget: null"
            )
        return budget


class SearchRange(_Section):
    """One hyper-parameter's range: ``low``/``high`` (integers give an integer search,
    ``log: true`` a log scale) or a list of ``choices``."""

    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SearchRange:
        if self.choices is not None:
            if self.low is not None or self.high is not None or not self.choices:
                raise ValueError("give either choices (a non-empty list) or low and high")
        elif self.low is None or self.high is None or not self.low < self.high:
            raise ValueError("give low < high, or a list of choices")
        elif self.log and self.low <= 0:
            raise ValueError("a log scale needs low > 0")
        return self


def _default_search_space() -> dict[str, dict[str, SearchRange]]:
    def r(low: float, high: float, log: bool = False) -> SearchRange:
        return SearchRange(low=low, high=high, log=log)

    return {
        "lightgbm": {
            "num_leaves": r(7, 63, log=True),
            "learning_rate": r(0.02, 0.2, log=True),
            "n_estimators": r(100, 600),
            "min_child_samples": r(5, 200, log=True),
            "colsample_bytree": r(0.3, 1.0),
            "reg_lambda": r(0.0, 20.0),
        }
    }


class TuneParams(_Section):
    """``fraudctl tune``: an Optuna search scored by the prequential folds of ``selection``."""

    # finished trials the study should hold; a stopped search resumes up to it
    trials: Annotated[int, Field(ge=1, le=10_000)] = 50
    timeout: Annotated[float, Field(gt=0)] | None = None  # seconds per invocation
    # an SQLAlchemy database URL: sqlite:///file.db, postgresql://user@host/db, ...
    storage: str = "sqlite:///optuna.db"
    # the first trials are never pruned; later ones stop when a fold is below the median
    startup_trials: Annotated[int, Field(ge=0)] = 5
    search_space: dict[str, dict[str, SearchRange]] = Field(default_factory=_default_search_space)

    @model_validator(mode="after")
    def _storage_is_a_url(self) -> TuneParams:
        import re

        if not re.match(r"^[a-z][a-z0-9+]*://", self.storage):
            raise ValueError(
                f"storage: {self.storage!r} is not a database URL; expected e.g. "
                "sqlite:///optuna.db or postgresql://user@host/db"
            )
        return self


class EmissionsParams(_Section):
    """CodeCarbon in offline mode around train and the experiments (fraudctl/emissions.py)."""

    enabled: bool = True
    # the grid whose carbon intensity applies (ISO 3166 alpha-3), e.g. BEL, DEU, USA
    country_iso_code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "BEL"
    measure_seconds: Annotated[float, Field(ge=1.0, le=600.0)] = 5.0


class ComputeParams(_Section):
    """Where prepare, features, train and score run: ``engine`` names one of
    :data:`fraudctl.stages.engines.ENGINES` (``local``: one process and pandas; ``dask``: the
    same stages partition by partition on a Dask cluster). Every other key is an engine's own
    block of settings (``dask:``), checked by that engine when a stage loads params."""

    engine: str = "local"
    blocks: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _engine_blocks(cls, data: Any) -> Any:
        return _blocks(data, {"engine"}, "compute")


class CardParams(_Section):
    """The model card (stage `card`): confidence intervals by bootstrap on the test split."""

    bootstrap_samples: Annotated[int, Field(ge=50, le=10_000)] = 300
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95


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
    # card precision@k per day, on this entity role (default: the first declared entity)
    card_k: PositiveInt = 100
    card_entity: str | None = None
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
    seeds: Annotated[int, Field(ge=1, le=20)] = 2
    max_train_rows: Annotated[int, Field(ge=1000)] = 40_000
    # The grid's own model: it fits about 110 times, so it is a fast LightGBM by default and
    # does not follow `model` (a slow production model would make the grid take an hour).
    model: ModelParams = Field(
        default_factory=lambda: ModelParams.model_validate(
            {
                "name": "lightgbm",
                "lightgbm": {"n_estimators": 200, "learning_rate": 0.1},
            }
        )
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


class AnalystParams(_Section):
    """Analysts working the simulated world's alert queue: the first labels to arrive, for
    the alerts they settle only, and sometimes wrong (chargebacks later override them)."""

    # alerts settled per day (rule alerts first, then the model's riskiest); 0: no analysts
    reviews_per_day: Annotated[int, Field(ge=0, le=100_000)] = 0
    accuracy: Annotated[float, Field(ge=0.5, le=1.0)] = 0.95  # share decided as the truth is
    delay_days: Annotated[int, Field(ge=1, le=90)] = 1  # day d's alerts are settled by d + this
    # triggered: retrain when more than this share of the frauds analysts confirmed over the
    # last compare_days were sent by a rule while the model let them through
    max_missed_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5


class ContinuousParams(_Section):
    """Continuous training over a simulated day-by-day feed (``fraudctl simulate``,
    ``fraudctl cycle``, dags/): the world, the labels' delay and the retraining policy."""

    workspace: str = "loop"  # the feed, the labels, the scores, the decisions, the models
    days: Annotated[int, Field(ge=2, le=3650)] = 60
    start: str = "2026-06-01"
    n_customers: Annotated[int, Field(ge=10)] = 600
    n_terminals: Annotated[int, Field(ge=10)] = 1200
    label_delay_days: Annotated[int, Field(ge=0, le=90)] = 7
    # the world changes on change_day: a new fraud pattern, or amounts shifting
    change_day: Annotated[int, Field(ge=0)] = 30
    change: Literal["card_testing", "terminal_wave", "none"] = "card_testing"
    amount_shift: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0
    # frozen: never retrain; schedule: every retrain_every_days; triggered: when the drift
    # gate fails or labelled card precision@100 falls below min_card_precision
    policy: Literal["frozen", "schedule", "triggered"] = "triggered"
    retrain_every_days: Annotated[int, Field(ge=1)] = 7
    min_card_precision: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    # the loop's drift gate: the share of inputs whose PSI shows a significant shift (> 0.2)
    # above which it fails (a PSI measure: not experiments.drift.max_drifted_share, which
    # counts Evidently's per-feature tests); the scores' PSI uses experiments.drift's limit
    max_psi_shifted_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3
    window_days: Annotated[int, Field(ge=7)] = 28
    compare_days: Annotated[int, Field(ge=1)] = 7
    # the challenger must win by this much; a negative margin takes the newest model unless
    # it is that much worse (a forced refresh)
    promote_margin: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.01
    card_k: Annotated[int, Field(ge=1)] = 100
    analysts: AnalystParams = AnalystParams()


class RuleParams(_Section):
    """One rule beside the model (docs/rules.md): when ``when`` holds, ``action`` decides;
    the highest ``priority`` that fires wins, equal priorities in the order listed."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
    when: str
    action: Literal["block", "review", "allow"]
    priority: int = 0
    description: str = ""  # why the rule exists, for the card and the analyst

    @field_validator("when")
    @classmethod
    def _parses(cls, text: str) -> str:
        from fraudctl.rules.syntax import RuleSyntaxError, parse

        try:
            parse(text)
        except RuleSyntaxError as exc:
            raise ValueError(str(exc)) from None
        return text


class KeyedProblems(ValueError):
    """Problems inside a list or mapping, each with its own key path below it (a rule's name
    rather than its index)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))
        self.problems = problems


def _rules_by_name(value: Any, handler: Any) -> list[RuleParams]:
    """Key paths name the rule (rules.velocity.when), not its index; names are unique."""
    if not isinstance(value, list):
        raise ValueError(f"expected a list of rules (name, when, action, priority), got {value!r}")
    try:
        rules = handler(value)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = list(error["loc"])
            if loc and isinstance(loc[0], int) and isinstance(value[loc[0]], dict):
                loc[0] = value[loc[0]].get("name", loc[0])
            where, what = describe_error({**error, "loc": tuple(loc)}).split(": ", 1)
            problems.append((where, what))
        raise KeyedProblems(problems) from None
    names = [rule.name for rule in rules]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise KeyedProblems([(f"{repeated[0]}.name", "two rules have this name")])
    return rules


class Params(_Section):
    base: BaseParams = BaseParams()
    data: DataParams = DataParams()
    split: SplitParams = SplitParams()
    features: FeaturesParams = FeaturesParams()
    model: ModelParams = ModelParams()
    selection: SelectionParams = SelectionParams()
    tune: TuneParams = TuneParams()
    emissions: EmissionsParams = EmissionsParams()
    card: CardParams = CardParams()
    compute: ComputeParams = ComputeParams()
    threshold: ThresholdParams = ThresholdParams()
    evaluate: EvaluateParams = EvaluateParams()
    tracking: TrackingParams = TrackingParams()
    experiments: ExperimentsParams = ExperimentsParams()
    continuous: ContinuousParams = ContinuousParams()
    rules: Annotated[list[RuleParams], WrapValidator(_rules_by_name)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _feature_entities_are_declared(self) -> Params:
        declared = self.data.schema_.entities
        unknown = [name for name in self.features.entities if name not in declared]
        if unknown:
            raise ValueError(
                f"features.entities: {', '.join(unknown)} not declared in data.schema.entities "
                f"(declared: {', '.join(declared) or 'none'})"
            )
        needs_amount = any(
            (spec.windows and set(spec.aggregates) - {"count"}) or spec.relative_amount
            for spec in self.features.entities.values()
        )
        if needs_amount and not self.data.schema_.amount:
            raise ValueError("features: amount aggregates need data.schema.amount")
        analysts = [
            role
            for role, spec in self.features.entities.items()
            if spec.risk and spec.risk.analyst_delay
        ]
        if analysts and not self.data.schema_.analyst_label:
            raise ValueError(
                f"features.entities.{analysts[0]}.risk.analyst_delay: reads analysts' labels, "
                "but data.schema.analyst_label names no column"
            )
        if self.threshold.strategy == "min_cost" and not self.data.schema_.amount:
            raise ValueError(
                "threshold.strategy: min_cost weighs each missed fraud by its amount, but "
                "data.schema.amount is null; use max_f1 or min_precision"
            )
        if self.data.schema_.time_unit == "d" and self.features.calendar:
            raise ValueError(
                f"features.calendar: {', '.join(self.features.calendar)} need the time of day, "
                "but data.schema.time_unit is d (a clock that counts days has no hour); "
                "remove features.calendar or give a finer time column"
            )
        role = self.evaluate.card_entity
        if role is not None and role not in declared:
            raise ValueError(
                f"evaluate.card_entity: {role!r} is not an entity role in data.schema.entities "
                f"(declared: {', '.join(declared) or 'none'})"
            )
        return self


def _format_location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-after", "literal", "list["))]
    return ".".join(parts).replace("schema_", "schema") or "(top level)"


def describe_error(error: dict[str, Any]) -> str:
    where = _format_location(error["loc"])
    nested = error.get("ctx", {}).get("error")
    if isinstance(nested, KeyedProblems):
        prefix = f"{where}." if error["loc"] else ""
        return "; ".join(f"{prefix}{path}: {what}" for path, what in nested.problems)
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    if error["type"] in {"missing"} or isinstance(got, dict):
        return f"{where}: {message}"
    return f"{where}: {message} (got {got!r})"


def check_block(section: type[SectionT], raw: Any, where: str) -> SectionT:
    """A named block of settings (a model family's, an engine's) checked against the section
    class that owns it: the libraries that own the names call this, so every problem reads
    like the loader's own (``model.lightgbm.n_estimators: ...``)."""
    try:
        return section.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(f"{where}.{describe_error(e)}" for e in exc.errors())
        raise ConfigError(problems) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's last-one-wins on a repeated key hides a mistake; here it is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate a params mapping, turning every problem into one ConfigError."""
    if raw is None:
        raise ConfigError(f"{source}: the file is empty; expected a mapping of sections")
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(describe_error(e) for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def load_params(path: Path | str = DEFAULT_PARAMS_FILE) -> Params:
    """Read and validate params.yaml; a missing file means all defaults are used."""
    path = Path(path)
    if not path.exists():
        if path == DEFAULT_PARAMS_FILE:
            return Params()
        raise ConfigError(f"{path}: params file not found")
    try:
        # _UniqueKeyLoader is a yaml.SafeLoader with a repeated-key check: bandit's B506
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # nosec B506
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, source=str(path))
