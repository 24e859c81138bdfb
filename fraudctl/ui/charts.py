"""Charts of the web app that need more than Streamlit's defaults (Altair specs)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def attack_chart(frame: pd.DataFrame) -> Any:
    """PR-AUC against attack level, the y axis fitted to the data (an effect of 0.02 on a
    0-0.8 axis was invisible), undefended and defended in clearly different colours."""
    import altair as alt

    long = frame.melt(
        id_vars="level",
        value_vars=["undefended_pr_auc", "defended_pr_auc"],
        var_name="model",
        value_name="test PR-AUC",
    )
    long["model"] = long["model"].str.removesuffix("_pr_auc")
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("level:Q", title="attack level"),
            y=alt.Y("test PR-AUC:Q", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "model:N",
                scale=alt.Scale(domain=["undefended", "defended"], range=["#d62728", "#1f77b4"]),
            ),
        )
        .properties(height=320)
    )
