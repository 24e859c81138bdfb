"""The labels the loop knows on a day, from two sources with their own delays.

- **Chargebacks** (``labels/``): every transaction of a day, ``label_delay_days`` late.
- **Analysts** (the workspace's alert store): the alerts they settled, ``analysts.delay_days``
  after the day, sometimes wrong.

A chargeback overrides an analyst's label once it is out. Every step that reads labels
asks here, with the day it runs on, so nothing uses a label before it would have arrived:

- retraining windows take the days whose chargebacks are out, then the days since that
  analysts have worked; on those, a transaction no analyst settled counts as legitimate
  (what teams that train on reported fraud do; its chargeback corrects it a few days on);
- ``compare`` scores both models on the most recent of those days;
- ``decide`` reads what analysts confirmed: frauds a rule sent that the model let through;
- the history the models score with carries every label already out, which the history
  features read no sooner than their own delay after each transaction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudctl.loop.world import TARGET, World

ANALYST_LABEL = "analyst_label"  # the column the loop's params name in data.schema.analyst_label
SOURCE = "label_source"  # chargeback | analyst | none (no label yet: taken as legitimate)


def chargeback_days(world: World, today: int) -> list[int]:
    """Days whose chargebacks are out on ``today``."""
    late = world.settings.label_delay_days
    return [d for d in world.labelled_days(today) if d + late <= today]


def analyst_days(world: World, today: int) -> list[int]:
    """Days after the last chargeback day that analysts have worked by ``today``: the
    loop scored (and so queued) them, and their decisions are due."""
    team = world.settings.analysts
    if not team.reviews_per_day:
        return []
    charged = chargeback_days(world, today)
    first = charged[-1] + 1 if charged else 0
    due = today - team.delay_days
    return [d for d in range(first, due + 1) if world.scores_file(d).exists()]


def labelled_days(world: World, today: int) -> list[int]:
    """Every day with labels on ``today``: chargeback days, then analyst days."""
    return [*chargeback_days(world, today), *analyst_days(world, today)]


def analyst_labels(world: World, days: list[int], today: int) -> pd.DataFrame:
    """``transaction_id, analyst_label`` of the alerts analysts settled on these days by
    ``today`` (each alert's latest decision; an escalation is no label)."""
    from fraudctl.alerts.queue import current_state
    from fraudctl.alerts.review import LABELS
    from fraudctl.alerts.store import day_bounds, open_alerts

    empty = pd.DataFrame({"transaction_id": np.zeros(0, np.int64), ANALYST_LABEL: []})
    if not days or not world.settings.analysts.reviews_per_day:
        return empty
    store = open_alerts(world.alerts_uri)
    cutoff = world.start_ms(today)
    ids = [
        a.transaction_id
        for day in days
        for a in store.alerts(*day_bounds(f"{world.date(day):%Y-%m-%d}"))
    ]
    known = [d for d in store.decisions(ids) if d.at_ms <= cutoff]
    rows = [(int(tx), LABELS[d.outcome]) for tx, d in current_state(known).items() if d.final]
    if not rows:
        return empty
    return pd.DataFrame(rows, columns=["transaction_id", ANALYST_LABEL])


def labelled_log(world: World, days: list[int], today: int) -> pd.DataFrame:
    """These days' transactions with the best label known on ``today`` in ``is_fraud``
    (chargeback, else the analyst's, else legitimate), the analyst's label where one
    was given (``analyst_label``, empty elsewhere), and where each label came from
    (``label_source``)."""
    frame = world.read_log(days)
    if frame.empty:
        return frame
    charged = set(chargeback_days(world, today)) & set(days)
    chargebacks = world.read_log(sorted(charged), labelled=True) if charged else None
    known = (
        chargebacks[["transaction_id", TARGET]]
        if chargebacks is not None
        else pd.DataFrame({"transaction_id": np.zeros(0, np.int64), TARGET: []})
    )
    frame = frame.merge(known, on="transaction_id", how="left")
    frame = frame.merge(analyst_labels(world, days, today), on="transaction_id", how="left")
    analyst = np.where(frame[ANALYST_LABEL].notna(), "analyst", "none")
    source = np.where(frame[TARGET].notna(), "chargeback", analyst)
    best = frame[TARGET].fillna(frame[ANALYST_LABEL]).fillna(0)
    analyst = frame[ANALYST_LABEL].astype(np.float64)
    return frame.assign(**{TARGET: best.astype(np.int8), ANALYST_LABEL: analyst, SOURCE: source})


def history_log(world: World, days: list[int], today: int) -> pd.DataFrame:
    """These days' transactions as history for scoring: each with the most trusted label
    out on ``today`` in ``is_fraud`` (a chargeback, else an analyst's; none where nothing
    is known) and the analyst's label apart (for risk features with an analyst delay)."""
    frame = world.read_log(days)
    if frame.empty:
        return frame
    charged = sorted(set(chargeback_days(world, today)) & set(days))
    known = world.read_log(charged, labelled=True)[["transaction_id", TARGET]] if charged else None
    if known is not None:
        frame = frame.merge(known, on="transaction_id", how="left")
    else:
        frame = frame.assign(**{TARGET: np.nan})
    frame = frame.merge(analyst_labels(world, days, today), on="transaction_id", how="left")
    frame[ANALYST_LABEL] = frame[ANALYST_LABEL].astype(np.float64)
    frame[TARGET] = frame[TARGET].fillna(frame[ANALYST_LABEL])
    return frame
