"""What the Alert queue page reads besides the queue itself: a customer's recent history,
from the online store when there is one, else from the prepared splits. No Streamlit here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fraudctl.alerts.records import Alert
from fraudctl.paths import ProjectPaths

HISTORY_DAYS = 30
DAY_MS = 86_400_000


def history_role(alert: Alert) -> str | None:
    """The entity whose history an analyst reads first: the customer (the card holder)."""
    if "customer" in alert.entities:
        return "customer"
    return next(iter(alert.entities), None)


def history_from_store(store: Any, alert: Alert, days: int = HISTORY_DAYS) -> pd.DataFrame:
    """The entity's stored transactions in the ``days`` before the alert (and the alert's
    own, if the store has it), newest first."""
    from fraudctl.features.kernel import AMOUNT_SCALE, label_sources

    role = history_role(alert)
    if role is None:
        return pd.DataFrame()
    since = alert.time_ms - days * DAY_MS
    events, _ = store.window([(role, alert.entities[role], since, alert.time_ms)])[0]
    # the most trusted label known: a chargeback's, else an analyst's (said so)
    known, fraud, _, _ = label_sources(events.labelled, events.fraud)
    word = np.where(fraud == 1, "fraud", "legitimate").astype(object)
    by_analyst = (events.labelled & 1) == 0
    word[by_analyst] = word[by_analyst] + " (analyst)"
    frame = pd.DataFrame(
        {
            "": np.where(events.time_ms == alert.time_ms, "this alert", ""),
            "time": pd.to_datetime(events.time_ms, unit="ms", utc=True),
            "amount": events.amount_fp / AMOUNT_SCALE,
            "label": np.where(known == 1, word, ""),
        }
    )
    return frame.iloc[::-1].reset_index(drop=True)


def history_from_splits(
    paths: ProjectPaths, history: pd.DataFrame | None, alert: Alert, days: int = HISTORY_DAYS
) -> pd.DataFrame:
    """The same from the prepared splits (a project without an online store): the entity's
    rows in the ``days`` before the alert, newest first. Labels are left out: in the splits
    every label is known, which no analyst would have been at the time."""
    from fraudctl.features.transform import entity_keys, time_to_ms
    from fraudctl.model import bundle

    role = history_role(alert)
    if role is None or history is None:
        return pd.DataFrame()
    transform = bundle.load_model(paths.model_dir, lazy=True).transform
    column = transform.entities.get(role)
    if column is None or column not in history.columns:
        return pd.DataFrame()
    mine = history[entity_keys(history[column]) == alert.entities[role]]
    times = time_to_ms(mine[transform.time], transform.time_kind)
    keep = (times > alert.time_ms - days * DAY_MS) & (times <= alert.time_ms)
    shown = mine[keep].drop(columns=[transform.target, column], errors="ignore")
    shown = shown.assign(
        time=pd.to_datetime(times[keep], unit="ms", utc=True),
        mark=np.where(times[keep] == alert.time_ms, "this alert", ""),
    ).rename(columns={"mark": ""})
    if transform.time != "time":
        shown = shown.drop(columns=[transform.time])
    ordered = ["", "time", *[c for c in shown.columns if c not in ("", "time")]]
    return shown[ordered].sort_values("time", ascending=False).reset_index(drop=True)


def reasons_frame(alert: Alert) -> pd.DataFrame:
    """The alert's reasons as a table: a rule's condition, or SHAP rows (largest first)."""
    if alert.rule:
        return pd.DataFrame(alert.reasons)[["rule", "action", "condition"]]
    if not alert.reasons:
        return pd.DataFrame()
    frame = pd.DataFrame(alert.reasons)[["feature", "value", "contribution"]]
    frame["value"] = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in frame["value"]]
    frame["towards"] = np.where(frame["contribution"] > 0, "fraud", "legitimate")
    return frame


def option_label(row: pd.Series) -> str:
    """How an alert reads in the picker: id, amount, score, why, state."""
    amount = "no amount" if pd.isna(row["amount"]) else f"{row['amount']:,.2f}"
    return (
        f"{row['transaction_id']} · {amount} · score {row['probability']:.4f} · "
        f"{row['reason']} · {row['state']}"
    )
