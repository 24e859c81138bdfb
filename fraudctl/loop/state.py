"""The loop's state: its workspace, the append-only record of decisions, the registry's
aliases and the models they name, and scoring a set of days with the history before them."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl import tracking
from fraudctl.config import Params
from fraudctl.loop.world import World
from fraudctl.paths import ProjectPaths

EXPERIMENT = "fraud-continuous"
HISTORY_DAYS = 31  # the longest history window a feature reads, plus a day


@dataclass(frozen=True)
class Loop:
    params: Params

    @property
    def settings(self) -> Any:
        return self.params.continuous

    @property
    def world(self) -> World:
        return World(self.settings, self.params.base.seed)

    @property
    def root(self) -> Path:
        return Path(self.settings.workspace)

    @property
    def project(self) -> ProjectPaths:
        return ProjectPaths(self.root / "project")

    @property
    def decisions_file(self) -> Path:
        return self.root / "decisions.jsonl"

    @property
    def monitoring_file(self) -> Path:
        return self.root / "monitoring.csv"

    def scores_file(self, day: int) -> Path:
        return self.world.scores_file(day)

    # --- the record ------------------------------------------------------------------

    def record(self, day: int, step: str, outcome: str, reason: str, **facts: Any) -> dict:
        """Append one decision to decisions.jsonl and log it to MLflow."""
        entry = {
            "day": day,
            "date": str(self.world.date(day)),
            "step": step,
            "outcome": outcome,
            "reason": reason,
            "policy": self.settings.policy,
            **facts,
            "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        self.decisions_file.parent.mkdir(parents=True, exist_ok=True)
        with self.decisions_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")
        with tracking.run(self.params.tracking, EXPERIMENT, run_name=f"day{day}-{step}"):
            tracking.set_tags({"step": step, "outcome": outcome, "reason": reason[:5000]})
            tracking.log_params({"day": day, "policy": self.settings.policy})
            numbers = {k: float(v) for k, v in facts.items() if isinstance(v, int | float)}
            tracking.log_metrics({k: v for k, v in numbers.items() if np.isfinite(v)})
        return entry

    def decisions(self) -> list[dict]:
        if not self.decisions_file.exists():
            return []
        lines = self.decisions_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    # --- the registry ----------------------------------------------------------------

    def version(self, alias: str) -> str | None:
        return tracking.alias_version(self.params.tracking, alias)

    def model(self, version: str) -> Any:
        """A registered version, fetched once into the workspace."""
        from fraudctl.model.bundle import load_model

        destination = self.root / "models" / f"v{version}"
        if not (destination / "MLmodel").exists():
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
            uri = f"models:/{self.params.tracking.registered_model}/{version}"
            scratch = destination.with_name(destination.name + ".partial")
            scratch.mkdir(parents=True, exist_ok=True)
            fetched = tracking.download_model(uri, self.params.tracking, scratch)
            Path(fetched).rename(destination)
        return load_model(destination)


def history_before(loop: Loop, first_day: int) -> pd.DataFrame | None:
    """The transactions before ``first_day`` that history features look back over, with
    the labels out on that day (:func:`fraudctl.loop.labels.history_log`)."""
    from fraudctl.loop.labels import ANALYST_LABEL, history_log

    days = [
        d
        for d in range(max(0, first_day - HISTORY_DAYS), first_day)
        if loop.world.log_file(d).exists()
    ]
    if not days:
        return None
    history = history_log(loop.world, days, first_day)
    analysts = loop.params.data.schema_.analyst_label
    return history.rename(columns={ANALYST_LABEL: analysts}) if analysts else history


def score_rows(loop: Loop, version: str, days: list[int]) -> np.ndarray:
    """The model's scores for these days' transactions, with the history before them."""
    model = loop.model(version)
    raw = loop.world.read_log(days)
    return model.predict_raw(raw, history_before(loop, min(days)))
