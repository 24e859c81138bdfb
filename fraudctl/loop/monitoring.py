"""Labelled performance: each scored day, once its chargebacks are out, as the fraud team
sees it (PR-AUC, card precision@k, alerts, fraud money caught) in monitoring.csv. An alert
is what the day's decision was (a rule's block or review, or the model's threshold);
``money_caught_model`` is what the threshold alone would have caught."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudctl.io import write_with
from fraudctl.loop.state import Loop
from fraudctl.loop.world import TARGET


def day_metrics(frame: pd.DataFrame, k: int) -> dict[str, float]:
    """One labelled day as the fraud team sees it."""
    from fraudctl.model.metrics import card_precision_at_k, pr_auc

    y = frame[TARGET].to_numpy()
    by_model = frame["score"].to_numpy() >= frame["threshold"].to_numpy()
    flagged = by_model
    if "decision" in frame.columns:  # scored with the champion's rules
        flagged = frame["decision"].isin(["block", "review"]).to_numpy(dtype=bool)
    money = frame["amount"].to_numpy()
    return {
        "pr_auc": pr_auc(y, frame["score"].to_numpy()) if 0 < y.sum() < len(y) else float("nan"),
        "card_precision": card_precision_at_k(
            y,
            frame["score"].to_numpy(),
            frame["customer_id"].to_numpy(),
            np.zeros(len(y), dtype=np.int64),
            k,
        ),
        "alerts": int(flagged.sum()),
        "frauds": int(y.sum()),
        "money_caught": float(money[flagged & (y == 1)].sum()),
        "money_fraud": float(money[y == 1].sum()),
        "money_caught_model": float(money[by_model & (y == 1)].sum()),
    }


def monitor(loop: Loop, day: int) -> pd.DataFrame:
    """Labelled performance of every scored day whose labels are known (monitoring.csv)."""
    rows = []
    for labelled in loop.world.labelled_days(day):
        scored = loop.scores_file(labelled)
        if not scored.exists():
            continue
        frame = pd.read_parquet(scored).merge(
            pd.read_parquet(loop.world.labels_file(labelled)), on="transaction_id"
        )
        rows.append(
            {
                "day": labelled,
                "date": str(loop.world.date(labelled)),
                "model_version": str(frame["model_version"].iloc[0]),
                **day_metrics(frame, loop.settings.card_k),
            }
        )
    table = pd.DataFrame(rows)
    loop.monitoring_file.parent.mkdir(parents=True, exist_ok=True)
    write_with(
        loop.monitoring_file, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g")
    )
    return table


def recent_card_precision(loop: Loop, day: int) -> float | None:
    if not loop.monitoring_file.exists() or loop.monitoring_file.stat().st_size < 2:
        return None
    try:
        table = pd.read_csv(loop.monitoring_file)
    except pd.errors.EmptyDataError:
        return None
    recent = table[table["day"] <= day].tail(loop.settings.compare_days)
    return None if recent.empty else float(recent["card_precision"].mean())
