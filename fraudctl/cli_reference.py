"""The CLI as a Click command, for the docs site's generated reference (mkdocs-click reads
``command``); nothing else imports it, so ``fraudctl --help`` does not pay for it."""

from __future__ import annotations

import typer

from fraudctl.cli import app

command = typer.main.get_command(app)
