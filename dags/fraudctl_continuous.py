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
import importlib.util
import os
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

FRAUDCTL = os.environ.get("FRAUDCTL", "fraudctl")
PROJECT = os.environ.get("FRAUDCTL_PROJECT", str(Path.cwd()))
PARAMS = os.environ.get("FRAUDCTL_LOOP_PARAMS", "examples/continuous/params.yaml")
START = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # continuous.start of the example


def _loop_steps() -> tuple:
    """The cycle's steps from the project's own list (fraudctl/loop/steps.py imports
    nothing, so it is read as a file: fraudctl is not installed in Airflow's virtualenv)."""
    path = Path(__file__).resolve().parents[1] / "fraudctl" / "loop" / "steps.py"
    spec = importlib.util.spec_from_file_location("fraudctl_loop_steps", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.STEPS


# Publishing the day comes first; each step's command, help and retries come from the loop.
TASKS = [("simulate", "simulate", "Publish the simulated day.", 0)] + [
    (step.name, f"cycle {step.name}", step.summary, step.retries) for step in _loop_steps()
]

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
    for task_id, command, summary, retries in TASKS:
        task = BashOperator(
            task_id=task_id,
            bash_command=f"{FRAUDCTL} {command} --date {{{{ ds }}}} --params {PARAMS}",
            cwd=PROJECT,
            retries=retries,
            append_env=True,
            doc_md=summary,
        )
        if previous is not None:
            previous >> task
        previous = task
