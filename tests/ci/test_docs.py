"""The manual: the docs site builds strictly, and every command, option and params key it
names exists (a renamed key, command or option fails here, not in a reader's terminal)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("**/*.md"))]
SECTIONS = (
    "base|data|compute|split|features|model|selection|tune|emissions|card|threshold|"
    "evaluate|tracking|experiments"
)
PARAM_KEY = re.compile(rf"`((?:{SECTIONS})(?:\.[a-z_]+)+)(?:: [^`]*)?`")
# `fraudctl x` in inline code, and command lines in code blocks (`$ ` prompts too), with the
# rest of the span or line (its options)
COMMAND = re.compile(
    r"(?:`|^\s*(?:\$ )?)fraudctl ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)([^`\n]*)", re.M
)
# `serve --online-store`, `features materialize --store`: a command's own words in a span
SPAN_COMMAND = re.compile(r"`((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)((?: --?[a-zA-Z][\w-]*[^`]*)+)`")
OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")
# a span that is one option: `--history FILE`
BARE_OPTION = re.compile(r"`(--[a-zA-Z][\w-]*)(?: [^`]*)?`")
# other tools' options the docs name on their own (in a sentence about that tool)
OTHER_TOOLS = {
    "--strict",  # mkdocs build, pip-audit
    "--local",  # dvc remote modify
    "--csv",  # dvc exp show
    "--only-changed",  # dvc exp show
    "--checks",  # schemathesis
    "--extra-index-url",  # pip
    "--index-url",  # pip
    "--appendonly",  # redis-server
}
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
    for page in ("measured", "glossary", "troubleshooting", "changelog", "own-data"):
        assert (tmp_path / "site" / page / "index.html").exists(), page
    params = (tmp_path / "site" / "reference" / "params" / "index.html").read_text()
    assert "leak_guard_auc" in params and "model.lightgbm" in params  # every key, families too


def _commands() -> dict[str, Any]:
    """Command name -> its click command (groups keep their subcommands)."""
    import typer.main

    from fraudctl.cli import app

    return dict(typer.main.get_command(app).commands)


def _options(command: Any) -> set[str]:
    return {"--help"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


def _every_command(commands: Any) -> list[Any]:
    found = []
    for command in commands:
        group = getattr(command, "commands", None)
        found += _every_command(group.values()) if group else [command]
    return found


def _named(text: str) -> list[tuple[list[str], str]]:
    """(command words, the rest of its span or line) for each fraudctl command a page names."""
    found = [(m.group(1).split(), m.group(2)) for m in COMMAND.finditer(text)]
    commands = _commands()
    for match in SPAN_COMMAND.finditer(text):
        words = match.group(1).split()
        if words[0] in commands:
            found.append((words, match.group(2)))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_command_the_docs_name_exists(page):
    commands = _commands()
    for words, _ in _named(page.read_text()):
        assert words[0] in commands, f"{page.name}: fraudctl {words[0]}"
        group = getattr(commands[words[0]], "commands", None)
        if group and len(words) > 1 and not words[1].startswith("-"):
            assert words[1] in group, f"{page.name}: fraudctl {' '.join(words)}"


def _option_problems(text: str) -> list[str]:
    commands = _commands()
    every = set().union(*(_options(c) for c in _every_command(commands.values())))
    problems = []
    for words, rest in _named(text):
        command = commands.get(words[0])
        group = getattr(command, "commands", None)
        if group:
            if len(words) < 2 or words[1] not in group:
                continue
            command = group[words[1]]
        elif command is not None:
            rest = " ".join(words[1:]) + " " + rest  # a second word is an argument
        if command is None:
            continue
        rest = re.split(r"\s#|\||&|;|>|\$\(", rest)[0]
        problems += [
            f"{' '.join(words)} {option}"
            for option in OPTION.findall(rest)
            if option not in _options(command)
        ]
    problems += [
        f"{m.group(1)} is no command's option"
        for m in BARE_OPTION.finditer(text)
        if m.group(1) not in every | OTHER_TOOLS
    ]
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_option_the_docs_give_a_command_exists(page):
    assert not _option_problems(page.read_text()), page.name


def test_the_option_check_fails_on_an_option_the_command_lacks():
    assert _option_problems("Start it with `fraudctl serve --store sqlite:///x.db`.")
    assert _option_problems("```bash\nfraudctl serve --model m --store x  # no\n```")
    assert _option_problems("URI (`serve --store`)")
    assert _option_problems("set `--no-such-option`")
    assert not _option_problems("`fraudctl serve --online-store sqlite:///x.db`")
    assert not _option_problems("`features materialize --store`, `--history FILE`")


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

    class Loader(yaml.SafeLoader):  # mkdocs.yml's !ENV tags read as plain values here
        pass

    Loader.add_constructor("!ENV", lambda loader, node: None)
    nav = yaml.load((REPO_ROOT / "mkdocs.yml").read_text(), Loader=Loader)["nav"]

    def pages(items: Any) -> set[str]:
        found: set[str] = set()
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            found |= pages(value) if isinstance(value, list) else {value}
        return found

    listed = pages(nav)
    present = {str(p.relative_to(REPO_ROOT / "docs")) for p in (REPO_ROOT / "docs").glob("**/*.md")}
    assert present <= listed, present - listed
