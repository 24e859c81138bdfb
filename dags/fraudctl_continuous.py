"""Continuous training, one task per step of a day (fraudctl.loop.cycle).

The DAG only wires the steps: each task is a `fraudctl` command, usable by hand, and all
logic (what to score, when to retrain, whether to promote) lives in fraudctl and its
params file. Set in the environment of the Airflow worker:

- FRAUDCTL: the fraudctl executable (default: `fraudctl` on PATH). Airflow lives in a
  virtualenv of its own (`make airflow`), fraudctl in the project's.
- FRAUDCTL_PROJECT: the directory the commands run in (default: the current one).
- FRAUDCTL_LOOP_PARAMS: the params file with the `continuous` section
  (default: examples/continuous/params.yaml).

Each run's logical date is the simulated day (`--date {{ ds }}`), so a backfill replays days.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

FRAUDCTL = os.environ.get("FRAUDCTL", "fraudctl")
PROJECT = os.environ.get("FRAUDCTL_PROJECT", str(Path.cwd()))
PARAMS = os.environ.get("FRAUDCTL_LOOP_PARAMS", "examples/continuous/params.yaml")
START = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # continuous.start of the example

# Steps that talk to the registry or train can fail for a moment (a locked store, a busy
# disk): they are retried. The others are pure functions of files and fail for real.
STEPS = (
    ("simulate", "fraudctl simulate", 0),
    ("score", "fraudctl cycle score", 2),
    ("monitor", "fraudctl cycle monitor", 0),
    ("drift", "fraudctl cycle drift", 1),
    ("decide", "fraudctl cycle decide", 1),
    ("retrain", "fraudctl cycle retrain", 2),
    ("compare", "fraudctl cycle compare", 2),
)

with DAG(
    dag_id="fraudctl_continuous",
    description="Score, monitor, gate, decide, retrain and promote, once a simulated day",
    schedule="@daily",
    start_date=START,
    catchup=False,
    max_active_runs=1,  # a day's decisions read the previous day's
    default_args={"retry_delay": dt.timedelta(seconds=10)},
    tags=["fraudctl"],
) as dag:
    previous = None
    for task_id, command, retries in STEPS:
        program, _, rest = command.partition(" ")
        task = BashOperator(
            task_id=task_id,
            bash_command=f"{FRAUDCTL} {rest} --date {{{{ ds }}}} --params {PARAMS}",
            cwd=PROJECT,
            retries=retries,
            append_env=True,
        )
        if previous is not None:
            previous >> task
        previous = task
