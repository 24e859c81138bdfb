"""The table itself: what a family is, and how one is registered and looked up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fraudctl.config import ImbalanceParams, check_block
from fraudctl.errors import ConfigError
from fraudctl.model import payloads
from fraudctl.model.costs import Cost
from fraudctl.sections import _Section


@dataclass(frozen=True)
class BuildContext:
    """What a factory may use: every family's section (an ensemble builds its members),
    the seed and the column roles of the model's inputs."""

    model: ModelSpec
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
    # "native": the library computes exact SHAP values itself (``contributions``); "tree":
    # shap's TreeExplainer; "agnostic": shap's permutation explainer over a background sample
    explainer: Literal["native", "tree", "agnostic"] = "agnostic"
    # trees compiled to machine code for serving and batch scoring (fraudctl.model.forest)
    fast_scoring: bool = False
    # how `fraudctl serve` scores it (fraudctl.model.scorers), for `fraudctl models`
    serving: str = "predict_proba"
    fit_options: Callable[[BuildContext], dict[str, Any]] = field(default=lambda _: {})
    # (fitted estimator, rows) -> (SHAP values in log-odds, base value): the native explainer
    contributions: Callable[[Any, Any], tuple[Any, float]] | None = None
    summary: str = ""
    # predicted seconds of one fit on the reference machine (selection.budget plans with
    # it; fraudctl.model.costs); None: unknown, so a budget never tries it on its own
    cost: Cost | None = None

    def __post_init__(self) -> None:
        if self.explainer == "native" and self.contributions is None:
            raise ValueError(f"family {self.name}: a native explainer needs contributions")


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


@dataclass(frozen=True)
class ModelSpec:
    """The chosen family, the resampling, and every family's checked block."""

    name: str
    imbalance: ImbalanceParams = field(default_factory=ImbalanceParams)
    sections: Mapping[str, _Section] = field(default_factory=dict, repr=False)

    def section(self, name: str | None = None) -> Any:
        """A family's block (its defaults when params.yaml leaves it out)."""
        name = name or self.name
        found = self.sections.get(name)
        return found if found is not None else family(name).params()

    def hyperparameters(self) -> dict[str, Any]:
        """The chosen estimator's hyper-parameters, as keyword arguments."""
        return self.section().model_dump()

    def named(self, name: str) -> ModelSpec:
        """The same blocks with another family chosen (a selection candidate)."""
        family(name)
        return replace(self, name=name)

    def searched_family(self) -> str:
        """What `fraudctl tune` searches when not told: the chosen family, or a blend's
        first member (each member is fitted from its own block, so tuning it tunes the
        blend's member)."""
        members = self.members()
        return members[0] if members else self.name

    def members(self) -> tuple[str, ...]:
        """The families a blend fits (each from its own block); () for a single family."""
        return tuple(str(m) for m in getattr(self.section(), "members", None) or ())

    def with_section(self, name: str, values: dict[str, Any], where: str) -> ModelSpec:
        """A copy with family ``name`` chosen and its block updated by ``values`` (checked)."""
        current = self.section(name).model_dump()
        updated = check_block(family(name).params, {**current, **values}, where)
        return replace(self, name=name, sections={**self.sections, name: updated})

    def with_overrides(self, overrides: dict[str, Any], where: str) -> ModelSpec:
        """A copy with some of the chosen estimator's hyper-parameters replaced (checked);
        keys the estimator does not have are ignored, so one override fits several models."""
        fields = type(self.section()).model_fields
        known = {k: v for k, v in overrides.items() if k in fields}
        return self.with_section(self.name, known, where)


def requirements_of(model: ModelSpec) -> tuple[str, ...]:
    """Every distribution a model of this kind needs (an ensemble needs its members')."""
    names_needed = [model.name]
    if model.name == "ensemble":
        names_needed += model.section("ensemble").members  # type: ignore[attr-defined]
    required: list[str] = []
    for name in names_needed:
        required += [r for r in family(name).requirements if r not in required]
    return tuple(required)
