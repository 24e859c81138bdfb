"""`--help` as a user reads it: defaults, environment variables, no template debris."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from fraudctl.cli import app
from fraudctl.serve.settings import ServeSettings


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "fraudctl")
def test_every_help_page_is_free_of_type_tags_on_flags_and_braces(command):
    text = _help(*command)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage
    assert "<bool>" not in text
    help_line = next(line for line in text.splitlines() if "--help" in line)
    assert "Show this message and exit." in help_line


def test_serve_help_shows_defaults_and_every_environment_variable():
    text = " ".join(_help("serve").split())
    defaults = ServeSettings.model_fields
    for option in ("model", "host", "port", "workers"):
        assert f"FRAUDCTL_{option.upper()}" in text
        assert f"[default: {defaults[option].default}]" in text
    for variable in (
        "FRAUDCTL_ONLINE_STORE",
        "FRAUDCTL_ADMIN_TOKEN",
        "FRAUDCTL_MAX_BATCH_SIZE",
        "FRAUDCTL_LOG_LEVEL",
        "MLFLOW_TRACKING_URI",
    ):
        assert variable in text
    assert str(defaults["online_store"].default) in text


def test_a_required_argument_reads_plainly_in_usage():
    assert "Usage: fraudctl promote [OPTIONS] VERSION" in " ".join(_help("promote").split())


def test_model_family_names_are_never_cut(monkeypatch):
    import subprocess

    from tests.conftest import cli_env

    result = subprocess.run(
        ["fraudctl", "models"], capture_output=True, text=True, env=cli_env(COLUMNS="120")
    )
    assert result.returncode == 0
    assert "hist_gradient_boosting" in result.stdout and "logistic_regression" in result.stdout


def test_a_long_step_says_it_is_alive(monkeypatch, capsys):
    """A fold that fits for minutes prints a heartbeat line, terminal or not."""
    import time

    import fraudctl.cli.common as cli

    monkeypatch.setattr(cli, "HEARTBEAT_SECONDS", 0.3)
    with cli.progress("train") as step:
        step("fold 2/3: fitting lightgbm on 1,000 rows")
        time.sleep(1.0)
    out = capsys.readouterr().out
    assert "train: still fold 2/3: fitting lightgbm on 1,000 rows" in out


def test_serve_help_lists_every_setting():
    """Every ServeSettings field can be found from `fraudctl serve --help` (as an option
    with its FRAUDCTL_* variable, or in the epilog)."""
    import subprocess

    from fraudctl.serve.settings import ServeSettings
    from tests.conftest import cli_env

    result = subprocess.run(
        ["fraudctl", "serve", "--help"], capture_output=True, text=True, env=cli_env(COLUMNS="200")
    )
    text = " ".join(result.stdout.split())
    for name in ServeSettings.model_fields:
        variable = "MLFLOW_TRACKING_URI" if name == "tracking_uri" else f"FRAUDCTL_{name.upper()}"
        assert variable in text, variable
