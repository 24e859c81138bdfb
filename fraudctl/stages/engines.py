"""The engines a stage can run on (``compute.engine``), and each engine's own settings.

Each stage module picks its engine's code with a direct import (readers and tools can
follow a stage to its code); this table is what params are checked against: the engine
names, and the section class that checks each engine's block (``compute.dask``). Adding an
engine is a folder beside ``distributed/`` with the stage functions, one row here, and
one branch in each stage module that it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fraudctl.config import ComputeParams
from fraudctl.errors import ConfigError


def _dask_settings() -> Any:
    from fraudctl.distributed.settings import DaskParams

    return DaskParams


# engine -> a function returning the section class of its block (None: no settings)
ENGINES: dict[str, Callable[[], Any] | None] = {"local": None, "dask": _dask_settings}


def check_compute(compute: ComputeParams) -> None:
    """The engine exists and every engine block present is valid (whichever is chosen)."""
    from fraudctl.config import check_block

    if compute.engine not in ENGINES:
        raise ConfigError(
            f"compute.engine: unknown engine {compute.engine!r}; known: {', '.join(ENGINES)}"
        )
    for name, block in compute.blocks.items():
        settings = ENGINES.get(name)
        if settings is None:
            raise ConfigError(
                f"compute.{name}: unknown key (engine blocks: "
                f"{', '.join(n for n, s in ENGINES.items() if s) or 'none'})"
            )
        check_block(settings(), block, f"compute.{name}")
