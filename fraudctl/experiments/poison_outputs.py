"""The poisoning grid's files: a curve per attack, the degradation plot, the JSON results
and the Markdown summary, all written into the stage's staging folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fraudctl.experiments.common import write_results
from fraudctl.io import write_text, write_with


def _curve_frame(table: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for level, cell in table.items():
        rows.append(
            {
                "level": float(level),
                "undefended_pr_auc": cell["undefended"]["pr_auc"]["mean"],
                "undefended_pr_auc_std": cell["undefended"]["pr_auc"]["std"],
                "defended_pr_auc": cell["defended"]["pr_auc"]["mean"],
                "defended_pr_auc_std": cell["defended"]["pr_auc"]["std"],
                "undefended_recall": cell["undefended"]["recall"]["mean"],
                "defended_recall": cell["defended"]["recall"]["mean"],
            }
        )
    return pd.DataFrame(rows).sort_values("level")


def write_outputs(directory: Path, summary: dict[str, Any]) -> list:
    outputs = []
    frames = {}
    for attack, table in summary["attacks"].items():
        frame = _curve_frame(table)
        frames[attack] = frame
        path = directory / f"{attack}.csv"
        write_with(path, lambda tmp, f=frame: f.to_csv(tmp, index=False))
        outputs.append(path)
    png = directory / "degradation.png"
    _plot(png, frames)
    outputs.append(png)
    worst = summary["worst"]
    headline = {
        "baseline_pr_auc": summary["baseline"]["pr_auc"]["mean"],
        "worst_attack": worst.get("attack"),
        "worst_level": worst.get("level"),
        "worst_pr_auc_drop": worst.get("pr_auc_drop"),
        "defence_recovered": worst.get("recovered"),
    }
    results = {k: v for k, v in summary.items() if k != "run_id"}
    outputs += write_results(directory, results, headline)
    summary_path = directory / "summary.md"
    write_text(summary_path, render_summary(summary))
    outputs.append(summary_path)
    return outputs


def _plot(path, frames: dict[str, pd.DataFrame]) -> None:
    from fraudctl.model.plots import pyplot, save_figure

    fig, axes = pyplot().subplots(
        1, len(frames), figsize=(4.5 * len(frames), 3.8), dpi=100, squeeze=False, sharey=True
    )
    for ax, (attack, frame) in zip(axes[0], frames.items(), strict=True):
        for variant, style in (("undefended", "-o"), ("defended", "--s")):
            ax.errorbar(
                frame["level"],
                frame[f"{variant}_pr_auc"],
                yerr=frame[f"{variant}_pr_auc_std"],
                fmt=style,
                capsize=3,
                label=variant,
            )
        ax.set(title=attack, xlabel="attack level", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test PR-AUC (mean ± sd over seeds)")
    axes[0][0].legend()
    save_figure(fig, path)


def render_summary(summary: dict[str, Any]) -> str:
    lines = [
        "# Data poisoning",
        "",
        summary["headline"] + ".",
        "",
        f"Training rows used per fit: {summary['sampled']['train_rows_used']:,} of "
        f"{summary['sampled']['train_rows_available']:,} (every fraud, a random sample of "
        f"legitimate rows); {summary['sampled']['seeds']} seeds per cell; model "
        f"{summary['sampled']['model']}.",
        "",
    ]
    for attack, table in summary["attacks"].items():
        lines += [
            f"## {attack}",
            "",
            "| level | labels changed | rows screened | PR-AUC undefended | "
            "PR-AUC defended | recall undefended | recall defended |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for level, cell in table.items():
            u, d = cell["undefended"], cell["defended"]
            lines.append(
                f"| {level} | {cell['labels_changed']:,} | {cell['rows_screened']:,.0f} | "
                f"{u['pr_auc']['mean']:.3f} ± {u['pr_auc']['std']:.3f} | "
                f"{d['pr_auc']['mean']:.3f} ± {d['pr_auc']['std']:.3f} | "
                f"{u['recall']['mean']:.3f} | {d['recall']['mean']:.3f} |"
            )
        lines.append("")
    return "\n".join(lines)
