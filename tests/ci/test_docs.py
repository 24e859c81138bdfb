"""The manual: the docs site builds strictly, and every command and params key it names
exists (a renamed key or command fails here, not in a reader's terminal)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("**/*.md"))]
SECTIONS = (
    "base|data|compute|split|features|model|selection|tune|emissions|card|threshold|"
    "evaluate|tracking|experiments"
)
PARAM_KEY = re.compile(rf"`((?:{SECTIONS})(?:\.[a-z_]+)+)(?:: [^`]*)?`")
# `fraudctl x` in inline code, and command lines in code blocks (`$ ` prompts too)
COMMAND = re.compile(r"(?:`|^\s*(?:\$ )?)fraudctl ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", re.M)
# keys of report files the docs quote in the same dotted form as params
REPORT_KEYS = {"selection.chosen"}


def test_the_readme_is_a_front_page():
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.slow
def test_the_docs_site_builds_strictly(tmp_path):
    env = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "fraudctl serve" in cli and "--port" in cli  # generated from the Typer app
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "InputContract" in api  # generated from the docstrings
    assert (tmp_path / "site" / "measured" / "index.html").exists()


def _commands() -> dict[str, set[str]]:
    import typer.main

    from fraudctl.cli import app

    group = typer.main.get_command(app)
    return {
        name: set(getattr(command, "commands", {}) or ())
        for name, command in group.commands.items()
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_command_the_docs_name_exists(page):
    commands = _commands()
    for match in COMMAND.finditer(page.read_text()):
        words = match.group(1).split()
        assert words[0] in commands, f"{page.name}: fraudctl {words[0]}"
        if commands[words[0]] and len(words) > 1 and not words[1].startswith("-"):
            assert words[1] in commands[words[0]], f"{page.name}: fraudctl {' '.join(words)}"


def _resolves(model: Any, path: list[str]) -> bool:
    """Whether a dotted key names a field of the typed params (free-form maps end it)."""
    from pydantic import BaseModel

    from fraudctl.config import ComputeParams, ModelParams
    from fraudctl.distributed.settings import DaskParams
    from fraudctl.model.families import FAMILIES

    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return True  # a mapping: its keys are data, not fields
        if model is ModelParams and part in FAMILIES:  # a family's own params block
            model = FAMILIES[part].params
            continue
        if model is ComputeParams and part == "dask":  # the Dask engine's own block
            model = DaskParams
            continue
        fields = model.model_fields
        alias = {f.alias: n for n, f in fields.items() if f.alias}
        name = alias.get(part, part)
        if name not in fields:
            return False
        annotation = fields[name].annotation
        model = next(
            (a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)),
            annotation,
        )
    return True


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_params_key_the_docs_name_exists(page):
    from fraudctl.config import Params

    unknown = sorted(
        key
        for key in {m.group(1) for m in PARAM_KEY.finditer(page.read_text())}
        if key not in REPORT_KEYS and not _resolves(Params, key.split("."))
    )
    assert not unknown, f"{page.name}: {unknown}"


def test_the_docs_pages_are_in_the_navigation():
    import yaml

    nav = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())["nav"]

    def pages(items: Any) -> set[str]:
        found: set[str] = set()
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            found |= pages(value) if isinstance(value, list) else {value}
        return found

    listed = pages(nav)
    present = {str(p.relative_to(REPO_ROOT / "docs")) for p in (REPO_ROOT / "docs").glob("**/*.md")}
    assert present <= listed, present - listed
    assert Path(REPO_ROOT / "docs" / "gen_results.py").exists()
