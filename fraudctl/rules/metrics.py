"""What a rule set did on labelled rows: each rule's hits, precision and recall, its overlap
with the model's alerts, and the combined decision's metrics. ``evaluate`` writes them to
reports/metrics.json under ``rules``; the card and the pull-request report show them, so a
rule change is reviewed with numbers, as a model change is.

Per rule (every row it fires on, whether or not an earlier rule decided it):

- ``hits``, ``frauds``: rows it fires on, frauds among them;
- ``precision``, ``recall``: frauds among its hits; its hits among all frauds;
- ``model_alerts``, ``overlap``: hits the model alerts on too (score at or above the
  threshold), as a count and as a share of the hits: a rule whose hits the model already
  alerts on adds no catch;
- ``new_frauds``: frauds it fires on that the model does not alert on;
- ``decided``: rows whose decision is this rule's (the first to fire, by priority).

Combined (rules first, then the threshold; ``block`` and ``review`` are alerts):
``alerts``, ``blocks``, ``reviews``, ``by_rule``, ``true_positives``, ``false_positives``,
``false_negatives``, ``precision``, ``recall``, ``fraud_amount_caught``,
``fraud_amount_missed``, and ``frauds_allowed_by_rule`` (frauds the model alerted on that
an ``allow`` rule let through).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fraudctl.rules.ruleset import RuleSet


def _share(part: int, whole: int) -> float:
    return float(part) / whole if whole else 0.0


def rule_metrics(
    rules: RuleSet,
    decisions: Any,  # fraudctl.rules.decide.Decisions
    labels: np.ndarray,
    threshold: float,
    amounts: np.ndarray | None = None,
) -> dict[str, Any]:
    """The ``rules`` block of metrics.json (rules in decision order)."""
    fraud = np.asarray(labels).astype(bool)
    frauds = int(fraud.sum())
    model_alert = np.asarray(decisions.probability) >= threshold
    deciding = np.asarray(decisions.rule, dtype=object)
    per_rule: dict[str, dict[str, Any]] = {}
    for position, rule in enumerate(rules.rules):
        hits = decisions.fired[:, position]
        count, caught = int(hits.sum()), int((hits & fraud).sum())
        both = int((hits & model_alert).sum())
        entry: dict[str, Any] = {
            "action": rule.action,
            "priority": rule.priority,
            "when": rule.text,
            "hits": count,
            "frauds": caught,
            "precision": _share(caught, count),
            "recall": _share(caught, frauds),
            "model_alerts": both,
            "overlap": _share(both, count),
            "new_frauds": int((hits & fraud & ~model_alert).sum()),
            "decided": int((deciding == rule.name).sum()),
        }
        if amounts is not None:
            entry["fraud_amount"] = float(amounts[hits & fraud].sum())
        per_rule[rule.name] = entry
    alert = np.asarray(decisions.alert)
    decision = np.asarray(decisions.decision, dtype=object)
    tp = int((alert & fraud).sum())
    fp = int((alert & ~fraud).sum())
    combined: dict[str, Any] = {
        "alerts": int(alert.sum()),
        "blocks": int((decision == "block").sum()),
        "reviews": int((decision == "review").sum()),
        "by_rule": int(sum(r is not None for r in deciding)),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": frauds - tp,
        "precision": _share(tp, tp + fp),
        "recall": _share(tp, frauds),
        "frauds_allowed_by_rule": int((model_alert & fraud & (decision == "allow")).sum()),
    }
    if amounts is not None:
        combined["fraud_amount_caught"] = float(amounts[alert & fraud].sum())
        combined["fraud_amount_missed"] = float(amounts[~alert & fraud].sum())
    return {
        "count": len(rules),
        "sha256": rules.digest(),
        "per_rule": per_rule,
        "combined": combined,
    }


def flat_numbers(block: dict[str, Any], prefix: str = "rules.") -> dict[str, float]:
    """The block's numbers as flat names (``rules.per_rule.velocity.hits``): what a metrics
    logger that takes one number per name records."""
    flat: dict[str, float] = {}
    for key, value in block.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_numbers(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
