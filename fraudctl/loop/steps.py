"""The steps of one day of continuous training, in order: the one list the ``fraudctl
cycle`` commands, ``fraudctl cycle run`` and the Airflow DAG (dags/) are built from.

This module imports nothing, so the DAG can read it from the project's files in Airflow's
own virtualenv, where fraudctl is not installed.
"""

from __future__ import annotations

from typing import NamedTuple


class Step(NamedTuple):
    name: str
    summary: str  # the command's help and the DAG task's documentation
    # Airflow retries: steps that talk to the registry or train can fail for a moment (a
    # locked store, a busy disk); the others are pure functions of files and fail for real
    retries: int


STEPS: tuple[Step, ...] = (
    Step("score", "Score the day's transactions with the registry's champion.", 2),
    Step("monitor", "Labelled performance of every scored day whose labels are out.", 0),
    Step("drift", "The drift gate: the day against the last training window.", 1),
    Step("decide", "Retrain today or not, and why (continuous.policy).", 1),
    Step("retrain", "Train a challenger on the rolling window, if today's decision says so.", 2),
    Step(
        "compare", "Challenger against champion on the same labelled days; promote the winner.", 2
    ),
)
NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)
