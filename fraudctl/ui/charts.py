"""Charts of the web app that need more than Streamlit's defaults (Altair specs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# What an attack level means: the three attacks are measured on different scales.
ATTACK_LEVELS = {
    "random": ("share of all training labels flipped (both ways)", "%"),
    "targeted": ("share of training frauds relabelled legitimate", "%"),
    "injection": ("fraud-like rows labelled legitimate, per real fraud", "x"),
}


def attack_level(attack: str, level: float) -> str:
    """A level in its attack's own words: "20% of all training labels flipped"."""
    if attack == "random":
        return f"{level:.0%} of all training labels flipped"
    if attack == "targeted":
        return f"{level:.0%} of training frauds relabelled legitimate"
    if attack == "injection":
        return f"{level:g} fraud-like rows labelled legitimate per real fraud"
    return f"level {level:g}"


def curve_chart(frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str) -> Any:
    """A curve drawn through its points in the file's order, on 0-1 axes. Streamlit's line
    chart sorts by x, and a PR curve's vertical drops (false alarms at one recall) share
    their x: the order of the rows is the curve."""
    import altair as alt

    data = frame[[x, y]].assign(order=np.arange(len(frame)))
    return (
        alt.Chart(data)
        .mark_line(interpolate="linear")
        .encode(
            x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(domain=[0, 1])),
            y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
            order="order:Q",
            tooltip=[alt.Tooltip(f"{x}:Q", format=".4f"), alt.Tooltip(f"{y}:Q", format=".4f")],
        )
        .properties(height=260)
    )


def calibration_chart(frame: pd.DataFrame) -> Any:
    """Observed fraud rate against mean score per bin, both axes logarithmic (bins span
    1e-5 to 1 at this class balance), with the diagonal of perfect calibration. A bin with
    no fraud sits on the bottom edge; the tooltip says so."""
    import altair as alt

    positive = np.concatenate([frame["predicted"].to_numpy(), frame["observed"].to_numpy()])
    positive = positive[positive > 0]
    low = float(10 ** np.floor(np.log10(positive.min()))) if positive.size else 1e-6
    data = frame.assign(
        shown=frame["observed"].clip(lower=low),
        rows=frame.get("rows", np.nan),
    )
    scale = alt.Scale(type="log", domain=[low, 1])
    points = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("predicted:Q", title="mean score in the bin", scale=scale),
            y=alt.Y("shown:Q", title="observed fraud rate", scale=scale),
            tooltip=[
                alt.Tooltip("predicted:Q", format=".2e"),
                alt.Tooltip("observed:Q", format=".2e"),
                alt.Tooltip("rows:Q", format=","),
            ],
        )
    )
    diagonal = (
        alt.Chart(pd.DataFrame({"p": [low, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="grey")
        .encode(x="p:Q", y="p:Q")
    )
    return (diagonal + points).properties(height=260)


def attack_chart(frame: pd.DataFrame, attack: str) -> Any:
    """PR-AUC against attack level, the y axis fitted to the data (an effect of 0.02 on a
    0-0.8 axis was invisible), undefended and defended in clearly different colours, the x
    axis in the attack's own unit."""
    import altair as alt

    title, unit = ATTACK_LEVELS.get(attack, ("attack level", ""))
    long = frame.melt(
        id_vars="level",
        value_vars=["undefended_pr_auc", "defended_pr_auc"],
        var_name="model",
        value_name="test PR-AUC",
    )
    long["model"] = long["model"].str.removesuffix("_pr_auc")
    axis = alt.Axis(format=".0%") if unit == "%" else alt.Axis(format="g")
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("level:Q", title=title, axis=axis),
            y=alt.Y("test PR-AUC:Q", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "model:N",
                scale=alt.Scale(domain=["undefended", "defended"], range=["#d62728", "#1f77b4"]),
            ),
        )
        .properties(height=320)
    )


def queue_days_chart(per_day: pd.DataFrame) -> Any:
    """Alerts per day, the reviewed share of them darker."""
    import altair as alt

    counts = per_day.assign(open=per_day["alerts"] - per_day["reviewed"])[
        ["day", "reviewed", "open"]
    ]
    long = counts.melt(id_vars="day", var_name="state", value_name="count")
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("day:N", title=None),
            y=alt.Y("count:Q", title="alerts", stack=True),
            color=alt.Color(
                "state:N",
                scale=alt.Scale(domain=["reviewed", "open"], range=["#1f77b4", "#c6dbef"]),
            ),
        )
        .properties(height=160)
    )
