"""Params for a stage: the typed loader's sections, then every block a library owns.

:func:`fraudctl.config.load_params` checks each section's shape; the names a library owns
are checked here, right after, so a typo in a model family's block, an engine's block or a
candidate's name still fails before any work starts, with its key path and the file.
"""

from __future__ import annotations

from pathlib import Path

from fraudctl.config import Params, load_params
from fraudctl.errors import ConfigError
from fraudctl.paths import ProjectPaths


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
