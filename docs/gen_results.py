"""Build the measured-results page from the benchmarks' own output files (mkdocs-gen-files).

Each ``benchmarks/results/<name>.json`` (written by ``benchmarks/results.py``) becomes a
table with the machine and date it was measured on: numbers are never copied by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import mkdocs_gen_files

RESULTS = Path("benchmarks/results")


def cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def ranges(rows: list[dict]) -> list[str]:
    """Timings as ranges: each case measured more than once gets the lowest and highest of
    every ``*_s`` column, so a reader sees the spread and not one lucky run."""
    lines = []
    for case in dict.fromkeys(row.get("case") for row in rows):
        runs = [row for row in rows if row.get("case") == case]
        if len(runs) < 2:
            continue
        spans = []
        for column in runs[0]:
            values = [r[column] for r in runs if isinstance(r.get(column), int | float)]
            if column.endswith("_s") and len(values) == len(runs):
                low, high = duration(min(values)), duration(max(values))
                shown = low if low == high else f"{low} to {high}"
                spans.append(f"`{column}` {shown}")
        lines += [f"Over {len(runs)} runs of {case}: " + ", ".join(spans) + ".", ""]
    return lines


QUALITY_COLUMNS = {
    "system": "system",
    "settings": "settings",
    "pr_auc": "PR-AUC",
    "roc_auc": "ROC-AUC",
    "recall_at_fpr": "recall at 1 % FPR",
    "card_precision_at_k": "card precision@k",
    "train_s": "training (wall)",
    "train_cpu_s": "CPU",
    "chosen": "chosen model",
}


def quality(rows: list[dict]) -> list[str]:
    """benchmarks/quality.py: one table per dataset, a system per row, the best PR-AUC in
    bold, so the side-by-side reads at a glance."""
    lines = []
    for dataset in dict.fromkeys(row["dataset"] for row in rows):
        runs = [row for row in rows if row["dataset"] == dataset]
        best = max(row["pr_auc"] for row in runs)
        first = runs[0]
        lines += [
            f"**{dataset}**: trained on {first['train_rows']:,} rows, tested on "
            f"{first['test_rows']:,} ({first['test_frauds']:,} frauds).",
            "",
            "| " + " | ".join(QUALITY_COLUMNS.values()) + " |",
            "|" + " --- |" * len(QUALITY_COLUMNS),
        ]
        for row in runs:
            cells = []
            for key in QUALITY_COLUMNS:
                value = row.get(key)
                if key.endswith("_s") and isinstance(value, int | float):
                    text = duration(value)
                else:
                    text = cell(value)
                cells.append(f"**{text}**" if key == "pr_auc" and value == best else text)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


RENDERERS = {"quality": quality}

lines = [
    "# Measured results",
    "",
    "Built from the files the benchmarks write (`benchmarks/results/*.json`); run a benchmark",
    "(`python -m benchmarks.<name>`) and rebuild the site to refresh a table.",
    "",
]
files = sorted(RESULTS.glob("*.json"))
if not files:
    lines.append("No benchmark has written results in this checkout yet.")
for path in files:
    document = json.loads(path.read_text(encoding="utf-8"))
    machine = document["machine"]
    rows = document["rows"]
    lines += [
        f"## {document['benchmark']}",
        "",
        f"`{document['command']}`, {document['measured_at']}, on {machine['cores']} cores "
        f"({machine['cpu'] or 'unknown CPU'}), Python {machine['python']}.",
        "",
    ]
    if rows and document["benchmark"] in RENDERERS:
        lines += RENDERERS[document["benchmark"]](rows)
    elif rows:
        columns = list(rows[0])
        lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
        lines += ["", *ranges(rows)]
    if document.get("targets"):
        lines += [document["targets"]]
    lines.append("")

with mkdocs_gen_files.open("measured.md", "w") as page:
    page.write("\n".join(lines) + "\n")
