"""The ``fraudctl`` command line: parse options, load params, call one stage, render the result.

Commands stay thin and import their stage lazily, so ``fraudctl --help`` never pays for
pandas, scikit-learn or MLflow. User mistakes (``FraudctlError``) become one red line and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from fraudctl.cli import (  # noqa: F401 - registers
    cycle,
    experiments,
    pipeline,
    release,
    reporting,
    serving,
    stream,
)
from fraudctl.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console-script shim
    app()
