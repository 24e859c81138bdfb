"""Rules in the loop: a rule written in params is released with the champion's own
estimator (a rule-only change, promoted as such by the one promotion rule), and what the
analysts confirm tells the loop when a rule is catching what the model misses.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fraudctl.loop.state import Loop
from fraudctl.rules.ruleset import RuleSet
from fraudctl.stages.promotion import Evidence


def wanted_rules(loop: Loop) -> RuleSet:
    return RuleSet.from_params(loop.params.rules)


def rules_change(loop: Loop, champion: Any) -> str | None:
    """Why the champion must be released with other rules, or None: params.yaml's rules
    (checked against the champion's fields) are not the ones it decides with."""
    from fraudctl.rules.fields import fields_of
    from fraudctl.stages.project import rules_of

    wanted = rules_of(loop.params, fields_of(champion))
    if wanted.digest() == champion.rules.digest():
        return None
    return (
        f"params' rules ({', '.join(wanted.names) or 'none'}) are not the champion's "
        f"({', '.join(champion.rules.names) or 'none'}): released with its estimator today"
    )


def release(loop: Loop, day: int) -> dict:
    """The retrain step on a day whose decision is a rule change: the champion re-saved
    with params' rules and registered as challenger; ``compare`` promotes it."""
    from fraudctl.stages.train import release_rules

    champion = loop.version("champion")
    assert champion is not None  # decide says "rules" only beside a champion
    loop.model(champion)  # fetched into the workspace
    rules = wanted_rules(loop)
    version = release_rules(loop.params, loop.root / "models" / f"v{champion}", rules)
    return loop.record(
        day,
        "retrain",
        "released",
        f"v{version}: champion v{champion}'s estimator with rules "
        f"{', '.join(rules.names) or 'none'}, registered as challenger; compare decides",
        version=str(version),
        rules=", ".join(rules.names),
    )


def evidence(loop: Loop, version: str) -> Evidence:
    """A version's identity for promotion: what it scores with and the rules it decides
    with (the metric and its value are the caller's)."""
    model = loop.model(version)
    return Evidence(
        version, "", None, None, model.contract.scorer_sha256(), model.contract.rules_sha256 or ""
    )


def missed_by_the_model(loop: Loop, day: int) -> str | None:
    """A reason to retrain when, over the last ``compare_days`` days analysts have worked,
    more than ``analysts.max_missed_share`` of the frauds they confirmed were sent by a
    rule while the model let them through: the model misses a pattern a rule catches."""
    from fraudctl.loop.labels import ANALYST_LABEL, analyst_days, analyst_labels

    team = loop.settings.analysts
    days = analyst_days(loop.world, day)[-loop.settings.compare_days :]
    confirmed = analyst_labels(loop.world, days, day)
    confirmed = confirmed[confirmed[ANALYST_LABEL] == 1]
    if confirmed.empty:
        return None
    scored = pd.concat([pd.read_parquet(loop.scores_file(d)) for d in days], ignore_index=True)
    frauds = scored.merge(confirmed, on="transaction_id")
    missed = frauds["rule"].notna() & (frauds["score"] < frauds["threshold"])
    share = float(missed.mean())
    if share <= team.max_missed_share:
        return None
    return (
        f"analysts confirmed {len(frauds):,} frauds on days {days[0]}-{days[-1]}, "
        f"{share:.0%} sent by a rule while the model let them through (above "
        f"{team.max_missed_share:g})"
    )
