"""Promotion, decided in one place: ``train`` and the continuous-training loop both call
:func:`promote` with the evidence they have, under the same rule, leaving the same record.

The rule: a challenger becomes champion when there is no champion, when it scores exactly as
the champion and differs only by its rules (a rule change: every model file but
``rules.json`` is equal, so no metric of the model can move, and the rules' own metrics are
reviewed with the params), or when both were measured on the same rows (equal data
digests) and the challenger's value beats the champion's by more than ``margin``.
Evidence measured on different rows is not compared:
the challenger stays challenger and the reason says how to promote it by hand. The record
is the registry itself: the ``challenger``/``champion`` aliases and, on the challenger's
version, a tag with the reason (and the time, when promoted) that `fraudctl ui` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fraudctl import tracking
from fraudctl.config import TrackingParams

# What `train` compares: the pooled out-of-fold (or validation) PR-AUC, logged as a metric
# of the run that registered each version; the test split never decides a promotion.
TRAINING_METRIC = "val_pr_auc"


@dataclass(frozen=True)
class Evidence:
    """One version's value of one metric, measured on rows with this digest."""

    version: str
    metric: str
    value: float | None
    data: str | None
    # the contract's scorer digest (None: unknown) and the rules' digest ("": no rules)
    scorer: str | None = None
    rules: str = ""


@dataclass(frozen=True)
class Promotion:
    version: str
    champion: str
    promoted: bool
    reason: str


def decide(challenger: Evidence, champion: Evidence | None, margin: float = 0.0) -> Promotion:
    """The rule alone, without the registry (what the tests and the loop's dry runs read)."""
    if champion is None:
        return Promotion(challenger.version, challenger.version, True, "no champion yet")
    same_scorer = challenger.scorer is not None and challenger.scorer == champion.scorer
    if same_scorer and challenger.rules != champion.rules:
        return Promotion(
            challenger.version,
            challenger.version,
            True,
            f"a rule change: it scores exactly as v{champion.version} (every model file "
            f"but the rules is equal) with rules {challenger.rules[:12] or 'none'} "
            f"instead of {champion.rules[:12] or 'none'}",
        )
    if champion.data != challenger.data:
        return Promotion(
            challenger.version,
            champion.version,
            False,
            f"not compared: champion v{champion.version} was measured on other rows "
            f"(data {champion.data or 'unknown'}, challenger {challenger.data}); promote by "
            f"hand with `fraudctl promote {challenger.version}` if intended",
        )
    before = "unknown" if champion.value is None else f"{champion.value:.4f}"
    measured = f"{challenger.metric} {challenger.value:.4f}"
    bar = "" if margin == 0 else f" by more than {margin:g}"
    if champion.value is None or (challenger.value or 0.0) > champion.value + margin:
        return Promotion(
            challenger.version,
            challenger.version,
            True,
            f"{measured} beats v{champion.version} ({before}){bar}",
        )
    return Promotion(
        challenger.version,
        champion.version,
        False,
        f"{measured} does not beat v{champion.version} ({before}){bar}",
    )


def promote(
    params: TrackingParams,
    challenger: Evidence,
    champion: Evidence | None,
    margin: float = 0.0,
    context: str = "",
) -> Promotion:
    """Apply :func:`decide` to the registry: the challenger alias, the champion alias when
    promoted, and the reason on the challenger's version (prefixed by ``context``)."""
    tracking.set_alias(params, tracking.CHALLENGER, challenger.version)
    outcome = decide(challenger, champion, margin)
    if outcome.promoted:
        tracking.set_alias(params, tracking.CHAMPION, challenger.version)
    reason = f"{context}: {outcome.reason}" if context else outcome.reason
    tracking.note_promotion(params, challenger.version, outcome.promoted, reason)
    return outcome


def training_evidence(params: TrackingParams, version: str) -> Evidence:
    """A registered version's own training evidence, from the run that registered it."""
    run = tracking.version_run(params, version)
    return Evidence(
        version,
        TRAINING_METRIC,
        run.metrics.get(TRAINING_METRIC),
        run.tags.get(tracking.FINGERPRINT_TAG),
        run.tags.get(tracking.SCORER_TAG),
        run.tags.get(tracking.RULES_TAG) or "",
    )


def promote_trained(
    params: TrackingParams, version: str, score: float, fingerprint: str, contract: Any = None
) -> Promotion:
    """``train``'s call: the new version's validation PR-AUC against the champion's, on the
    same validation rows; ``contract`` (the new model's) tells a rule change apart."""
    current = tracking.alias_version(params, tracking.CHAMPION)
    champion = None if current is None else training_evidence(params, current)
    scorer = contract.scorer_sha256() if contract is not None else None
    rules = (contract.rules_sha256 or "") if contract is not None else ""
    return promote(
        params, Evidence(version, TRAINING_METRIC, score, fingerprint, scorer, rules), champion
    )
