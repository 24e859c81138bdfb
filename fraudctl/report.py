"""The pull-request report: what a change did to the model, against a base revision.

Metric diffs compare the tracked JSON files of the base revision and the workspace,
parameter diffs come from DVC (``dvc params diff --json``), curves of base and workspace
are drawn together with matplotlib (DVC's HTML plots fetch JavaScript from the internet),
and the experiment summaries are added when their outputs exist. Images are written beside
the report and referenced relatively, so ``cml comment update --publish`` can upload them.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fraudctl.errors import FraudctlError
from fraudctl.experiments.results import (
    DriftOutcome,
    FairnessOutcome,
    PoisonOutcome,
    read_outcome,
)
from fraudctl.io import read_json, write_text
from fraudctl.numbers import MINUS, number
from fraudctl.paths import ProjectPaths
from fraudctl.rules.summary import review_lines

HIGHER_IS_BETTER = {
    "pr_auc",
    "roc_auc",
    "precision",
    "recall",
    "f1",
    "recall_at_fpr",
    "precision_at_k",
    "fraud_amount_caught",
    "true_positives",
}
LOWER_IS_BETTER = {"false_positive_rate", "fraud_amount_missed", "expected_cost"}
LOWER_IS_BETTER |= {"false_positives", "false_negatives"}
# The files whose every number the report compares (reports/headline.json is a digest of them).
COMPARED_FILES = ("reports/metrics.json", "reports/train.json")
CURVES = {
    "pr_curve": ("recall", "precision", "Precision-recall (test)"),
    "roc_curve": ("fpr", "tpr", "ROC (test)"),
}


class ReportError(FraudctlError):
    """The report cannot be built (not a git repository, DVC missing)."""


@dataclass
class ReportResult:
    path: Path
    verdict: str
    base: str | None
    images: list[Path] = field(default_factory=list)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


def resolve_base(root: Path, base: str | None) -> str | None:
    """The base commit, or None when there is none to compare with (first commit, shallow)."""
    if base is None:
        return None
    if _run(["git", "rev-parse", "--git-dir"], root).returncode != 0:
        raise ReportError(f"{root}: not a git repository; the report compares git revisions")
    found = _run(["git", "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], root)
    if found.stdout.strip():
        return found.stdout.strip()
    shallow = _run(["git", "rev-parse", "--is-shallow-repository"], root).stdout.strip() == "true"
    commits = _run(["git", "rev-list", "--count", "--all"], root).stdout.strip()
    if shallow or commits in {"", "0", "1"}:
        return None  # nothing to compare with yet: the report shows absolute values
    raise ReportError(
        f"{base!r} is not a git revision here (branch, tag or commit); "
        "check the name, or fetch it (git fetch origin)"
    )


def _dvc_json(args: list[str], root: Path) -> dict[str, Any]:
    result = _run([sys.executable, "-m", "dvc", *args, "--json"], root)
    if result.returncode != 0:
        raise ReportError(f"dvc {' '.join(args)} failed: {result.stderr.strip()[:500]}")
    return json.loads(result.stdout or "{}")


def _json_at(root: Path, revision: str, path: str) -> dict[str, Any]:
    text = _git_show(root, revision, path)
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}  # a base revision with a broken file compares as if it had none


def metric_rows(root: Path, base: str | None) -> list[dict[str, Any]]:
    """One row per metric of the compared files (file, name, old, new, change), read from
    the files themselves: DVC declares only reports/headline.json as metrics, so that its
    views stay narrow, while the report compares every number the pull request moved."""
    rows = []
    for path in COMPARED_FILES:
        current = root / path
        new = _flatten(read_json(current)) if current.exists() else {}
        if base is None:
            rows += [
                {"file": path, "metric": k, "old": None, "new": v, "diff": None}
                for k, v in new.items()
            ]
            continue
        old = _flatten(_json_at(root, base, path))
        for name in [*new, *(n for n in old if n not in new)]:
            before, after = old.get(name), new.get(name)
            change = after - before if before is not None and after is not None else None
            rows.append({"file": path, "metric": name, "old": before, "new": after, "diff": change})
    return rows


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = value
    return flat


def param_rows(root: Path, base: str | None) -> list[dict[str, Any]]:
    if base is None:
        return []
    diff = _dvc_json(["params", "diff", base], root)
    return [
        {"file": path, "param": name, "old": change.get("old"), "new": change.get("new")}
        for path, params in diff.items()
        for name, change in params.items()
    ]


def _is_money(metric: str) -> bool:
    name = metric.rsplit(".", 1)[-1]
    return "amount" in name or "cost" in name


def _shown_as_zero(metric: str, diff: float) -> bool:
    """A change too small to show at the table's precision is no change at all."""
    return abs(diff) < (0.005 if _is_money(metric) else 0.00005)


def direction(metric: str, diff: float | None) -> str:
    """✅ better, ⚠️ worse, or blank when the metric has no good direction or did not move
    (by as much as the table can show)."""
    if diff is None or _shown_as_zero(metric, diff) or ".per_rule." in metric:
        return ""  # one rule's numbers have no good direction (an allow rule's precision)
    name = metric.rsplit(".", 1)[-1]
    if name in HIGHER_IS_BETTER:
        return "✅ better" if diff > 0 else "⚠️ worse"
    if name in LOWER_IS_BETTER:
        return "✅ better" if diff < 0 else "⚠️ worse"
    return ""


def _git_show(root: Path, revision: str, path: str) -> str | None:
    shown = _run(["git", "show", f"{revision}:{path}"], root)
    return shown.stdout if shown.returncode == 0 else None


def draw_curves(paths: ProjectPaths, base: str | None, assets: Path) -> list[Path]:
    """Base and workspace curves on one PNG each (only curves the workspace has)."""
    from fraudctl.model.plots import pyplot, save_figure

    plt = pyplot()
    images = []
    for name, (x, y, title) in CURVES.items():
        current_path = paths.plots_dir / f"{name}.csv"
        if not current_path.exists():
            continue
        fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
        relative = current_path.relative_to(paths.root).as_posix()
        old_text = _git_show(paths.root, base, relative) if base else None
        if old_text:
            old = pd.read_csv(io.StringIO(old_text))
            ax.plot(old[x], old[y], ls="--", lw=1.5, color="grey", label=f"base {base[:8]}")
        current = pd.read_csv(current_path)
        ax.plot(current[x], current[y], lw=2, label="this change")
        ax.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if name == "pr_curve" else "lower right")
        image = assets / f"{name}.png"
        save_figure(fig, image)
        images.append(image)
    return images


def _verdict(metrics: list[dict[str, Any]], paths: ProjectPaths) -> str:
    parts = []
    pr_auc = next(
        (r for r in metrics if r["file"] == COMPARED_FILES[0] and r["metric"] == "pr_auc"), None
    )
    if pr_auc and pr_auc["new"] is not None:
        if pr_auc["old"] is not None:
            parts.append(
                f"PR-AUC {pr_auc['old']:.3f} → {pr_auc['new']:.3f} "
                + f"({pr_auc['new'] - pr_auc['old']:+.3f})".replace("-", MINUS)
            )
        else:
            parts.append(f"PR-AUC {pr_auc['new']:.3f}")
    fairness = read_outcome(paths, "fairness")
    if fairness:
        failed = fairness.failed_checks
        parts.append(
            "fairness: " + (", ".join(failed) + " failed" if failed else "no fairness check failed")
        )
    drift = read_outcome(paths, "drift")
    if drift:
        parts.append(
            f"drift: {drift.drifted_features} of {len(drift.features)} features"
            + (" (gate FAILED)" if drift.drift_detected else "")
        )
    poison = read_outcome(paths, "poison")
    if poison and poison.worst_attack:
        parts.append(
            f"worst attack: {poison.worst_attack} {MINUS}{poison.worst_pr_auc_drop:.3f} PR-AUC"
        )
    return " · ".join(parts) or "no pipeline outputs found: run `dvc repro` first"


def _read(path: Path) -> dict[str, Any] | None:
    return read_json(path) if path.exists() else None


def _experiment_sections(paths: ProjectPaths, report_dir: Path) -> list[str]:
    def image(path: Path, alt: str) -> list[str]:
        if not path.exists():
            return []
        return [f"![{alt}]({Path(_relative(path, report_dir)).as_posix()})", ""]

    lines: list[str] = []
    poison: PoisonOutcome | None = read_outcome(paths, "poison")
    if poison:
        lines += [
            "## Data poisoning",
            "",
            poison.headline + ".",
            "",
            "| attack | strongest level | PR-AUC undefended | PR-AUC defended |",
            "| --- | --- | --- | --- |",
        ]
        for attack in poison.attacks:
            cell = poison.strongest(attack)
            lines.append(
                f"| {attack} | {cell.level} | "
                f"{cell.undefended['pr_auc'].mean:.3f} | {cell.defended['pr_auc'].mean:.3f} |"
            )
        lines.append("")
        lines += image(paths.experiment_dir("poison") / "degradation.png", "PR-AUC under attack")
    fairness: FairnessOutcome | None = read_outcome(paths, "fairness")
    if fairness:
        lines += [
            "## Fairness and explanations",
            "",
            fairness.headline + ".",
            "",
            "| group | rows | frauds | recall | false-positive rate | precision |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in fairness.groups:
            lines.append(
                f"| {row.group} | {number(row.count)} | {number(row.frauds)} | "
                f"{number(row.recall)} | {number(row.false_positive_rate)} | "
                f"{number(row.precision)} |"
            )
        top = ", ".join(f"`{name}`" for name in fairness.top_features[:5])
        lines += ["", f"Top SHAP features: {top}.", ""]
        lines += image(paths.experiment_dir("fairness") / "shap_bar.png", "SHAP importance")
    drift: DriftOutcome | None = read_outcome(paths, "drift")
    if drift:
        lines += [
            "## Data drift",
            "",
            drift.headline + ".",
            "",
            "| feature | PSI | drifted |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {feature.name} | {feature.psi:.3f} | {'yes' if feature.drifted else 'no'} |"
            for feature in drift.most_shifted(5)
        ]
        lines.append("")
        lines += image(paths.experiment_dir("drift") / "psi.png", "PSI by feature")
    return lines


def emission_section(paths: ProjectPaths, base: str | None) -> list[str]:
    """Energy and CO₂ per stage, this change against the base commit's files (they are
    committed but not DVC outputs: a measurement differs on every run)."""
    from fraudctl.emissions import STAGES, emissions_file

    rows = []
    for stage in STAGES:
        path = emissions_file(paths, stage)
        now = _read(path) or {}
        shown = (
            _git_show(paths.root, base, path.relative_to(paths.root).as_posix()) if base else None
        )
        before = json.loads(shown) if shown else {}
        if "energy_kwh" not in now and "energy_kwh" not in before:
            continue
        cells = []
        for key, scale in (("energy_kwh", 1000), ("emissions_kg_co2eq", 1000)):
            old, new = before.get(key), now.get(key)
            change = f"{(new - old) / old:+.0%}" if old and new is not None else "–"
            cells += [
                "–" if old is None else f"{old * scale:.3g}",
                "–" if new is None else f"{new * scale:.3g}",
                change,
            ]
        rows.append(f"| {stage} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "## Energy and emissions (CodeCarbon, offline)",
        "",
        "| stage | Wh base | Wh now | change | g CO₂e base | g CO₂e now | change |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Measured on the machine that ran the pipeline: compare runs on the same kind of machine.",
        "",
    ]


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())


def build_report(paths: ProjectPaths, base: str | None, output: Path) -> ReportResult:
    root = paths.root
    output = output if output.is_absolute() else root / output
    base_commit = resolve_base(root, base)
    metrics = metric_rows(root, base_commit)
    params = param_rows(root, base_commit)
    assets = output.parent / f"{output.stem}_assets"
    images = draw_curves(paths, base_commit, assets)
    verdict = _verdict(metrics, paths)

    lines = ["# fraudctl report", "", f"**{verdict}**", ""]
    if base_commit is None:
        lines += [
            f"No base revision to compare with (`{base}` not found: first commit or "
            "shallow clone); absolute values are shown."
            if base
            else "No base revision given; absolute values are shown.",
            "",
        ]
    else:
        lines += [f"Compared with `{base}` ({base_commit[:8]}).", ""]
    lines += [
        "## Metrics",
        "",
        "| file | metric | base | this change | change | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in metrics:
        name, diff = row["metric"], row["diff"]
        change = "–" if diff is None else number(diff, name, signed=True)
        if diff is not None and _shown_as_zero(name, diff):
            change = "0"
        lines.append(
            f"| {row['file']} | {name} | {number(row['old'], name)} | "
            f"{number(row['new'], name)} | {change} | {direction(name, diff)} |"
        )
    now_rules = (_read(paths.metrics_file) or {}).get("rules")
    then = _json_at(root, base_commit, COMPARED_FILES[0]) if base_commit else {}
    lines += ["", *review_lines(now_rules, then.get("rules")), "## Parameters", ""]
    if params:
        lines += ["| file | param | base | this change |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {p['file']} | {p['param']} | {number(p['old'])} | {number(p['new'])} |"
            for p in params
        ]
    else:
        lines.append("No parameter changed." if base_commit else "Nothing to compare with.")
    lines.append("")
    if images:
        lines += ["## Curves", ""]
        lines += [
            f"![{img.stem}]({Path(_relative(img, output.parent)).as_posix()})" for img in images
        ]
        lines.append("")
    lines += _experiment_sections(paths, output.parent)
    lines += emission_section(paths, base_commit)
    write_text(output, "\n".join(lines))
    return ReportResult(path=output, verdict=verdict, base=base_commit, images=images)
