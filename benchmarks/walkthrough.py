"""The manual's walkthroughs, run for real in a fresh clone, with what they print recorded.

    python -m benchmarks.walkthrough first-run     # `dvc repro` as `make repro` runs it
    python -m benchmarks.walkthrough continuous    # docs/continuous.md, to the first promotions

A page that shows commands and their output renders both from
benchmarks/results/walkthrough_<name>.json (``make docs-numbers``), so the output a reader
compares with is the output the commands printed, not a copy. Each step keeps its whole
output in the file and says which lines the page shows (``show``: ``head``/``tail`` line
counts, or a ``grep`` pattern). The clone uses this environment's fraudctl, DVC and MLflow
(the install is timed by benchmarks/newcomer.py); MLflow settings are removed, and the
terminal is 100 columns wide. A step that fails stops the run with its output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import results

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Step:
    command: str  # as the page shows it, and as bash runs it
    show: dict[str, Any] = field(default_factory=dict)


LOOP = "examples/continuous/params.yaml"
OWN_PARAMS = """\
data:
  source: data/raw/mylog.csv
  schema:
    time: ts                  # ISO 8601 text: parsed as a datetime
    amount: value
    target: label
    features: all             # every column without another role: value, mcc
    entities: {customer: card, terminal: merchant}
    categorical: [mcc]
    exclude: [tx_id]
split:                        # by time: 60 % train, 15 % validation, 25 % test
  train: 0.6
  validation: 0.15
  test: 0.25
  gap: 7d                     # labels arrive about a week late: left out before each
features:
  entities:
    customer: {windows: [1d, 7d, 30d], relative_amount: true, time_since_previous: true}
    terminal: {windows: [1d, 7d], aggregates: [count], risk: {windows: [7d, 30d], delay: 7d}}
  calendar: [hour, night, weekend]
"""
# what the page shows of a repro: each stage DVC runs or skips, and each stage's verdict
FIRST_RUN = {"grep": r"^(Running stage|> |Stage '|Updating lock|Use `dvc push`|✓|✗|registered)"}
# the lines of train's and evaluate's output a page shows: the verdicts and four metrics
METRICS = {"grep": r"^(✓|registered|│ (pr_auc|roc_auc|recall_at_fpr|card_precision_at_k) )"}
CONTINUOUS_LAST_DAY = 35  # three retrains judged and promoted by then
WALKTHROUGHS: dict[str, tuple[str, list[Step]]] = {
    "first-run": (
        "the first `dvc repro` of a fresh clone (what `make repro` runs after the install)",
        [Step("dvc repro", FIRST_RUN)],
    ),
    "own-data": (
        "docs/own-data.md: a log whose columns have your system's names, described by roles",
        [
            Step(
                "python - <<'EOF'   # a 90-day log, its columns named as a payment system might\n"
                "from fraudctl.data.synthetic_transactions import generate_transaction_log\n"
                "log = generate_transaction_log(n_customers=1_000, n_terminals=2_000, days=90)\n"
                "names = {'transaction_id': 'tx_id', 'timestamp': 'ts', 'customer_id': 'card',\n"
                "         'terminal_id': 'merchant', 'amount': 'value',\n"
                "         'merchant_category': 'mcc', 'is_fraud': 'label'}\n"
                "log.rename(columns=names).to_csv('data/raw/mylog.csv', index=False)\n"
                "EOF"
            ),
            Step("head -n 3 data/raw/mylog.csv"),
            Step(
                "cat > my-params.yaml <<'EOF'   # every other key keeps its default\n"
                + OWN_PARAMS
                + "EOF"
            ),
            Step("fraudctl data --params my-params.yaml"),
            Step("fraudctl features build --params my-params.yaml"),
            Step("fraudctl train --params my-params.yaml", METRICS),
            Step("fraudctl evaluate --params my-params.yaml", METRICS),
        ],
    ),
    "continuous": (
        "docs/continuous.md: twenty days of history, then one day at a time until the "
        "labels of the loop's own scores have come back and the first retrains are judged",
        [
            Step(f"P={LOOP}"),
            Step("fraudctl simulate --days 20 --params $P", {"head": 2, "tail": 1}),
            Step(
                f"for day in $(seq 20 {CONTINUOUS_LAST_DAY}); do\n"
                "  fraudctl simulate --day $day --params $P   # the day, and day-7's labels\n"
                "  fraudctl cycle run --day $day --params $P  # score ... compare\n"
                "done",
                {
                    "grep": r"^day (20|21) |^day \d+ (decide: retrain|retrain: trained|"
                    r"compare: (?!skipped))"
                },
            ),
            Step("grep '\"promoted\"' loop/decisions.jsonl   # each promotion, with its reason"),
            Step("column -s, -t loop/monitoring.csv        # the labelled days, one a row"),
        ],
    ),
}


def clone(destination: Path) -> None:
    subprocess.run(["git", "clone", "-q", str(REPO), str(destination)], check=True)


def environment(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(project)  # the clone's code, whatever the environment installed
    env["COLUMNS"] = "100"
    env["MPLBACKEND"] = "Agg"
    return env


def run(name: str, keep: bool) -> Path:
    purpose, steps = WALKTHROUGHS[name]
    scratch = Path(tempfile.mkdtemp(prefix=f"fraudctl-walkthrough-{name}-"))
    project = scratch / "fraudctl"
    clone(project)
    env = environment(project)
    rows = []
    variables = ""
    try:
        for step in steps:
            if "=" in step.command.split()[0] and "\n" not in step.command:  # P=...
                variables += step.command + "\n"
                rows.append({"command": step.command, "output": "", "seconds": 0.0})
                continue
            print(f"$ {step.command}", flush=True)
            started = time.perf_counter()
            done = subprocess.run(
                ["bash", "-c", "set -eo pipefail\n" + variables + step.command],
                cwd=project,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            seconds = time.perf_counter() - started
            print(done.stdout, end="", flush=True)
            if done.returncode != 0:
                raise SystemExit(f"{step.command!r} failed (exit {done.returncode}) in {project}")
            rows.append(
                {"command": step.command, "output": done.stdout, "seconds": seconds}
                | {"show": step.show}
            )
    finally:
        if keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return results.write(f"walkthrough_{name.replace('-', '_')}", rows, purpose)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", choices=sorted(WALKTHROUGHS))
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    args = parser.parse_args()
    print(f"results: {run(args.name, args.keep)}")


if __name__ == "__main__":
    main()
