"""Blends of other families, saved as one model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from fraudctl.errors import ConfigError
from fraudctl.model import payloads
from fraudctl.model.families.registry import FAMILIES, BuildContext, Family, register
from fraudctl.sections import _Section

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
