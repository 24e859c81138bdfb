"""A running `fraudctl serve` seen from the web app: its answer for one transaction and
its own counters (``--api``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def score_through_api(api: str, raw: pd.DataFrame) -> None:
    import httpx

    body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in raw.iloc[0].items()}
    body = {k: (v.item() if hasattr(v, "item") else v) for k, v in body.items()}
    try:
        answer = httpx.post(f"{api}/predict?record=false", json=body, timeout=5).json()
        st.caption(f"{api}/predict says: {answer}")
    except httpx.HTTPError as exc:
        st.warning(f"{api} did not answer: {exc}")


def api_metrics(api: str) -> None:
    """A running server's own counters, read from its /metrics."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"{api}/metrics", timeout=5).text
    except httpx.HTTPError as exc:
        st.warning(f"{api}/metrics did not answer: {exc}")
        return
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("fraudctl_predictions_total", "fraudctl_http_requests_total"):
                key = sample.name + "".join(
                    f" {k}={v}" for k, v in sorted(sample.labels.items()) if k == "decision"
                )
                totals[key] = totals.get(key, 0.0) + sample.value
            if sample.name == "fraudctl_decision_threshold":
                totals["threshold"] = sample.value
    st.subheader(f"Live: {api}")
    st.dataframe(pd.Series(totals, name="value").to_frame(), width="stretch")
