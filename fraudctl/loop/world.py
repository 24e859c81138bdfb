"""A simulated world, one day at a time: transactions now, their labels ``label_delay_days``
later, and a change of the world on ``change_day`` that a model trained before it never saw.

Day ``d`` is drawn from the population of :mod:`fraudctl.data.synthetic_transactions`
(seeded by ``base.seed``) and the traffic of its week, so any day can be drawn again, alone
and identically: that is how labels are "released" without a hidden store. The changes:

- ``card_testing``: from ``change_day``, a few stolen cards a day are tested with bursts of
  tiny online payments at a handful of new terminals (amounts of 0.50 to 4.00, the opposite
  of the card pattern the model knows);
- ``terminal_wave``: from ``change_day``, a wave of compromised terminals where most
  payments are fraud at ordinary amounts, for two weeks;
- ``amount_shift``: every amount is multiplied by this factor from ``change_day`` on.

Files (the day-partitioned layout the Dask engine reads): ``log/YYYY-MM-DD.parquet`` (no
label column) and ``labels/YYYY-MM-DD.parquet`` (``transaction_id, is_fraud``): the
chargebacks, complete and slow.

Analysts (``continuous.analysts``) are the other label source: fast, partial and sometimes
wrong. The loop's ``score`` step queues each day's alerts in the workspace's alert store
(``alerts.db``, :mod:`fraudctl.alerts`); ``analysts.delay_days`` later the simulated team
settles ``reviews_per_day`` of them through the same call the web app's queue makes
(:func:`fraudctl.alerts.review.record_decision`, appended, never overwritten): the alerts a
rule sent first (the team wrote the rule to look at them), then the model's riskiest. Each
decision is the truth with probability ``accuracy``, else the opposite, drawn from the seed
and the day, so a replayed day decides alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudctl.config import ContinuousParams
from fraudctl.data.synthetic_transactions import DAY, generate_transaction_log
from fraudctl.errors import FraudctlError
from fraudctl.io import write_with

WEEK = 7
TESTING_TERMINALS = 5
IDS_PER_DAY = 10_000_000
TARGET = "is_fraud"
ANALYST = "simulated analyst"


class LoopError(FraudctlError):
    """A loop step cannot run (yet); the message says what is missing."""


@dataclass(frozen=True)
class Published:
    """What one simulated day released."""

    log: Path
    labels: Path | None  # the chargebacks of day - label_delay_days
    reviewed: int = 0  # alerts the analysts settled (of day - analysts.delay_days)
    reviewed_day: int | None = None


@dataclass(frozen=True)
class World:
    """Where the feed lives and how it is drawn."""

    settings: ContinuousParams
    seed: int

    @property
    def root(self) -> Path:
        return Path(self.settings.workspace)

    def date(self, day: int) -> dt.date:
        return dt.date.fromisoformat(self.settings.start) + dt.timedelta(days=day)

    def log_file(self, day: int) -> Path:
        return self.root / "log" / f"{self.date(day):%Y-%m-%d}.parquet"

    def labels_file(self, day: int) -> Path:
        return self.root / "labels" / f"{self.date(day):%Y-%m-%d}.parquet"

    def scores_file(self, day: int) -> Path:
        """The loop's scores of a day (written by its ``score`` step)."""
        return self.root / "scores" / f"{self.date(day):%Y-%m-%d}.parquet"

    @property
    def alerts_uri(self) -> str:
        """The alert store the loop queues alerts in and the analysts work."""
        return f"sqlite:///{self.root / 'alerts.db'}"

    def start_ms(self, day: int) -> int:
        """Midnight (UTC) starting ``day``, in epoch milliseconds."""
        return int(pd.Timestamp(self.date(day), tz="UTC").value // 1_000_000)

    def day_of(self, date: dt.date) -> int:
        return (date - dt.date.fromisoformat(self.settings.start)).days

    def check_day(self, day: int) -> None:
        if not 0 <= day < self.settings.days:
            raise LoopError(
                f"day {day}: the simulated world has days 0 to {self.settings.days - 1} "
                f"(continuous.days in the params file)"
            )

    def draw(self, day: int) -> pd.DataFrame:
        """Day ``day``'s transactions with their true labels (deterministic)."""
        self.check_day(day)
        s = self.settings
        week = day // WEEK
        frame = generate_transaction_log(
            n_customers=s.n_customers,
            n_terminals=s.n_terminals,
            days=WEEK,
            start=str(self.date(week * WEEK)),
            seed=self.seed,
            traffic_seed=week,
        )
        first = pd.Timestamp(self.date(day))
        frame = frame[frame["timestamp"].dt.floor("D") == first].reset_index(drop=True)
        if day >= s.change_day and s.change != "none":
            changed = _CHANGES[s.change](self, day, first)
            frame = pd.concat([frame, changed], ignore_index=True)
        if day >= s.change_day and s.amount_shift != 1.0:
            frame["amount"] = (frame["amount"] * s.amount_shift).round(2)
        frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
        frame["transaction_id"] = day * IDS_PER_DAY + np.arange(len(frame), dtype=np.int64)
        return frame

    def write_day(self, day: int) -> Published:
        """Publish day ``day``'s transactions and the labels that become known that day:
        the chargebacks of ``label_delay_days`` before, and the analysts' decisions on the
        alerts of ``analysts.delay_days`` before."""
        frame = self.draw(day)
        log = self.log_file(day)
        log.parent.mkdir(parents=True, exist_ok=True)
        unlabelled = frame.drop(columns=[TARGET])
        write_with(log, lambda tmp: unlabelled.to_parquet(tmp, index=False))
        reviewed_day = day - self.settings.analysts.delay_days
        reviewed = self.review(reviewed_day) if reviewed_day >= 0 else 0
        reviewed_on = reviewed_day if reviewed else None
        released = day - self.settings.label_delay_days
        if released < 0:
            return Published(log, None, reviewed, reviewed_on)
        labels = self.draw(released)[["transaction_id", TARGET]]
        path = self.labels_file(released)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, lambda tmp: labels.to_parquet(tmp, index=False))
        return Published(log, path, reviewed, reviewed_on)

    def review(self, day: int) -> int:
        """The analysts settle up to ``reviews_per_day`` of day ``day``'s open alerts, as
        of midnight ``analysts.delay_days`` later; returns how many. Nothing without
        analysts, or before the loop has scored (and so queued) that day."""
        from fraudctl.alerts.review import record_decision
        from fraudctl.alerts.store import day_bounds, open_alerts

        team = self.settings.analysts
        if not team.reviews_per_day or not self.scores_file(day).exists():
            return 0
        store = open_alerts(self.alerts_uri)
        alerts = store.alerts(*day_bounds(f"{self.date(day):%Y-%m-%d}"))
        settled = {d.transaction_id for d in store.decisions([a.transaction_id for a in alerts])}
        waiting = sorted(
            (a for a in alerts if a.transaction_id not in settled),
            key=lambda a: (a.rule is None, -a.probability, a.transaction_id),
        )[: max(0, team.reviews_per_day - len(settled))]
        if not waiting:
            return 0
        truth = self.draw(day).set_index("transaction_id")[TARGET]
        right = np.random.default_rng([self.seed, 27644437, day]).random(len(waiting))
        at_ms = self.start_ms(day + team.delay_days)
        for alert, draw in zip(waiting, right, strict=True):
            fraud = bool(truth.loc[int(alert.transaction_id)])
            correct = draw < team.accuracy
            outcome = "fraud" if fraud == correct else "legitimate"
            record_decision(store, alert.transaction_id, ANALYST, outcome, at_ms=at_ms)
        return len(waiting)

    def labelled_days(self, up_to: int) -> list[int]:
        """Days up to ``up_to`` whose labels have been released."""
        return [d for d in range(up_to + 1) if self.labels_file(d).exists()]

    def read_log(self, days: list[int], labelled: bool = False) -> pd.DataFrame:
        frames = []
        for day in days:
            frame = pd.read_parquet(self.log_file(day))
            if labelled:
                frame = frame.merge(pd.read_parquet(self.labels_file(day)), on="transaction_id")
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _card_testing(world: World, day: int, first: pd.Timestamp) -> pd.DataFrame:
    s = world.settings
    rng = np.random.default_rng([world.seed, 7919, day])
    cards = rng.choice(s.n_customers, size=max(3, s.n_customers // 100), replace=False)
    bursts = rng.integers(8, 21, size=cards.size)
    customer = np.repeat(cards, bursts)
    start = np.repeat(rng.uniform(0, DAY - 3600, size=cards.size), bursts)
    seconds = start + rng.uniform(0, 3600, size=customer.size)
    terminal = s.n_terminals + np.repeat(rng.integers(0, TESTING_TERMINALS, cards.size), bursts)
    return pd.DataFrame(
        {
            "transaction_id": 0,
            "timestamp": first + pd.to_timedelta(seconds.astype(np.int64), unit="s"),
            "customer_id": customer.astype(np.int64),
            "terminal_id": terminal.astype(np.int64),
            "amount": np.round(rng.uniform(0.5, 4.0, size=customer.size), 2),
            "merchant_category": "online",
            TARGET: np.ones(customer.size, dtype=np.int8),
        }
    )


def _terminal_wave(world: World, day: int, first: pd.Timestamp) -> pd.DataFrame:
    """Extra fraud at a fixed wave of terminals for the two weeks after the change."""
    s = world.settings
    if day >= s.change_day + 14:
        return pd.DataFrame()
    wave = np.random.default_rng([world.seed, 104729]).choice(
        s.n_terminals, size=max(5, s.n_terminals // 50), replace=False
    )
    rng = np.random.default_rng([world.seed, 104729, day])
    count = rng.poisson(6, size=wave.size)
    terminal = np.repeat(wave, count)
    seconds = rng.normal(13.5 * 3600, 4 * 3600, size=terminal.size).clip(0, DAY - 1)
    return pd.DataFrame(
        {
            "transaction_id": 0,
            "timestamp": first + pd.to_timedelta(seconds.astype(np.int64), unit="s"),
            "customer_id": rng.integers(0, s.n_customers, size=terminal.size).astype(np.int64),
            "terminal_id": terminal.astype(np.int64),
            "amount": np.round(rng.lognormal(3.4, 0.6, size=terminal.size), 2),
            "merchant_category": "services",
            TARGET: np.ones(terminal.size, dtype=np.int8),
        }
    )


_CHANGES = {"card_testing": _card_testing, "terminal_wave": _terminal_wave}
