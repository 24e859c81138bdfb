"""The rules' numbers as Markdown: a section of the model card, and the pull-request
report's review of a rule change (each rule against the base revision's), both read from
the ``rules`` block ``evaluate`` writes to reports/metrics.json
(:mod:`fraudctl.rules.metrics`). Nothing here is written when a model has no rules.
"""

from __future__ import annotations

from typing import Any

from fraudctl.rules.ruleset import RuleSet


def _cell(text: str) -> str:
    """Text inside a Markdown table cell (a pipe would end the cell)."""
    return text.replace("|", "\\|").replace("\n", " ")


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def card_lines(
    block: dict[str, Any] | None, metrics: dict[str, Any], rules: RuleSet | None = None
) -> list[str]:
    """The card's section: each rule on the test split, then the combined decision beside
    the model alone (``metrics``: the rest of metrics.json)."""
    if not block:
        return []
    described = {r.name: r.description for r in rules.rules} if rules else {}
    lines = [
        "## Rules beside the model",
        "",
        f"{block['count']} rule(s) decide before the threshold, the first that fires by "
        "priority (docs/rules.md); on the test split:",
        "",
        "| rule | action | priority | condition | hits | precision | recall | model alerts "
        "too | new frauds | decides |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in block["per_rule"].items():
        lines.append(
            f"| {name} | {entry['action']} | {entry['priority']} | `{_cell(entry['when'])}` | "
            f"{entry['hits']:,} | {entry['precision']:.3f} | {entry['recall']:.3f} | "
            f"{entry['overlap']:.0%} | {entry['new_frauds']:,} | {entry['decided']:,} |"
        )
    notes = [f"- {name}: {text}" for name, text in described.items() if text]
    lines += ["", *notes, *([""] if notes else [])]
    both = block["combined"]
    lines += [
        f"Combined decision: {both['alerts']:,} alerts ({both['blocks']:,} blocked, "
        f"{both['reviews']:,} for review; {both['by_rule']:,} decided by a rule), precision "
        f"{both['precision']:.4f}, recall {both['recall']:.4f}, fraud amount caught "
        f"{_money(both.get('fraud_amount_caught'))}; the model alone: {metrics['alerts']:,} "
        f"alerts, precision {metrics['precision']:.4f}, recall {metrics['recall']:.4f}, "
        f"fraud amount caught {_money(metrics.get('fraud_amount_caught'))}."
        + (
            f" Allow rules let through {both['frauds_allowed_by_rule']:,} fraud(s) the model "
            "alerted on."
            if both["frauds_allowed_by_rule"]
            else ""
        ),
        "",
    ]
    return lines


def _change(old: float | None, new: float | None, digits: int = 3, count: bool = False) -> str:
    def shown(value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:,.0f}" if count else f"{value:.{digits}f}"

    if old is None or old == new:
        return shown(new)
    return f"{shown(old)} → {shown(new)}"


def review_lines(new: dict[str, Any] | None, old: dict[str, Any] | None) -> list[str]:
    """The pull-request report's section: each rule of either revision (added, removed,
    changed or as before) with its test numbers then and now, and the combined decision."""
    if not new and not old:
        return []
    now, then = (new or {}).get("per_rule", {}), (old or {}).get("per_rule", {})
    lines = [
        "## Rules",
        "",
        "Each rule on the test split (base → this change); a rule change is reviewed here "
        "as a model change is in the metrics above.",
        "",
        "| rule | status | action | condition | hits | precision | recall | new frauds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in [*now, *(n for n in then if n not in now)]:
        after, before = now.get(name), then.get(name)
        current = after or before or {}
        if before is None:
            status = "added"
        elif after is None:
            status = "removed"
        elif (before["when"], before["action"], before["priority"]) != (
            after["when"],
            after["action"],
            after["priority"],
        ):
            status = "changed"
        else:
            status = "as before"
        metric = {k: (before or {}).get(k) for k in ("hits", "precision", "recall", "new_frauds")}
        value = {k: (after or {}).get(k) for k in metric}
        lines.append(
            f"| {name} | {status} | {current['action']} | `{_cell(current['when'])}` | "
            f"{_change(metric['hits'], value['hits'], count=True)} | "
            f"{_change(metric['precision'], value['precision'])} | "
            f"{_change(metric['recall'], value['recall'])} | "
            f"{_change(metric['new_frauds'], value['new_frauds'], count=True)} |"
        )
    both_now, both_then = (new or {}).get("combined", {}), (old or {}).get("combined", {})
    lines += [
        "",
        "Combined decision: alerts "
        f"{_change(both_then.get('alerts'), both_now.get('alerts'), count=True)}, precision "
        f"{_change(both_then.get('precision'), both_now.get('precision'), 4)}, recall "
        f"{_change(both_then.get('recall'), both_now.get('recall'), 4)}.",
        "",
    ]
    return lines
