"""reports/headline.json: the pipeline's result in six numbers, the only DVC metrics file.

DVC draws ``dvc metrics show`` and ``dvc exp show`` with one column per metric name across
every declared file; when each stage declared its own JSON the views were hundreds of
columns wide and a terminal showed only ellipses. The card stage, which reads every other
stage's output anyway, gathers the numbers a reviewer compares between runs here, under
short names, so both views fit 120 columns. The full files (``reports/metrics.json``,
``reports/train.json``, each experiment's ``metrics.json``) are still written and tracked,
and ``fraudctl report`` diffs them for pull requests.
"""

from __future__ import annotations

from typing import Any

from fraudctl.experiments.results import (
    DriftHeadline,
    FairnessHeadline,
    PoisonHeadline,
    read_headline,
)
from fraudctl.io import write_json
from fraudctl.paths import ProjectPaths

HEADLINE_FILE = "headline.json"
# The names `make exp` keeps (Makefile EXP_COLUMNS) and the test of both views' width.
NAMES = (
    "pr_auc",
    "recall_at_fpr",
    "amount_caught",
    "poison_drop",
    "eo_difference",
    "drifted_share",
)


def headline(paths: ProjectPaths, metrics: dict[str, Any]) -> dict[str, float]:
    """The test split's ranking and money, and each experiment's verdict in one number;
    an experiment that has not run (or a table without amounts) leaves its name out."""
    values: dict[str, float] = {
        "pr_auc": round(metrics["pr_auc"], 4),
        "recall_at_fpr": round(metrics["recall_at_fpr"], 4),
    }
    if metrics.get("fraud_amount_caught") is not None:
        values["amount_caught"] = round(metrics["fraud_amount_caught"], 2)
    poison: PoisonHeadline | None = read_headline(paths, "poison")
    if poison:
        values["poison_drop"] = round(poison.worst_pr_auc_drop, 4)
    fairness: FairnessHeadline | None = read_headline(paths, "fairness")
    if fairness:
        values["eo_difference"] = round(fairness.equalized_odds_difference, 4)
    drift: DriftHeadline | None = read_headline(paths, "drift")
    if drift:
        values["drifted_share"] = round(drift.drifted_share, 4)
    return values


def write_headline(paths: ProjectPaths, metrics: dict[str, Any]) -> None:
    write_json(paths.reports_dir / HEADLINE_FILE, headline(paths, metrics))
