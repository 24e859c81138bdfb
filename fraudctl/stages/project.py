"""Params for a stage: the typed loader's sections, then every block a library owns.

:func:`fraudctl.config.load_params` checks each section's shape; the names a library owns
are checked here, right after, so a typo in a model family's block, an engine's block or a
candidate's name still fails before any work starts, with its key path and the file.
Rules are checked where params meet a model's fields (:func:`rules_of`): `train` against
the transform it fits, the stages that measure a model against the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudctl.config import Params, load_params
from fraudctl.errors import ConfigError
from fraudctl.paths import ProjectPaths

if TYPE_CHECKING:
    from fraudctl.rules.ruleset import RuleSet


def check_params(params: Params, source: str = "params.yaml") -> Params:
    """The library-owned blocks of ``params`` (raises one ConfigError naming ``source``)."""
    from fraudctl.model.families import check_family_names, check_search_space, model_spec
    from fraudctl.stages.engines import check_compute

    try:
        model_spec(params.model, "model")
        model_spec(params.experiments.poison.model, "experiments.poison.model")
        check_family_names(params.selection.candidates, "selection.candidates")
        check_search_space(params.tune.search_space, "tune.search_space")
        check_compute(params.compute)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return params


def load(params_file: Path) -> tuple[Params, ProjectPaths]:
    """params.yaml, checked whole, and the project's paths (relative to the working dir)."""
    params = load_params(params_file)
    return check_params(params, str(params_file)), ProjectPaths()


def rules_of(params: Params, fields: list[tuple[str, str]]) -> RuleSet:
    """params.yaml's rules, checked against the fields of the model they decide with (its
    raw columns and computed features): an unknown field or a type mismatch is one
    ConfigError naming ``rules.<name>.when``. The params loader checked their syntax."""
    from fraudctl.rules.check import check_rules
    from fraudctl.rules.ruleset import RuleSet

    rules = RuleSet.from_params(params.rules)
    check_rules(rules, fields)
    return rules


def require_model_rules(params: Params, model: Any, model_dir: Path) -> None:
    """A stage that measures a model (evaluate, card) stops when params.yaml's rules are
    not the ones the model decides with: after a rule change, `train` saves them."""
    from fraudctl.errors import ArtifactError
    from fraudctl.rules.fields import fields_of

    wanted = rules_of(params, fields_of(model))
    if wanted.digest() != model.rules.digest():
        raise ArtifactError(
            f"{model_dir}: decides with other rules than params.yaml's ({len(model.rules)} "
            f"rule(s) {', '.join(model.rules.names) or 'none'}; params.yaml has "
            f"{', '.join(wanted.names) or 'none'}); rules travel with the model: run "
            "`fraudctl train` (or `dvc repro`) first"
        )
