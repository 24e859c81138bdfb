"""The fairness stage's files: the by-group table, the JSON results and the Markdown
report an auditor reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fraudctl.experiments.common import write_results
from fraudctl.io import write_text, write_with
from fraudctl.numbers import number


def write_outputs(
    directory: Path, metrics: dict[str, Any], by_group: pd.DataFrame, extra: list[Path]
) -> list[Path]:
    by_group_path = directory / "by_group.csv"
    table = by_group.reset_index().rename(columns={by_group.index.name or "index": "group"})
    write_with(by_group_path, lambda tmp: table.to_csv(tmp, index=False))
    disparity = metrics.get("disparity", {})
    headline = {
        "equalized_odds_difference": disparity.get("equalized_odds_difference"),
        "demographic_parity_difference": disparity.get("demographic_parity_difference"),
        "checks_passed": metrics.get("checks", {}).get("passed"),
    }
    written = write_results(directory, metrics, headline)
    report_path = directory / "report.md"
    write_text(report_path, render_report(metrics))
    return [*written, by_group_path, report_path, *extra]


def render_report(metrics: dict[str, Any]) -> str:
    lines = [
        "# Fairness and explanations",
        "",
        metrics["headline"] + ".",
        "",
        f"Groups: `{metrics['group_column']}`; decisions at the model threshold "
        f"{metrics['threshold']:.4f}.",
        "",
        "## By group (test split)",
        "",
    ]
    columns = [
        "count",
        "frauds",
        "selection_rate",
        "recall",
        "false_positive_rate",
        "precision",
        "pr_auc",
    ]
    lines += ["| group | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for group, row in metrics["by_group"].items():
        lines.append(f"| {group} | " + " | ".join(number(row[c], c) for c in columns) + " |")
    lines += [
        "",
        "## Disparities",
        "",
        "| measure | value | limit | result |",
        "| --- | --- | --- | --- |",
    ]
    limits = metrics["limits"]
    for name in ("equalized_odds_difference", "demographic_parity_difference"):
        limit = limits[f"max_{name}"]
        ok = metrics["checks"][name]
        lines.append(
            f"| {name} | {metrics['disparity'][name]:.4f} | {limit:g} | "
            f"{'pass' if ok else 'FAIL'} |"
        )
    for name in ("equalized_odds_ratio", "demographic_parity_ratio"):
        lines.append(f"| {name} | {metrics['disparity'][name]:.4f} | | |")
    mitigation = metrics.get("mitigation")
    if mitigation:
        before = {**metrics["disparity"], **metrics["overall"]}
        after = mitigation["after"]
        lines += [
            "",
            f"## Mitigation: {mitigation['method']}",
            "",
            "| measure | before | after |",
            "| --- | --- | --- |",
        ]
        for key in (
            "equalized_odds_difference",
            "demographic_parity_difference",
            "recall",
            "precision",
            "alerts",
            "fraud_amount_caught",
        ):
            lines.append(f"| {key} | {number(before[key], key)} | {number(after[key], key)} |")
    shap = metrics["shap"]
    lines += [
        "",
        "## What drives the score (SHAP)",
        "",
        f"Mean |SHAP| over {shap['rows']:,} test rows (log-odds), top features:",
        "",
    ]
    lines += [
        f"{i}. `{f['feature']}` {f['mean_abs_shap']:.4f}"
        for i, f in enumerate(shap["top_features"][:10], 1)
    ]
    lines += ["", "![SHAP importance](shap_bar.png)", "", "![SHAP beeswarm](shap_beeswarm.png)", ""]
    return "\n".join(lines)
