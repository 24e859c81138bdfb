"""A model as params.yaml describes it, with every family block checked by its family.

The params loader (:mod:`fraudctl.config`) keeps ``model:`` as a name and raw blocks: it
knows no family. :func:`model_spec` checks each block against the section its family
registered, fills in the defaults of the families left out, and returns the typed
:class:`ModelSpec` that fitting, selection, tuning and the experiments build estimators
from. Stages call it when they load params, so a typo still fails before any work starts,
with its key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fraudctl.config import ModelParams, check_block
from fraudctl.errors import ConfigError
from fraudctl.model.families.registry import FAMILIES, ModelSpec, names
from fraudctl.sections import _Section


def model_spec(params: ModelParams, where: str = "model") -> ModelSpec:
    """Check ``model:`` (or another model block, e.g. experiments.poison.model) against the
    family registry: one ConfigError naming every problem's key path."""
    problems: list[str] = []
    if params.name not in FAMILIES:
        problems.append(f"{where}.name: unknown model {params.name!r}; valid names: {names()}")
    sections: dict[str, _Section] = {}
    for key, block in params.blocks.items():
        if key not in FAMILIES:
            problems.append(f"{where}.{key}: unknown key (model families: {names()})")
            continue
        try:
            sections[key] = check_block(FAMILIES[key].params, block, f"{where}.{key}")
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    defaults = {key: entry.params() for key, entry in FAMILIES.items() if key not in sections}
    return ModelSpec(params.name, params.imbalance, {**defaults, **sections})


def check_family_names(candidates: list[str], where: str) -> None:
    """Names that must be model families (selection.candidates, tune.search_space keys)."""
    unknown = [name for name in candidates if name not in FAMILIES]
    if unknown:
        raise ConfigError(f"{where}: unknown model {unknown[0]!r}; valid names: {names()}")


def check_search_space(space: Mapping[str, Mapping[str, Any]], where: str) -> None:
    """Each searched family exists and each searched key is one of its hyper-parameters."""
    for name, ranges in space.items():
        if name not in FAMILIES:
            raise ConfigError(f"{where}.{name}: not a model family ({names()})")
        fields = FAMILIES[name].params.model_fields
        unknown = [key for key in ranges if key not in fields]
        if unknown:
            raise ConfigError(
                f"{where}.{name}: {', '.join(unknown)} not in model.{name} "
                f"(its keys: {', '.join(fields)})"
            )
