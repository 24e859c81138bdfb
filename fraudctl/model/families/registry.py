"""The table itself: what a family is, and how one is registered and looked up."""

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


def requirements_of(model: ModelParams) -> tuple[str, ...]:
    """Every distribution a model of this kind needs (an ensemble needs its members')."""
    names_needed = [model.name]
    if model.name == "ensemble":
        names_needed += model.section("ensemble").members  # type: ignore[attr-defined]
    required: list[str] = []
    for name in names_needed:
        required += [r for r in family(name).requirements if r not in required]
    return tuple(required)
