"""AutoML side by side: fraudctl, AutoGluon and FLAML on the same prepared splits.

    python -m benchmarks.quality [--datasets ulb,synthetic,transactions] [--params FILE]
        [--time-limit 120] [--systems fraudctl,autogluon,flaml] [--configs default]

For each dataset (a params file, plus overrides such as ``data.source``) it runs, in a
scratch project directory, ``fraudctl data`` and ``fraudctl features build``: every system
then learns from the same rows, the prepared train and validation splits, and is scored on
the prepared test split.

- fraudctl, once per entry of ``FRAUDCTL_CONFIGS`` chosen with ``--configs`` (``default``
  is the params file as it is): ``fraudctl train``, ``fraudctl evaluate`` and
  ``fraudctl score`` of the test split with the earlier splits as history, all through
  the command line, so nothing here depends on the package's internals.
- AutoGluon (``medium_quality``) and FLAML, each with the same time limit, in virtualenvs of
  their own (``make .venv-autogluon/.installed .venv-flaml/.installed``), through
  benchmarks/automl_runner.py. They get the raw prepared table a user would hand them:
  every prepared column but the label and the columns ``data.schema.exclude`` names (ids,
  leaks), time and entity columns included, and none of fraudctl's history features:
  computing those is what fraudctl adds, and a comparison that handed them over would
  measure the estimators only.

Every system's test probabilities are measured by one function (:func:`metric_row`, on
fraudctl.model.metrics): PR-AUC, ROC-AUC, recall at ``evaluate.max_false_positive_rate``
and, where the data declares entities, card precision@k per day. fraudctl's own
``reports/metrics.json`` must agree with it (checked on every run). Wall and CPU seconds of
each system's training command are recorded: on a shared machine CPU seconds show how much
of the wall time was spent waiting. Writes benchmarks/results/quality.json (rendered on the
docs site). Nothing here is asserted by the tests. On a machine other jobs share, run it with
``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads that spin while they wait (LightGBM's, in every
system) otherwise turn a 40 s ``fraudctl train`` of the ULB table into 20 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from benchmarks import results

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ULB = REPO.parent / "shared" / "data" / "creditcard.csv.gz"
RUNNER = Path(__file__).resolve().parent / "automl_runner.py"
VENVS = {"autogluon": REPO / ".venv-autogluon", "flaml": REPO / ".venv-flaml"}
SYSTEM_NAMES = {"autogluon": "AutoGluon", "flaml": "FLAML"}
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Dataset:
    name: str
    params: Path
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FraudctlConfig:
    """One way of running fraudctl: params overrides by dotted key (``{}``: as shipped)."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)


# an override value replaced by --time-limit: fraudctl given the AutoML systems' seconds
TIME_LIMIT = "<time-limit>"

FRAUDCTL_CONFIGS = (
    FraudctlConfig("default"),  # selection.budget as shipped (30 predicted seconds)
    # selection.budget set to the AutoML systems' time limit
    FraudctlConfig("budget", {"selection.budget": TIME_LIMIT}),
    # no budget: model.name (LightGBM) alone, the fixed model the budget starts from
    FraudctlConfig("fixed", {"selection.budget": None}),
    # the rank-average blend of LightGBM, the network and logistic regression as a candidate
    FraudctlConfig("blend", {"selection.candidates": ["ensemble"], "selection.budget": None}),
)


def datasets(ulb: Path) -> dict[str, Dataset]:
    return {
        "ulb": Dataset("ulb", REPO / "params.yaml", {"data.source": str(ulb.resolve())}),
        "synthetic": Dataset("synthetic", REPO / "params.yaml"),
        "transactions": Dataset("transactions", REPO / "examples" / "transactions" / "params.yaml"),
    }


# --- pure parts (tested in tests/unit/test_quality_benchmark.py) -----------------------


def with_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of a params mapping with ``section.key`` overrides applied."""
    document = json.loads(json.dumps(raw))
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return document


def day_numbers(times: pd.Series) -> np.ndarray:
    """Calendar days of the time column, as ``fraudctl evaluate`` counts them for card
    precision@k (numeric clocks count seconds)."""
    if pd.api.types.is_datetime64_any_dtype(times):
        return times.astype("int64").to_numpy() // (SECONDS_PER_DAY * 10**9)
    return np.floor(times.to_numpy(dtype=np.float64) / SECONDS_PER_DAY).astype(np.int64)


def metric_row(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    max_fpr: float,
    entity: np.ndarray | None = None,
    day: np.ndarray | None = None,
    card_k: int = 100,
) -> dict[str, float | None]:
    """The quality numbers of one system's test probabilities, with fraudctl's metric code;
    card precision@k only where there is an entity column (else None)."""
    from fraudctl.model import metrics

    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape:
        raise ValueError(f"{len(scores)} scores for {len(labels)} labels")
    if not np.isfinite(scores).all():
        raise ValueError("scores hold NaN or infinite values")
    card = None
    if entity is not None and day is not None:
        card = metrics.card_precision_at_k(labels, scores, entity, day, card_k)
    return {
        "pr_auc": metrics.pr_auc(labels, scores),
        "roc_auc": metrics.roc_auc(labels, scores),
        "recall_at_fpr": metrics.recall_at_fpr(labels, scores, max_fpr),
        "card_precision_at_k": card,
    }


def automl_columns(columns: list[str], target: str, exclude: list[str]) -> list[str]:
    """The prepared columns AutoML learns from: all but the label and the excluded ids."""
    return [c for c in columns if c != target and c not in set(exclude)]


ROW_KEYS = (
    "dataset",
    "system",
    "settings",
    "pr_auc",
    "roc_auc",
    "recall_at_fpr",
    "card_precision_at_k",
    "train_s",
    "train_cpu_s",
    "chosen",
    "time_limit_s",
    "train_rows",
    "test_rows",
    "test_frauds",
)


def result_row(dataset: str, system: str, settings: str, **values: Any) -> dict[str, Any]:
    """One row of quality.json, its keys always in the same order (the docs table's)."""
    unknown = set(values) - set(ROW_KEYS)
    if unknown:
        raise ValueError(f"unknown result fields: {sorted(unknown)}")
    row = {"dataset": dataset, "system": system, "settings": settings}
    row |= {key: values.get(key) for key in ROW_KEYS[3:]}
    return row


# --- running the systems ---------------------------------------------------------------


@dataclass
class Timed:
    wall_s: float
    cpu_s: float


def run(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Timed:
    """Run a command to completion (output to ``log``): wall and CPU seconds of it and its
    children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-20:])
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}) in {cwd}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu)


@dataclass
class Prepared:
    """A scratch project after ``fraudctl data`` and ``features build``."""

    root: Path
    raw_params: dict[str, Any]
    target: str
    max_fpr: float
    card_k: int
    test: pd.DataFrame
    entity: np.ndarray | None
    day: np.ndarray | None
    train_rows: int


def prepare(dataset: Dataset, root: Path, env: dict[str, str], log: Path) -> Prepared:
    from fraudctl.config import parse_params

    raw = yaml.safe_load(dataset.params.read_text(encoding="utf-8"))
    raw = with_overrides(raw, dataset.overrides)
    source = raw.get("data", {}).get("source", "synthetic")
    if not source.startswith("synthetic") and not Path(source).is_absolute():
        raw = with_overrides(raw, {"data.source": str(Path(source).resolve())})
    params = parse_params(raw, str(dataset.params))
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    run(["fraudctl", "data", "--params", "params.yaml"], root, env, log)
    run(["fraudctl", "features", "build", "--params", "params.yaml"], root, env, log)

    prepared = root / "data" / "prepared"
    splits = {s: pd.read_parquet(prepared / f"{s}.parquet") for s in ("train", "validation")}
    test = pd.read_parquet(prepared / "test.parquet")
    schema = params.data.schema_
    history = [splits["train"], splits["validation"]]
    if (prepared / "gap.parquet").exists():
        history.insert(1, pd.read_parquet(prepared / "gap.parquet"))
    pd.concat(history, ignore_index=True).to_parquet(root / "history.parquet")

    columns = automl_columns(list(test.columns), schema.target, schema.exclude)
    automl = root / "automl"
    automl.mkdir()
    period = pd.concat([splits["train"], splits["validation"]], ignore_index=True)
    period[[*columns, schema.target]].to_parquet(automl / "train.parquet")
    test[columns].to_parquet(automl / "test.parquet")

    entity = day = None
    if schema.entities:
        role = params.evaluate.card_entity or next(iter(schema.entities))
        entity = test[schema.entities[role]].to_numpy()
        day = day_numbers(test[schema.time])
    return Prepared(
        root=root,
        raw_params=raw,
        target=schema.target,
        max_fpr=params.evaluate.max_false_positive_rate,
        card_k=params.evaluate.card_k,
        test=test,
        entity=entity,
        day=day,
        train_rows=len(period),
    )


def measured(prepared: Prepared, scores: np.ndarray) -> dict[str, Any]:
    labels = prepared.test[prepared.target].to_numpy()
    return {
        **metric_row(
            labels,
            scores,
            max_fpr=prepared.max_fpr,
            entity=prepared.entity,
            day=prepared.day,
            card_k=prepared.card_k,
        ),
        "train_rows": prepared.train_rows,
        "test_rows": len(labels),
        "test_frauds": int(labels.sum()),
    }


def run_fraudctl(
    prepared: Prepared,
    config: FraudctlConfig,
    env: dict[str, str],
    log: Path,
    time_limit: float = 120.0,
) -> dict[str, Any]:
    root = prepared.root
    params_file = f"params-{config.name}.yaml"
    overrides = {k: time_limit if v == TIME_LIMIT else v for k, v in config.overrides.items()}
    raw = with_overrides(prepared.raw_params, overrides)
    (root / params_file).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    trained = run(["fraudctl", "train", "--params", params_file], root, env, log)
    run(["fraudctl", "evaluate", "--params", params_file], root, env, log)
    scored = root / f"scores-{config.name}.parquet"
    command = ["fraudctl", "score", "data/prepared/test.parquet", "--history", "history.parquet"]
    run([*command, "-o", str(scored), "--params", params_file], root, env, log)
    scores = pd.read_parquet(scored)["fraud_probability"].to_numpy()
    values = measured(prepared, scores)
    evaluated = json.loads((root / "reports" / "metrics.json").read_text(encoding="utf-8"))
    for key in ("pr_auc", "roc_auc", "recall_at_fpr", "card_precision_at_k"):
        ours, theirs = values[key], evaluated.get(key)
        if (ours is None) != (theirs is None) or (ours is not None and abs(ours - theirs) > 1e-9):
            raise SystemExit(
                f"fraudctl {config.name}: {key} from `fraudctl score` is {ours}, "
                f"`fraudctl evaluate` wrote {theirs}: the two doors disagree"
            )
    report = json.loads((root / "reports" / "train.json").read_text(encoding="utf-8"))
    version = subprocess.run(
        ["fraudctl", "version"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    return result_row(
        "",
        f"fraudctl {version}",
        config.name,
        **values,
        train_s=trained.wall_s,
        train_cpu_s=trained.cpu_s,
        chosen=report.get("selection", {}).get("chosen", report["model"]),
    )


def run_automl(
    prepared: Prepared, system: str, time_limit: float, seed: int, env: dict[str, str], log: Path
) -> dict[str, Any]:
    python = VENVS[system] / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python}: missing; build it with `make {VENVS[system].name}/.installed`")
    out = prepared.root / system
    out.mkdir(exist_ok=True)
    automl = prepared.root / "automl"
    command = [str(python), str(RUNNER), system, "--label", prepared.target]
    command += ["--train", str(automl / "train.parquet"), "--test", str(automl / "test.parquet")]
    command += ["--time-limit", str(time_limit), "--threads", str(threads()), "--seed", str(seed)]
    command += ["--workdir", str(out), "--scores", str(out / "scores.parquet")]
    command += ["--report", str(out / "report.json")]
    clean = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    timed = run(command, prepared.root, clean, log)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    scores = pd.read_parquet(out / "scores.parquet")["score"].to_numpy()
    return result_row(
        "",
        f"{SYSTEM_NAMES[system]} {report['version']}",
        report["settings"],
        **measured(prepared, scores),
        train_s=report["fit_s"],
        train_cpu_s=timed.cpu_s,
        chosen=report["chosen"],
        time_limit_s=time_limit,
    )


def threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def print_rows(rows: list[dict[str, Any]]) -> None:
    columns = ["dataset", "system", "settings", "pr_auc", "roc_auc", "recall_at_fpr"]
    columns += ["card_precision_at_k", "train_s", "train_cpu_s", "chosen"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(_cell(row[c]) for c in columns), flush=True)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:.1f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="ulb,synthetic,transactions")
    parser.add_argument("--params", type=Path, help="any params file (its name is the dataset)")
    parser.add_argument(
        "--ulb", type=Path, default=Path(os.environ.get("FRAUDCTL_ULB_CSV", DEFAULT_ULB))
    )
    parser.add_argument("--systems", default="fraudctl,autogluon,flaml")
    parser.add_argument(
        "--configs", default="default", help=f"of {', '.join(c.name for c in FRAUDCTL_CONFIGS)}"
    )
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--keep", type=Path, help="keep the scratch projects under this folder")
    args = parser.parse_args()

    known = datasets(args.ulb)
    chosen = [] if args.params else [known[n] for n in args.datasets.split(",") if n]
    if args.params:
        chosen.append(Dataset(args.params.stem, args.params.resolve()))
    configs = {c.name: c for c in FRAUDCTL_CONFIGS}
    wanted = [configs[n] for n in args.configs.split(",") if n]
    systems = [s for s in args.systems.split(",") if s]
    if "ulb" in [d.name for d in chosen] and not args.ulb.exists():
        raise SystemExit(f"{args.ulb}: not found; pass --ulb PATH or leave ulb out of --datasets")

    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("MLFLOW_TRACKING_URI", None)  # each scratch project has its own store
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    targets = (
        f"Same prepared splits; AutoML systems get the raw prepared columns and a "
        f"{args.time_limit:.0f} s limit, fraudctl its params file's settings. Issue 33: "
        "fraudctl ahead of both on PR-AUC at the same time limit, or the gap named."
    )
    rows: list[dict[str, Any]] = []
    for dataset in chosen:
        root = Path(tempfile.mkdtemp(prefix=f"fraudctl-quality-{dataset.name}-"))
        log = root / "commands.log"
        print(f"{dataset.name}: preparing in {root} (log: {log})", flush=True)
        try:
            prepared = prepare(dataset, root, env, log)
            seed = int(prepared.raw_params.get("base", {}).get("seed", 42))
            for system in systems:
                if system == "fraudctl":
                    found = [run_fraudctl(prepared, c, env, log, args.time_limit) for c in wanted]
                else:
                    found = [run_automl(prepared, system, args.time_limit, seed, env, log)]
                for row in found:
                    row["dataset"] = dataset.name
                    rows.append(row)
                    print_rows([row])
                    # after each system: a long run that stops keeps what it measured
                    results.write("quality", rows, targets)
        finally:
            if args.keep:
                shutil.copytree(root, args.keep / root.name, dirs_exist_ok=True)
            shutil.rmtree(root, ignore_errors=True)
    print_rows(rows)
    print(f"results: {results.RESULTS / 'quality.json'}")


if __name__ == "__main__":
    main()
