"""``fraudctl report``: the Markdown report CML posts on a pull request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fraudctl.cli.common import (
    app,
    console,
    progress,
    user_errors,
)
from fraudctl.paths import ProjectPaths


@app.command()
@user_errors
def report(
    base: Annotated[
        str, typer.Option(help="Git revision to compare with (branch, tag or commit).")
    ] = "main",
    output: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "reports/report.md"
    ),
) -> None:
    """Markdown report of metric, param and curve changes against a git revision (for CML)."""
    from fraudctl.report import build_report

    with progress("report") as step:
        step(f"comparing with {base}")
        result = build_report(ProjectPaths(), base, output)
    console.print(f"[green]✓[/] {result.path}: {result.verdict}")
    if result.base is None:
        console.print(f"[yellow]note:[/] no base revision {base!r}; absolute values shown")
