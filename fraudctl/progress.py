"""How a stage reports progress: a callback taking one short line, shown by the CLI's spinner.

Stage functions never print; they call ``progress("step")``, and default to ``quiet``.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The default sink: say nothing (tests, library use)."""
