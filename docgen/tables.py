"""The curated tables and sentences the pages quote, one renderer per block name.

Each takes the project root and returns Markdown; a missing result file becomes the line
saying which command writes it (:class:`docgen.results.Missing`).
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

from docgen import fmt
from docgen.results import Result, cell, load

CHECKS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def judged(result: Result, column: str, value: Any) -> str:
    """A value, with ✓ or ✗ against the file's own limit for that column."""
    shown = cell(column, value)
    limit = result.limits.get(column)
    if limit is None or fmt.missing(value):
        return shown
    sign, bound = limit
    if CHECKS[sign](value, bound):
        return f"{shown} ✓"
    return f"{shown} ✗ (target {SIGNS.get(sign, sign)} {cell(column, bound)})"


SIGNS = {">=": "≥", "<=": "≤"}


def with_source(result: Result, *parts: str) -> str:
    return "\n\n".join([*filter(None, parts), result.source])


# -- a fresh clone, the install ---------------------------------------------------------


def newcomer_summary(root: Path) -> str:
    result = load(root, "newcomer")
    row = result.rows[-1]
    lines = [
        (
            "`make install`",
            fmt.seconds(row.get("install_s")),
            f"{fmt.count(row.get('packages'))} packages, {fmt.mib(row.get('venv_mib'))} in `.venv` "
            f"(pip cache {row.get('pip_cache', '?')})",
        ),
        (
            "`make repro`, first",
            fmt.seconds(row.get("repro_s")),
            "git status clean after it"
            if row.get("git_clean")
            else "git status NOT clean after it",
        ),
        ("`make repro`, second", fmt.seconds(row.get("noop_s")), "nothing to run"),
    ]
    if "test_s" in row:
        counts = ", ".join(f"{row[k]} {k}" for k in ("passed", "skipped", "failed") if row.get(k))
        lines.append(("`make test`", fmt.seconds(row["test_s"]), counts))
    table = fmt.table(["command", "wall time", "what it left"], lines)
    ending = ""
    if row.get("test_output"):
        # pytest's summary line (the output's tail also holds the slowest tests' last lines)
        summary = row["test_output"].strip().splitlines()[-1].strip("= ")
        ending = "`make test` ended with:\n\n```text\n" + summary + "\n```"
    return with_source(result, table, ending, f"A clone of commit `{row.get('commit', '?')}`.")


def install_sizes(root: Path) -> str:
    result = load(root, "install")
    rows = [
        (
            f"`{r['case']}`",
            r.get("torch") or "none",
            fmt.mib(r.get("venv_mib")),
            fmt.mib(r.get("torch_mib")) if r.get("torch") else "–",
            fmt.count(r.get("packages")),
            fmt.seconds(r.get("seconds")),
        )
        for r in result.rows
    ]
    headers = ["install", "PyTorch build", "on disk", "of which PyTorch", "packages", "time"]
    return with_source(result, fmt.table(headers, rows))


# -- the pipeline -----------------------------------------------------------------------

STAGES = ("prepare", "features", "train", "evaluate", "poison", "fairness", "drift", "card")


def _by_case(result: Result) -> dict[str, list[dict[str, Any]]]:
    cases: dict[str, list[dict[str, Any]]] = {}
    for row in result.rows:
        cases.setdefault(str(row.get("case")), []).append(row)
    return cases


def _span(rows: list[dict[str, Any]], column: str) -> str:
    return fmt.span([r.get(column) for r in rows], lambda v: cell(column, v))


def pipeline_quality(root: Path) -> str:
    result = load(root, "pipeline")
    columns = ["pr_auc", "roc_auc", "recall_at_fpr", "precision", "recall", "fit_s"]
    rows = []
    for case, runs in _by_case(result).items():
        last = runs[-1]
        rows.append([case, *(judged(result, c, last.get(c)) for c in columns)])
    headers = [
        "data",
        "test PR-AUC",
        "ROC-AUC",
        "recall at 1 % FPR",
        "precision",
        "recall",
        "final fit",
    ]
    return with_source(result, fmt.table(headers, rows), f"Targets: {result.targets}.")


def pipeline_stages(root: Path) -> str:
    result = load(root, "pipeline")
    rows = []
    for case, runs in _by_case(result).items():
        label = f"{case}, {len(runs)} runs" if len(runs) > 1 else case
        rows.append(
            [
                label,
                *(_span(runs, f"{s}_s") for s in STAGES),
                _span(runs, "full_repro_s"),
                _span(runs, "peak_mib"),
            ]
        )
    headers = [*("data", *STAGES), "whole", "peak memory"]
    first = [
        (case, _span(runs, "clone_repro_s"), _span(runs, "noop_s"), _span(runs, "shap_s"))
        for case, runs in _by_case(result).items()
        if any(r.get("clone_repro_s") for r in runs)
    ]
    others = fmt.table(["data", "first repro of a copy", "no-op repro", "SHAP, 1,000 rows"], first)
    return with_source(result, fmt.table(headers, rows), others if first else "")


def pipeline_findings(root: Path) -> str:
    result = load(root, "pipeline")
    lines = []
    for case, runs in _by_case(result).items():
        findings = runs[-1].get("findings")
        if findings:
            lines.append(f"**{case}**")
            lines.append("")
            lines += [f"- {name}: {text}" for name, text in findings.items()]
            lines.append("")
    if not lines:
        return with_source(
            result,
            "*This file predates the findings column: `make bench` records each "
            "experiment's headline too.*",
        )
    return with_source(result, "\n".join(lines).rstrip())


# -- model families, tuning, the web app -------------------------------------------------


def families_table(root: Path) -> str:
    result = load(root, "families")
    columns = ["pr_auc", "roc_auc", "recall_at_fpr", "cv_pr_auc", "fit_s", "train_stage_s"]
    rows = [
        [f"`{r['family']}`", *(judged(result, c, r.get(c)) for c in columns)] for r in result.rows
    ]
    headers = [
        "family",
        "test PR-AUC",
        "ROC-AUC",
        "recall at 1 % FPR",
        "CV PR-AUC (selection)",
        "final fit",
        "`train` stage",
    ]
    return with_source(result, fmt.table(headers, rows), f"Conditions: {result.targets}.")


def families_reading(root: Path) -> str:
    """Whether the shipped default meets its targets, said from the numbers."""
    result = load(root, "families")
    default = next((r for r in result.rows if str(r["family"]).startswith("default")), None)
    if default is None:
        return with_source(result, "*This run did not include the shipped default.*")
    met = [c for c in result.limits if c in default and judged(result, c, default[c]).endswith("✓")]
    missed = [c for c in result.limits if c in default and c not in met]
    best = max(result.rows, key=lambda r: r.get("cv_pr_auc") or 0)
    chose = str(default["family"]).removeprefix("default").strip(" ()")
    text = (
        f"The shipped default{f' (it chose `{chose}`)' if chose else ''} meets {len(met)} of its "
        f"{len(met) + len(missed)} targets"
        + (f"; it misses {', '.join(header_of(c) for c in missed)}." if missed else ".")
        + f" The best out-of-fold PR-AUC of the run is `{best['family']}`'s "
        f"({fmt.metric(best.get('cv_pr_auc'))}): selection reads that column, never the test "
        "columns."
    )
    return with_source(result, text)


def families_ceiling(root: Path) -> str:
    """What the best choice among the families could reach on the test split: the bound a
    test target is read against (``benchmarks.families --ceiling``)."""
    result = load(root, "ceiling")
    singles = [r for r in result.rows if r["size"] == 1]
    blends = [r for r in result.rows if r["size"] > 1]
    if not singles or not blends:
        return with_source(result, "*This run wrote no blends.*")
    single, blend = singles[0], blends[0]
    recall = max(result.rows, key=lambda r: r["recall_at_fpr"])
    text = (
        f"Judged on the test split itself, the best of {len(singles)} families alone (each "
        "with its params.yaml block) is "
        f"`{single['members']}` (PR-AUC {fmt.metric(single['pr_auc'])}), and the best of "
        f"their rank-average blends of two or three is `{blend['members']}` "
        f"({fmt.metric(blend['pr_auc'])}, recall at 1 % FPR "
        f"{fmt.metric(blend['recall_at_fpr'])}); the highest recall of any of them is "
        f"{fmt.metric(recall['recall_at_fpr'])} (`{recall['members']}`). No selection rule "
        "over these families can score above that on this split: a higher target asks for "
        "other families or other inputs."
    )
    return with_source(result, text)


def header_of(column: str) -> str:
    from docgen.results import header

    return header(column)


def budget_search(root: Path) -> str:
    """What selection.budget tried on the ULB table with the default budget, in order: each
    model's folds and mean out-of-fold PR-AUC and its predicted seconds, then what it
    skipped and why (benchmarks/budget.py keeps train.json's table)."""
    result = load(root, "budget")
    row = next((r for r in result.rows if r.get("search") and r["dataset"] == "ulb"), None)
    row = row or next((r for r in result.rows if r.get("search")), None)
    if row is None:
        return with_source(result, "*This run did not include the default budget.*")
    folds = max(len(t["fold_pr_auc"]) for t in row["search"])
    body = []
    for tried in row["search"]:
        name = f"**`{tried['name']}`**" if tried["name"] == row["chosen"] else f"`{tried['name']}`"
        cv = tried.get("predicted_cv_seconds")
        seconds = f"{fmt.seconds(cv) if cv is not None else '–'} / "
        seconds += fmt.seconds(tried.get("predicted_refit_seconds"))
        scores = [fmt.metric(v) for v in tried["fold_pr_auc"]]
        body.append([name, tried["role"], *scores, fmt.metric(tried["oof_pr_auc"]), seconds])
    for skipped in row["skipped"]:
        body.append([f"`{skipped['name']}`", "not tried", *["–"] * folds, "–", skipped["reason"]])
    headers = ["model", "role", *(f"fold {i + 1}" for i in range(folds)), "mean"]
    headers.append("predicted seconds (folds / refit)")
    intro = (
        f"On the {row['dataset']} table, `selection.budget: {row['budget_s']:g}`, in the "
        f"order tried (blends after each model); the chosen model in bold:"
    )
    return with_source(result, intro, fmt.table(headers, body))


DATASET_NAMES = {"ulb": "the ULB table", "synthetic": "the synthetic default"}


def budget_reading(root: Path) -> str:
    """Whether the default budget met issue 33's targets, said from the numbers: test
    PR-AUC and recall on the ULB table, `train`'s wall seconds on every table."""
    result = load(root, "budget")
    sentences = []
    for row in (r for r in result.rows if r["settings"] == "default"):
        columns = ["pr_auc", "recall_at_fpr", "train_s"] if row["dataset"] == "ulb" else []
        columns = columns or ["train_s"]
        shown = [f"{header_of(c)} {judged(result, c, row.get(c))}" for c in columns]
        met = sum("✓" in judged(result, c, row.get(c)) for c in columns)
        name = DATASET_NAMES.get(row["dataset"], row["dataset"])
        sentences.append(
            f"On {name} the default budget chose `{row['chosen']}`: {'; '.join(shown)}; "
            f"{met} of {len(columns)} target{'s' if len(columns) > 1 else ''} met, at a load "
            f"average of {row['load_before']:.1f} to {row['load_after']:.1f} on "
            f"{result.machine.get('cores', '?')} cores."
        )
    if not sentences:
        return with_source(result, "*This run did not include the default budget.*")
    return with_source(result, " ".join(sentences))


def tune_summary(root: Path) -> str:
    result = load(root, "tune")
    rows = [
        (
            f"`{r.get('family', '?')}`",
            fmt.count(r.get("trials")),
            fmt.count(r.get("pruned")),
            judged(result, "wall_s", r.get("wall_s")),
            fmt.metric(r.get("best_cv_pr_auc"), 4),
        )
        for r in result.rows
    ]
    headers = ["family", "trials", "pruned", "wall time", "best mean out-of-fold PR-AUC"]
    return with_source(result, fmt.table(headers, rows))


def ui_summary(root: Path) -> str:
    result = load(root, "ui")
    columns = ["ready_s", "first_numbers_s", "whole_page_s"]
    spans = {c: fmt.span([r.get(c) for r in result.rows], fmt.seconds) for c in columns}
    text = (
        f"Over {len(result.rows)} starts, the server answers after {spans['ready_s']}, the Model "
        f"page shows its numbers at {spans['first_numbers_s']} and is complete at "
        f"{spans['whole_page_s']} (browser start included)."
    )
    return with_source(result, text)


# -- continuous training -----------------------------------------------------------------

SETTING = {
    "frozen": "frozen",
    "schedule": "weekly schedule",
    "triggered": "triggered (drift or precision)",
    "triggered+analysts": "triggered, with analysts",
    "triggered+rule": "triggered, with the rule",
    "triggered+analysts+rule": "triggered, analysts and the rule",
}


def _setting(row: dict[str, Any]) -> str:
    """A row's setting (files written before analysts and rules name it ``policy``)."""
    return str(row.get("setting", row.get("policy")))


def _money(row: dict[str, Any]) -> str:
    return (
        f"{fmt.count(row['money_caught_after'])} of {fmt.count(row['money_fraud_after'])} "
        f"({fmt.share(row['money_share_after'])})"
    )


def _recovery(row: dict[str, Any]) -> str:
    days = row.get("days_to_recover")
    if fmt.missing(days):
        return "not back within the run"
    return "never fell behind" if days == 0 else f"back in {days:.0f} days"


def continuous_policies(root: Path) -> str:
    result = load(root, "continuous")
    rows = [
        (
            SETTING.get(_setting(r), _setting(r)),
            f"{fmt.metric(r['card_precision_before'])} → {fmt.metric(r['card_precision_after'])}",
            _money(r),
            cell("days_to_recover", r.get("days_to_recover")),
            fmt.count(r["retrains"]),
            fmt.count(r.get("rule_releases", 0)),
            fmt.count(r.get("analyst_labels", 0)),
            cell("train_minutes", r["train_minutes"]),
        )
        for r in result.rows
    ]
    headers = [
        "setting",
        "card precision@k before → after the change",
        "fraud money caught after",
        "days to recover",
        "retrains",
        "rule releases",
        "analysts' labels",
        "training time",
    ]
    return with_source(result, fmt.table(headers, rows), f"Conditions: {result.targets}.")


def continuous_summary(root: Path) -> str:
    """The README's short table and its one-line reading."""
    result = load(root, "continuous")
    rows = [
        (
            SETTING.get(_setting(r), _setting(r)),
            fmt.share(r["money_share_after"]),
            cell("days_to_recover", r.get("days_to_recover")),
            fmt.count(r["retrains"]),
        )
        for r in result.rows
    ]
    table = fmt.table(
        ["setting", "fraud money caught after the change", "days to recover", "retrains"],
        rows,
    )
    return with_source(result, table, continuous_reading(root, source=False))


def continuous_reading(root: Path, source: bool = True) -> str:
    result = load(root, "continuous")
    by = {_setting(r): r for r in result.rows}
    if not {"frozen", "schedule", "triggered"} <= set(by):
        return with_source(result, "*This run did not cover the three policies.*")
    frozen = by["frozen"]["money_share_after"]
    ratios = [by[p]["money_share_after"] / frozen for p in ("schedule", "triggered")]
    text = (
        f"After the change, weekly retraining catches {ratios[0]:.1f} times the frozen model's "
        f"share of fraud money and triggered retraining {ratios[1]:.1f} times, with "
        f"{by['schedule']['retrains']} and {by['triggered']['retrains']} retrains."
    )
    base = by["triggered"]
    added = [
        f"{what} {fmt.share(by[name]['money_share_after'])} ({_recovery(by[name])})"
        for name, what in (
            ("triggered+analysts", "analysts"),
            ("triggered+rule", "the rule"),
            ("triggered+analysts+rule", "both"),
        )
        if name in by
    ]
    if added:
        text += (
            f" On chargebacks alone the triggered policy catches "
            f"{fmt.share(base['money_share_after'])} ({_recovery(base)}); with "
            + ", with ".join(added)
            + "."
        )
    return with_source(result, text) if source else text
