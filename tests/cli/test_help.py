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


# Never loaded by a help page: the server, the data and ML libraries, and the Markdown and
# syntax-highlighting libraries rich's help rendering would pull in. The root page loads
# no pydantic either; a command's page does, as Typer (0.29) checks its options' values
# with pydantic before it sees --help.
HEAVY = {
    "fastapi",
    "starlette",
    "pydantic_settings",
    "uvicorn",
    "numpy",
    "pandas",
    "pyarrow",
    "sklearn",
    "lightgbm",
    "mlflow",
    "yaml",
    "markdown_it",
    "pygments",
}


@pytest.mark.parametrize(
    ("command", "heavy"),
    [
        (["--help"], HEAVY | {"pydantic"}),
        (["serve", "--help"], HEAVY),
        (["stream", "--help"], HEAVY),
        (["train", "--help"], HEAVY),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_help_never_imports_the_server(command, heavy):
    """The serve command's options come from a plain table (fraudctl.serve.options): the
    help pages, the root's included, load neither FastAPI nor pydantic-settings, nor any
    library of :data:`HEAVY`."""
    import subprocess
    import sys

    from tests.conftest import cli_env

    probe = (
        "import sys\n"
        f"sys.argv = ['fraudctl', *{command!r}]\n"
        "from fraudctl.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"heavy = {heavy!r}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr


def test_serve_options_are_the_settings_table():
    """Each setting's flag, variable, default and help reach `fraudctl serve --help` from
    the one table; the environment-only ones (the token) are no option at all."""
    from fraudctl.serve.options import SETTINGS

    text = " ".join(_help("serve").split())
    options, epilog = text.split("Also read from the environment:")
    for setting in SETTINGS:
        if setting.option:
            assert setting.flag in options and setting.env in options, setting.name
            assert " ".join(setting.help.split())[:40] in options, setting.name
        else:
            assert setting.env in epilog and setting.flag not in options, setting.name
    assert set(ServeSettings.model_fields) == {setting.name for setting in SETTINGS}
    assert {n: f.default for n, f in ServeSettings.model_fields.items()} == {
        s.name: s.default for s in SETTINGS
    }


@pytest.mark.parametrize(
    ("option", "field"),
    [(["--log-sample", "2"], "log_sample"), (["--log-level", "LOUD"], "log_level")],
)
def test_a_serve_setting_out_of_bounds_is_one_line(option, field):
    result = CliRunner().invoke(app, ["serve", "--model", "nowhere", *option])
    assert result.exit_code == 2
    assert f"serve settings: {field}" in result.output and "Traceback" not in result.output


def test_help_rendering_loads_markdown_and_tracebacks_when_they_are_used():
    """The help pages import Typer's renderer with stand-ins for rich's Markdown and
    Traceback (fraudctl.help_style): Markdown help text and a pretty traceback still get
    the real classes, and the modules stay importable as usual."""
    import subprocess
    import sys

    from tests.conftest import cli_env

    probe = (
        "import sys\n"
        "sys.argv = ['fraudctl', '--help']\n"
        "from fraudctl.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "assert 'rich.markdown' not in sys.modules and 'rich.traceback' not in sys.modules\n"
        "from typer import rich_utils\n"
        "text = rich_utils._make_rich_text(text='*x*', style='', markup_mode='markdown')\n"
        "import rich.markdown, rich.traceback\n"
        "assert type(text) is rich.markdown.Markdown, type(text)\n"
        "assert isinstance(text, rich_utils.Markdown)\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError as exc:\n"
        "    shown = rich_utils.Traceback.from_exception(type(exc), exc, exc.__traceback__)\n"
        "assert type(shown) is rich.traceback.Traceback, type(shown)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok", result.stdout


def test_python_dash_m_fraudctl_is_the_same_command_line():
    import subprocess
    import sys

    from tests.conftest import cli_env

    result = subprocess.run(
        [sys.executable, "-m", "fraudctl", "--help"],
        capture_output=True,
        text=True,
        env=cli_env(COLUMNS="200"),
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: fraudctl [OPTIONS] COMMAND [ARGS]..." in result.stdout
    assert " ".join(result.stdout.split()) == " ".join(_help().split())
