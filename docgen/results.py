"""Reading ``benchmarks/results/*.json`` and rendering them generically.

Every renderer says where its numbers came from (the command, the date, the machine) and,
when the file is missing, which command writes it, so a page never shows a number whose
source a reader cannot rerun.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docgen import fmt

RESULTS = Path("benchmarks") / "results"
COMMANDS = {  # how each file is written, for the "not measured yet" line
    "install": "python -m benchmarks.install",
    "newcomer": "make bench-newcomer",
    "pipeline": "make bench",
    "load": "make bench-load",
    "feature_store": "make bench-feast",
    "walkthrough_continuous": "python -m benchmarks.walkthrough continuous",
    "walkthrough_first_run": "python -m benchmarks.walkthrough first-run",
}


@dataclass(frozen=True)
class Result:
    name: str
    command: str
    measured_at: str
    machine: dict[str, Any]
    targets: str
    rows: list[dict[str, Any]]
    limits: dict[str, list[Any]]

    @property
    def source(self) -> str:
        cores = self.machine.get("cores")
        cpu = self.machine.get("cpu") or "unknown CPU"
        load = self.machine.get("load_average")
        busy = f", load average {load[0]:.1f} when written" if load else ""
        return (
            f"From `{RESULTS / self.name}.json`, written by `{self.command}` on "
            f"{self.measured_at}, {cores} cores ({cpu}){busy}."
        )

    def part(self, name: str) -> list[dict[str, Any]]:
        return [row for row in self.rows if row.get("part") == name]


class Missing(Exception):
    """A result file that no command has written in this checkout yet."""

    def __init__(self, name: str) -> None:
        command = COMMANDS.get(name, f"python -m benchmarks.{name}")
        super().__init__(
            f"*Not measured in this checkout yet: `{command}` writes "
            f"`{RESULTS / name}.json`, then `make docs-numbers` fills this in.*"
        )


def load(root: Path, name: str) -> Result:
    path = root / RESULTS / f"{name}.json"
    if not path.exists():
        raise Missing(name)
    document = json.loads(path.read_text(encoding="utf-8"))
    return Result(
        name=name,
        command=document.get("command", COMMANDS.get(name, f"python -m benchmarks.{name}")),
        measured_at=document.get("measured_at", "an unknown date"),
        machine=document.get("machine", {}),
        targets=document.get("targets", ""),
        rows=document.get("rows", []),
        limits=document.get("limits", {}),
    )


HEADERS = {
    "pr_auc": "PR-AUC",
    "roc_auc": "ROC-AUC",
    "val_pr_auc": "validation PR-AUC",
    "cv_pr_auc": "CV PR-AUC",
    "recall_at_fpr": "recall at 1 % FPR",
    "rps": "req/s",
    "rows_per_s": "rows/s",
    "p50_ms": "p50",
    "p95_ms": "p95",
    "p99_ms": "p99",
    "mean_ms": "mean",
    "peak_mib": "peak memory",
    "venv_mib": "virtualenv",
    "torch_mib": "PyTorch's share",
    "clone_repro_s": "first repro of a copy",
    "full_repro_s": "forced full repro",
    "noop_s": "no-op repro",
    "fit_s": "final fit",
    "shap_s": "SHAP, 1,000 rows",
    "train_stage_s": "`train` stage",
    "install_s": "make install",
    "repro_s": "make repro",
    "test_s": "make test",
    "pip_cache": "pip cache",
    "git_clean": "git clean after",
    "card_precision_before": "card precision@k before",
    "card_precision_after": "card precision@k after",
    "money_caught_after": "fraud money caught after",
    "money_fraud_after": "fraud money after",
    "money_share_after": "share caught after",
    "days_to_recover": "days to recover",
    "train_minutes": "training",
    "wall_minutes": "wall time",
    "non_2xx": "non-2xx",
    "ready_s": "server answers",
    "first_numbers_s": "first numbers",
    "whole_page_s": "whole page",
}


def header(column: str) -> str:
    if column in HEADERS:
        return HEADERS[column]
    if column.endswith("_per_s"):  # a rate, not a duration
        return f"{column.removesuffix('_per_s').replace('_', ' ')}/s"
    for suffix in ("_s", "_ms", "_mib", "_minutes"):
        if column.endswith(suffix):
            return column.removesuffix(suffix).replace("_", " ")
    return column.replace("_", " ")


def cell(column: str, value: Any) -> str:
    """One value, formatted by what its column measures."""
    if column == "days_to_recover" and value == 0:
        return "never fell"  # benchmarks/continuous.py: 0 means it never dropped below its level
    if column == "days_to_recover" and fmt.missing(value):
        return "not within the run"
    if fmt.missing(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    if column.endswith("_per_s") or column == "rps":  # a rate, before the "_s" of seconds
        return fmt.count(value)
    if column == "load" or column.startswith("load_"):
        return f"{value:.1f}"
    if column == "ratio" or column.startswith("ratio_") or column.endswith("_ratio"):
        return f"{value:.2f}×"  # a ratio rounded to a whole number hides what it compares
    if column.endswith("_ms"):
        return fmt.milliseconds(value)
    if column.endswith("_s"):
        return fmt.seconds(value)
    if column.endswith("_minutes"):
        return fmt.seconds(value * 60)
    if column.endswith("_mib"):
        return fmt.mib(value)
    if column.endswith("_gib"):
        return fmt.mib(value * 1024)
    if column.endswith("share_after") or column.endswith("_share"):
        return fmt.share(value)
    if isinstance(value, float) and abs(value) <= 1.5:
        return fmt.metric(value)
    return fmt.count(value)


def merged(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows formatted; rows that agree on every text column (a case measured several
    times) become one row of ranges."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        label = tuple((c, v) for c, v in row.items() if isinstance(v, str) or v is None)
        groups.setdefault(label, []).append(row)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append({c: cell(c, v) for c, v in group[0].items()})
            continue
        row: dict[str, str] = {}
        for column in group[0]:
            values = [r.get(column) for r in group]
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                row[column] = fmt.span(values, lambda v, c=column: cell(c, v))
            else:
                row[column] = " / ".join(dict.fromkeys(cell(column, v) for v in values))
        first = next(iter(row))
        row[first] = f"{row[first]} ({len(group)} runs)"
        out.append(row)
    return out


def scalar_columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        for column, value in row.items():
            structured = isinstance(value, dict | list) or (
                isinstance(value, str) and "\n" in value
            )
            if column != "part" and not structured:
                columns[column] = None
    return list(columns)


def generic_table(rows: list[dict[str, Any]], width: int = 8) -> str:
    """Any rows as tables: one per set of columns the rows share, each cut into tables of at
    most ``width`` columns that repeat the first column."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        columns = tuple(scalar_columns([row]))
        shapes.setdefault(columns, []).append({c: row[c] for c in columns})
    tables = []
    for columns, group in shapes.items():
        if not columns:
            continue
        key, rest = columns[0], list(columns[1:])
        shown = merged(group)
        for start in range(0, max(len(rest), 1), width - 1):
            part = [key, *rest[start : start + width - 1]]
            body = ([r.get(c, "–") for c in part] for r in shown)
            tables.append(fmt.table([header(c) for c in part], body))
    return "\n\n".join(tables)


TITLES = {
    "newcomer": "A fresh clone: the README's two commands",
    "install": "The install's size",
    "pipeline": "The pipeline, stage by stage",
    "families": "Model families on the ULB table",
    "ceiling": "Model families on the ULB table, judged on the test split (a bound)",
    "tune": "Tuning",
    "ui": "The web app's start-up",
    "continuous": "Continuous training: policies, analysts and a rule",
    "load": "Load: Locust and wrk",
    "serving": "Serving",
    "transactions": "Raw transaction logs",
    "dask": "Dask against the local engine",
    "feature_store": "Online stores: fraudctl's against Feast's",
    "quality": "Beside AutoML: the same splits, the same time limit",
    "costs": "What a fit costs: selection.budget's predictions against the clock",
    "budget": "selection.budget on the ULB table and the synthetic default",
}


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


def quality_tables(rows: list[dict[str, Any]]) -> str:
    """benchmarks/quality.py: one table per dataset, a system per row, the best PR-AUC in
    bold, so the side-by-side reads at a glance."""
    parts = []
    for dataset in dict.fromkeys(row["dataset"] for row in rows):
        runs = [row for row in rows if row["dataset"] == dataset]
        best = max(row["pr_auc"] for row in runs)
        first = runs[0]
        intro = (
            f"**{dataset}**: trained on {first['train_rows']:,} rows, tested on "
            f"{first['test_rows']:,} ({first['test_frauds']:,} frauds)."
        )
        body = []
        for row in runs:
            cells = []
            for key in QUALITY_COLUMNS:
                text = cell(key, row.get(key)) if key != "chosen" else str(row.get(key) or "–")
                cells.append(f"**{text}**" if key == "pr_auc" and row[key] == best else text)
            body.append(cells)
        parts.append(intro + "\n\n" + fmt.table(list(QUALITY_COLUMNS.values()), body))
    return "\n\n".join(parts)


def costs_tables(rows: list[dict[str, Any]]) -> str:
    """benchmarks/costs.py: the prediction beside the clock for each entry and table, then
    the coefficients that fit the clock, per entry."""
    body = [
        [
            f"`{row['entry']}`",
            row["table"],
            fmt.count(row["rows"]),
            f"{row['numeric']} / {row['categorical']}",
            fmt.seconds(row["wall_s"]),
            fmt.seconds(row["cpu_s"]),
            fmt.seconds(row["predicted_s"]),
            f"{row['predicted_over_wall']:.2f}",
            f"{row['load_average']:.1f}",
        ]
        for row in rows
    ]
    headers = ["entry", "table", "rows", "inputs (numeric / categorical)", "wall", "CPU"]
    measured = fmt.table([*headers, "predicted", "predicted / wall", "load"], body)
    fitted = {row["entry"]: row["fitted_to_wall"] for row in rows if "fitted_to_wall" in row}
    coefficients = [
        [f"`{name}`", f"{c['fixed']:.2f}", f"{c['per_numeric']:.3f}", f"{c['per_categorical']:.3f}"]
        for name, c in fitted.items()
    ]
    names = ["entry", "fixed (s)", "µs per row and numeric input", "µs per row and categorical"]
    return measured + "\n\nFitted to the wall seconds:\n\n" + fmt.table(names, coefficients)


def budget_tables(rows: list[dict[str, Any]]) -> str:
    """benchmarks/budget.py: per dataset and setting, the choice and its out-of-fold
    PR-AUC beside the anchor's, the test numbers, and train's seconds beside the load."""
    body = []
    for row in rows:
        oof = fmt.metric(row.get("oof_pr_auc"))
        if row.get("anchor_oof_pr_auc") is not None:
            oof += f" ({fmt.metric(row['anchor_oof_pr_auc'])})"
        body.append(
            [
                row["dataset"],
                row["settings"],
                f"`{row['chosen']}`",
                oof,
                fmt.metric(row.get("pr_auc")),
                fmt.metric(row.get("recall_at_fpr")),
                fmt.seconds(row.get("train_s")),
                fmt.seconds(row.get("train_cpu_s")),
                fmt.seconds(row.get("planned_s")),
                f"{row['load_before']:.1f} → {row['load_after']:.1f}",
            ]
        )
    headers = ["data", "settings", "chosen", "out-of-fold PR-AUC (LightGBM's)", "test PR-AUC"]
    headers += ["recall at 1 % FPR", "`train` (wall)", "CPU", "planned", "load"]
    return fmt.table(headers, body)


# result files whose rows read better in a layout of their own than in the generic tables
LAYOUTS: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "quality": quality_tables,
    "costs": costs_tables,
    "budget": budget_tables,
}


def measured_page(root: Path) -> str:
    """Every result file of the checkout, one section each (the Measured results page)."""
    files = sorted((root / RESULTS).glob("*.json"))
    sections = []
    for path in files:
        if path.stem.startswith("walkthrough_"):
            continue  # transcripts, rendered where their walkthrough is
        result = load(root, path.stem)
        title = TITLES.get(result.name, result.name.replace("_", " "))
        parts = dict.fromkeys(row.get("part") for row in result.rows)
        body = [f"## {title}", "", result.source, ""]
        if result.targets:
            body += [f"Conditions and targets: {result.targets}", ""]
        for part in parts:
            rows = [r for r in result.rows if r.get("part") == part]
            layout = LAYOUTS.get(result.name, generic_table)
            table = layout(rows)
            if table:
                body += [f"**{part}**", ""] if part else []
                body += [table, ""]
        sections.append("\n".join(body).rstrip())
    if not sections:
        return "No benchmark has written results in this checkout yet."
    return "\n\n".join(sections)


Renderer = Callable[[Path], str]
