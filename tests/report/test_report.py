"""`fraudctl report` in a temporary git + DVC repository with two commits."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import cli_env, invoke

# The project declares only reports/headline.json as metrics: the report reads the full files.
DVC_YAML = {"metrics": ["reports/headline.json"], "params": ["params.yaml"]}


def _git(root: Path, *args: str) -> str:
    env = cli_env(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout


def _state(
    root: Path, trees: int, pr_auc: float, fpr: float, missed: float = 1500.0, roc: float = 0.98
) -> None:
    (root / "params.yaml").write_text(
        yaml.safe_dump({"model": {"lightgbm": {"n_estimators": trees}}})
    )
    reports = root / "reports"
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    (reports / "metrics.json").write_text(
        json.dumps(
            {
                "pr_auc": pr_auc,
                "roc_auc": roc,
                "false_positive_rate": fpr,
                "alerts": 40,
                "fraud_amount_missed": missed,
            }
        )
    )
    (reports / "train.json").write_text(json.dumps({"validation": {"pr_auc": pr_auc - 0.01}}))
    (reports / "plots" / "pr_curve.csv").write_text(
        f"recall,precision\n0,1\n0.5,{pr_auc}\n1,0.01\n"
    )
    (reports / "plots" / "roc_curve.csv").write_text("fpr,tpr\n0,0\n0.01,0.8\n1,1\n")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import sys

    monkeypatch.chdir(tmp_path)
    _git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML))
    _state(tmp_path, trees=100, pr_auc=0.70, fpr=0.002)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    return tmp_path


def test_report_shows_param_and_metric_changes(repo, runner):
    _state(repo, trees=200, pr_auc=0.75, fpr=0.003, missed=759.14, roc=0.980001)
    _git(repo, "commit", "-qam", "more trees")
    drift = repo / "reports" / "drift"
    drift.mkdir()
    (drift / "results.json").write_text(
        json.dumps(
            {
                "drift_detected": False,
                "drifted_features": 1,
                "headline": "drift: 1 of 2 features",
                "features": {
                    "V1": {"psi": 0.4, "drifted": True},
                    "V2": {"psi": 0.01, "drifted": False},
                },
            }
        )
    )
    (drift / "psi.png").write_bytes(b"\x89PNG fake")

    result = invoke(runner, "report", "--base", "HEAD~1")
    assert result.exit_code == 0, result.output
    text = (repo / "reports" / "report.md").read_text()
    first = text.splitlines()[2]
    assert first.startswith("**PR-AUC 0.700 → 0.750 (+0.050)")
    assert "drift: 1 of 2 features" in first
    assert "| params.yaml | model.lightgbm.n_estimators | 100 | 200 |" in text
    assert "| reports/metrics.json | pr_auc | 0.7000 | 0.7500 | +0.0500 | ✅ better |" in text
    assert (
        "| reports/metrics.json | false_positive_rate | 0.0020 | 0.0030 | +0.0010 | ⚠️ worse |"
        in text
    )
    # A change that rounds to zero is no change; money to the cent, with a real minus sign.
    assert "| reports/metrics.json | roc_auc | 0.9800 | 0.9800 | 0 |  |" in text
    assert (
        "| reports/metrics.json | fraud_amount_missed | 1,500.00 | 759.14 | \u2212740.86 "
        "| ✅ better |" in text
    )
    assert "| file | metric | base | this change | change | verdict |" in text
    assert "-740" not in text
    for image in ("report_assets/pr_curve.png", "report_assets/roc_curve.png", "drift/psi.png"):
        assert f"]({image})" in text
        assert (repo / "reports" / image).exists()
    assert "## Data drift" in text and "## Fairness" not in text and "## Data poisoning" not in text


def test_report_without_a_base_shows_absolute_values(repo, runner):
    result = invoke(runner, "report", "--base", "HEAD~1")  # a single commit: no parent
    assert result.exit_code == 0, result.output
    text = (repo / "reports" / "report.md").read_text()
    assert "No base revision to compare with" in text
    assert "| reports/metrics.json | pr_auc | – | 0.7000 | – |  |" in text
    assert text.splitlines()[2] == "**PR-AUC 0.700**"
    assert (repo / "reports" / "report_assets" / "pr_curve.png").exists()


def test_report_outside_git_is_a_clear_error(tmp_path, monkeypatch, runner):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    result = invoke(runner, "report")
    assert result.exit_code == 2 and "not a git repository" in result.output


def test_report_compares_energy_with_the_base_commit(repo, runner):
    emissions = repo / "reports" / "emissions"
    emissions.mkdir()
    (emissions / "train.json").write_text(
        json.dumps({"energy_kwh": 0.002, "emissions_kg_co2eq": 0.0004})
    )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "measured")
    (emissions / "train.json").write_text(
        json.dumps({"energy_kwh": 0.003, "emissions_kg_co2eq": 0.0006})
    )
    (emissions / "drift.json").write_text(json.dumps({"measured": False}))
    result = invoke(runner, "report", "--base", "HEAD")
    assert result.exit_code == 0, result.output
    text = (repo / "reports" / "report.md").read_text()
    assert "## Energy and emissions (CodeCarbon, offline)" in text
    assert "| train | 2 | 3 | +50% | 0.4 | 0.6 | +50% |" in text
    assert "| drift |" not in text  # not measured here nor at the base


def _rule(when: str, hits: int, precision: float, action: str = "review") -> dict:
    return {
        "action": action,
        "priority": 0,
        "when": when,
        "hits": hits,
        "frauds": round(hits * precision),
        "precision": precision,
        "recall": 0.1,
        "model_alerts": 1,
        "overlap": 0.1,
        "new_frauds": 2,
        "decided": hits,
    }


def test_report_reviews_a_rule_change_as_a_model_change(repo, runner):
    """Each rule then and now (added, removed, changed, as before), its numbers beside the
    base's, and per-rule numbers without a good direction (an allow rule's precision)."""
    metrics_path = repo / "reports" / "metrics.json"

    def with_rules(per_rule: dict, alerts: int, precision: float) -> None:
        metrics = json.loads(metrics_path.read_text())
        metrics["rules"] = {
            "count": len(per_rule),
            "sha256": "x" * 64,
            "per_rule": per_rule,
            "combined": {"alerts": alerts, "precision": precision, "recall": 0.8},
        }
        metrics_path.write_text(json.dumps(metrics))

    with_rules(
        {"velocity": _rule("n >= 8", 40, 0.25), "old_list": _rule("id in [1]", 3, 0.0)}, 60, 0.3
    )
    _git(repo, "commit", "-qam", "rules")
    with_rules(
        {
            "velocity": _rule("n >= 6", 55, 0.2),
            "cleared": _rule("id in [7]", 4, 0.0, "allow"),
        },
        70,
        0.28,
    )
    _git(repo, "commit", "-qam", "rule change")
    result = invoke(runner, "report", "--base", "HEAD~1")
    assert result.exit_code == 0, result.output
    text = (repo / "reports" / "report.md").read_text()
    assert "## Rules" in text
    assert (
        "| velocity | changed | review | `n >= 6` | 40 → 55 | 0.250 → 0.200 | 0.100 | 2 |" in text
    )
    assert "| cleared | added | allow | `id in [7]` | 4 | 0.000 | 0.100 | 2 |" in text
    assert "| old_list | removed | review | `id in [1]` | 3 → – |" in text
    assert "Combined decision: alerts 60 → 70, precision 0.3000 → 0.2800" in text
    # the combined decision has a direction; one rule's numbers do not
    assert "| rules.combined.precision | 0.3000 | 0.2800 | \u22120.0200 | ⚠️ worse |" in text
    assert "| rules.per_rule.velocity.precision | 0.2500 | 0.2000 | \u22120.0500 |  |" in text


def test_a_report_without_rules_has_no_rules_section(repo, runner):
    result = invoke(runner, "report")
    assert result.exit_code == 0, result.output
    assert "## Rules" not in (repo / "reports" / "report.md").read_text()
