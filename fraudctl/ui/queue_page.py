"""The Alert queue page: an analyst works the day's alerts.

Alerts come from the alert store the server (or a stream consumer) writes to; each shows
its reasons (the rule that fired, or the model's top SHAP contributions), the transaction,
the customer's recent history and earlier decisions. Fraud / Legitimate / Escalate append a
decision (never overwriting one) and send fraud or legitimate to the online store as an
``analyst`` label. The queue's metrics sit on top.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from fraudctl.alerts.queue import OPEN, queue_frame, queue_metrics
from fraudctl.alerts.store import AlertStore, day_bounds, open_alerts
from fraudctl.ui import charts, queue_data
from fraudctl.ui.context import Context, empty

BUTTONS = {"Fraud": "fraud", "Legitimate": "legitimate", "Escalate": "escalate"}


@st.cache_resource
def _alerts(uri: str) -> AlertStore:
    return open_alerts(uri)


@st.cache_resource
def _online(uri: str):  # type: ignore[no-untyped-def]
    from fraudctl.features.online import open_store

    return open_store(uri)


@st.cache_resource(show_spinner="Reading the prepared history…")
def _history(root: str) -> pd.DataFrame | None:
    from fraudctl.paths import ProjectPaths
    from fraudctl.ui.data import prepared_history

    return prepared_history(ProjectPaths(Path(root)))


def render(ctx: Context) -> None:
    st.header("Alert queue")
    sqlite_file = ctx.alerts_uri.removeprefix("sqlite:///")
    missing = ctx.alerts_uri.startswith("sqlite:///") and not Path(sqlite_file).exists()
    store = None if missing else _alerts(ctx.alerts_uri)  # looking creates no database
    days = store.days() if store is not None else {}
    if store is None or not days:
        empty(
            f"Alerts in {ctx.alerts_uri}",
            "fraudctl serve (or a stream consumer) with this alert store",
        )
        return
    left, middle, right = st.columns([2, 2, 1])
    day = left.selectbox("day", list(reversed(days)), key="queue_day")
    sort = middle.radio("sort by", ("risk", "amount", "time"), horizontal=True, key="queue_sort")
    show_settled = right.checkbox("show settled", value=True, key="queue_settled")
    alerts = store.alerts(*day_bounds(day))
    decisions = store.decisions([a.transaction_id for a in alerts])
    metrics_row(alerts, decisions, store, day)
    frame = queue_frame(alerts, decisions, sort)
    shown = frame if show_settled else frame[~frame["state"].isin(("fraud", "legitimate"))]
    st.dataframe(
        shown[["transaction_id", "time", "amount", "probability", "reason", "state", "analyst"]],
        hide_index=True,
        width="stretch",
        height=min(36 * (len(shown) + 1) + 2, 320),
        column_config={
            "transaction_id": st.column_config.TextColumn("transaction"),
            "time": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "amount": st.column_config.NumberColumn("amount", format="%.2f"),
            "probability": st.column_config.NumberColumn("score", format="%.4f"),
            "reason": st.column_config.TextColumn("why", help="the rule that fired, or model"),
        },
    )
    if shown.empty:
        st.success("Every alert of the day is settled.")
        return
    labels = {row["transaction_id"]: queue_data.option_label(row) for _, row in shown.iterrows()}
    first_open = next((tx for tx, text in labels.items() if text.endswith(OPEN)), None)
    ids = list(labels)
    # a new picker after each decision, so it opens on the next open alert
    picker = f"queue_alert_{day}_{sort}_{st.session_state.get('queue_decided', 0)}"
    chosen = st.selectbox(
        "alert",
        ids,
        index=ids.index(first_open) if first_open else 0,
        format_func=labels.__getitem__,
        key=picker,
    )
    alert = next(a for a in alerts if a.transaction_id == chosen)
    detail(ctx, store, alert, [d for d in decisions if d.transaction_id == chosen])


def metrics_row(alerts: list, decisions: list, store: AlertStore, day: str) -> None:
    today = queue_metrics(alerts, decisions)
    cols = st.columns(5)
    cols[0].metric("alerts today", f"{today.alerts:,}")
    cols[1].metric(
        "reviewed", "–" if today.share_reviewed is None else f"{today.share_reviewed:.0%}"
    )
    cols[2].metric(
        "precision of reviewed",
        "–" if today.precision is None else f"{today.precision:.0%}",
        help="fraud among the alerts settled as fraud or legitimate",
    )
    minutes = today.median_minutes_to_decision
    cols[3].metric(
        "median time to decision",
        "–" if minutes is None else _duration(minutes),
        help="from queueing to the first fraud or legitimate decision",
    )
    cols[4].metric("escalated", f"{today.escalated:,}")
    start, end = day_bounds(day)
    month = store.alerts(start - 29 * 86_400_000, end)
    every_day = queue_metrics(month, store.decisions([a.transaction_id for a in month]))
    with st.expander("the 30 days to this one", expanded=False):
        st.altair_chart(charts.queue_days_chart(every_day.per_day), width="stretch")
        share = every_day.share_reviewed
        st.caption(
            f"{every_day.alerts:,} alerts over {len(every_day.per_day)} day(s); "
            f"{'–' if share is None else f'{share:.0%}'} reviewed; precision of reviewed "
            f"{'–' if every_day.precision is None else f'{every_day.precision:.0%}'}."
        )


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def detail(ctx: Context, store: AlertStore, alert, decisions: list) -> None:  # type: ignore[no-untyped-def]
    why, history = st.columns([1, 1])
    with why:
        st.subheader("Why")
        reasons = queue_data.reasons_frame(alert)
        if alert.rule:
            st.write(f"Rule **{alert.rule}** fired: {alert.decision}.")
            for reason in alert.reasons:
                st.code(reason.get("condition", ""), language=None, wrap_lines=True)
            reasons = reasons.iloc[0:0]
        else:
            st.write(
                f"The model's score {alert.probability:.4f} is at or above its threshold. "
                "Top SHAP contributions (log-odds, positive towards fraud):"
            )
        if not reasons.empty:
            st.dataframe(reasons, hide_index=True, width="stretch")
        st.subheader("Transaction")
        fields = pd.DataFrame(
            {"field": list(alert.row), "value": [str(v) for v in alert.row.values()]}
        )
        st.dataframe(fields, hide_index=True, width="stretch")
    with history:
        role = queue_data.history_role(alert)
        st.subheader(f"The {role or 'customer'}'s last {queue_data.HISTORY_DAYS} days")
        st.dataframe(
            _recent(ctx, alert),
            hide_index=True,
            width="stretch",
            height=260,
            column_config={
                "time": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm"),
                "amount": st.column_config.NumberColumn("amount", format="%.2f"),
            },
        )
        if decisions:
            st.caption("Decisions so far (the latest counts):")
            st.dataframe(
                pd.DataFrame(
                    {
                        "when (UTC)": [
                            pd.Timestamp(d.at_ms, unit="ms", tz="UTC") for d in decisions
                        ],
                        "analyst": [d.analyst for d in decisions],
                        "decision": [d.outcome for d in decisions],
                        "note": [d.note for d in decisions],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
    decide(ctx, store, alert)


def _recent(ctx: Context, alert) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    if ctx.online_uri:
        return queue_data.history_from_store(_online(ctx.online_uri), alert)
    return queue_data.history_from_splits(ctx.paths, _history(str(ctx.paths.root)), alert)


def decide(ctx: Context, store: AlertStore, alert) -> None:  # type: ignore[no-untyped-def]
    from fraudctl.alerts.review import record_decision
    from fraudctl.errors import FraudctlError

    done = st.session_state.pop("queue_done", None)
    if done:
        st.success(done)
    with st.form(f"decide_{alert.transaction_id}"):
        st.subheader("Decision")
        analyst = st.text_input("analyst", value=ctx.analyst, key="analyst")
        note = st.text_area(
            "note",
            key=f"note_{alert.transaction_id}",
            placeholder="what you checked, who you called",
        )
        buttons = st.columns(len(BUTTONS))
        pressed = [
            outcome
            for column, (label, outcome) in zip(buttons, BUTTONS.items(), strict=True)
            if column.form_submit_button(label, width="stretch")
        ]
    if not pressed:
        if not ctx.online_uri:
            st.caption("No online store configured: decisions are kept in the queue only.")
        return
    try:
        recorded = record_decision(
            store,
            alert.transaction_id,
            analyst,
            pressed[0],
            note,
            online=_online(ctx.online_uri) if ctx.online_uri else None,
        )
    except FraudctlError as exc:
        st.error(str(exc))
        return
    st.session_state["queue_decided"] = st.session_state.get("queue_decided", 0) + 1
    sent = {
        True: "sent to the online store as an analyst label",
        False: "the online store does not know this transaction: no label sent",
        None: "an escalation is no label"
        if recorded.decision.outcome == "escalate"
        else "no online store configured: no label sent",
    }[recorded.labelled]
    decided = recorded.decision
    st.session_state["queue_done"] = (
        f"{alert.transaction_id}: {decided.outcome} by {decided.analyst}; {sent}."
    )
    st.rerun()
