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
label column) and ``labels/YYYY-MM-DD.parquet`` (``transaction_id, is_fraud``).
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


class LoopError(FraudctlError):
    """A loop step cannot run (yet); the message says what is missing."""


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

    def write_day(self, day: int) -> tuple[Path, Path | None]:
        """Publish day ``day``'s transactions and the labels that become known that day."""
        frame = self.draw(day)
        log = self.log_file(day)
        log.parent.mkdir(parents=True, exist_ok=True)
        unlabelled = frame.drop(columns=[TARGET])
        write_with(log, lambda tmp: unlabelled.to_parquet(tmp, index=False))
        released = day - self.settings.label_delay_days
        if released < 0:
            return log, None
        labels = self.draw(released)[["transaction_id", TARGET]]
        path = self.labels_file(released)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, lambda tmp: labels.to_parquet(tmp, index=False))
        return log, path

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
