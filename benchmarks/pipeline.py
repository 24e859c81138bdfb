"""Pipeline benchmark: wall time, peak memory and model quality against the targets.

    python -m benchmarks.pipeline [--ulb PATH] [--skip-synthetic] [--skip-real] [--repeats N]

Copies the repository's tracked files into a temporary directory (as a fresh clone would
be), then, on the default synthetic data (``--repeats`` times) and on the real ULB table
(default ../shared/data/creditcard.csv.gz, or $FRAUDCTL_ULB_CSV), times:

- ``clone_repro_s``: the first ``dvc repro`` of the copy, what ``make repro`` runs after the
  install in a fresh clone (stages whose committed outputs it reproduces are skipped);
- ``full_repro_s``: ``dvc repro --force``, every stage from scratch, and each stage's share
  of it (``<stage>_s``, from the moment DVC starts the stage to the next one);
- a no-op ``dvc repro``, the model's fit (as logged to MLflow), SHAP for 1,000 test rows,
  and ``fraudctl --help``.

Peak memory is the largest resident set of any process the command started. Prints tables
and writes benchmarks/results/pipeline.json, which the docs site renders; nothing here is
asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import results
from fraudctl.experiments.results import read_outcome
from fraudctl.paths import ProjectPaths

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ULB = REPO.parent / "shared" / "data" / "creditcard.csv.gz"
EXPERIMENTS = ("poison", "fairness", "drift")


def fresh_copy(destination: Path) -> None:
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)


STAGES = ("prepare", "features", "train", "evaluate", *EXPERIMENTS, "card")
TIMED = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)\n"
    "for line in p.stdout:\n"
    "    print(round(time.perf_counter() - t, 3), line, end='')\n"
    "rc = p.wait()\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)"
)


def timed_stages(
    command: list[str], cwd: Path, env: dict[str, str]
) -> tuple[float, float, dict[str, float]]:
    """Wall seconds, peak RSS (MiB) and each stage's seconds of one ``dvc repro``, from the
    times at which DVC announced each stage."""
    out = subprocess.run(
        [sys.executable, "-c", TIMED, *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    seconds, rss_kib, rc = out[-1].split()
    if int(rc) != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd} (exit {rc})")
    starts = []
    for line in out[:-1]:
        at, _, text = line.partition(" ")
        if text.startswith("Running stage '"):
            starts.append((text.split("'")[1], float(at)))
    ends = [at for _, at in starts[1:]] + [float(seconds)] * bool(starts)
    return (
        float(seconds),
        int(rss_kib) / 1024,
        {name: end - at for (name, at), end in zip(starts, ends, strict=True)},
    )


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command and its children."""
    seconds, peak_mib, _ = timed_stages(command, cwd, env)
    return seconds, peak_mib


def run_case(label: str, source: Path | None, env: dict[str, str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="fraudctl-bench-") as tmp:
        root = Path(tmp)
        fresh_copy(root)
        clone_s = None
        case_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
        if source is None:
            clone_s, _ = measure(["dvc", "repro"], root, case_env)
        else:
            raw = root / "data" / "raw" / source.name
            shutil.copy2(source, raw)
            params = yaml.safe_load((root / "params.yaml").read_text())
            params["data"]["source"] = f"data/raw/{source.name}"
            (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        full_s, peak_mib, stages = timed_stages(["dvc", "repro", "--force"], root, case_env)
        noop_s, _ = measure(["dvc", "repro"], root, case_env)
        metrics = json.loads((root / "reports" / "metrics.json").read_text())
        train = json.loads((root / "reports" / "train.json").read_text())
        findings = {name: read_outcome(ProjectPaths(root), name).headline for name in EXPERIMENTS}
        fit_s = fit_seconds(root, case_env)
        shap_s = shap_seconds(root, case_env)
    return {
        "case": label,
        "clone_repro_s": clone_s,
        "full_repro_s": full_s,
        **{f"{name}_s": stages.get(name) for name in STAGES},
        "noop_s": noop_s,
        "fit_s": fit_s,
        "peak_mib": peak_mib,
        "val_pr_auc": train["validation"]["pr_auc"],
        "shap_s": shap_s,
        "findings": findings,
        **metrics,
    }


SHAP_TIMING = """
import time, pandas as pd, shap
from fraudctl.experiments.explain import shap_values
from fraudctl.model.bundle import load_model
from fraudctl.model.explainers import explainer_kind
model = load_model("models/model")
estimator = model.estimator
if explainer_kind(estimator, model.kind) == "agnostic":
    print("nan")  # a blend: no exact explainer to time (fairness explains it by permutation)
    raise SystemExit(0)
test = pd.read_parquet("data/features/test.parquet")[model.features]
rows = test.sample(1000, random_state=0)
started = time.perf_counter()
shap_values(estimator, rows, model.kind)
print(time.perf_counter() - started)
"""


def shap_seconds(root: Path, env: dict[str, str]) -> float | None:
    """Exact SHAP for 1,000 test rows with the trained model, imports excluded; None when
    the model has no exact explainer (the budget may choose a blend)."""
    out = subprocess.run(
        [sys.executable, "-c", SHAP_TIMING],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = float(out.stdout.strip().splitlines()[-1])
    return None if math.isnan(seconds) else seconds


def fit_seconds(root: Path, env: dict[str, str]) -> float:
    """The training run's fit time, as logged to MLflow."""
    code = (
        "import mlflow; runs = mlflow.search_runs(experiment_names=['fraud-training']);"
        "print(float(runs['metrics.fit_seconds'].iloc[0]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def help_seconds(env: dict[str, str], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(["fraudctl", "--help"], env=env, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ulb", type=Path, default=Path(os.environ.get("FRAUDCTL_ULB_CSV", DEFAULT_ULB))
    )
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of the synthetic case (timings as ranges)"
    )
    args = parser.parse_args()

    env = dict(os.environ, MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    rows = []
    if not args.skip_synthetic:
        for _ in range(args.repeats):
            rows.append(run_case("synthetic (default)", None, env))
    if not args.skip_real:
        if not args.ulb.exists():
            raise SystemExit(f"{args.ulb}: not found; pass --ulb PATH or --skip-real")
        rows.append(run_case(f"ULB {args.ulb.name}", args.ulb, env))

    print(f"fraudctl --help: {help_seconds(env):.3f} s (target <= 0.5 s)")
    training = [
        "case",
        "clone_repro_s",
        "full_repro_s",
        "noop_s",
        "fit_s",
        "peak_mib",
        "val_pr_auc",
        "pr_auc",
        "roc_auc",
        "recall_at_fpr",
        "precision",
        "recall",
    ]
    experiments = ["case", *(f"{name}_s" for name in STAGES), "shap_s"]
    for columns in (training, experiments):
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(_cell(row[name]) for name in columns))
    targets = (
        "targets (ULB): pr_auc >= 0.80, roc_auc >= 0.98, recall_at_fpr(1%) >= 0.88, "
        "fit <= 30 s, train (synthetic) <= 60 s, full repro (synthetic) <= 180 s, "
        "no-op <= 5 s, peak <= 3 GiB, SHAP(1,000 rows) <= 5 s"
    )
    print(targets)
    summary = [
        {name: row[name] for name in dict.fromkeys(training + experiments)}
        | {"findings": row["findings"]}
        for row in rows
    ]
    print(f"results: {results.write('pipeline', summary, targets)}")
    for row in rows:
        print(f"\n{row['case']}:")
        for name, headline in row["findings"].items():
            print(f"  {name}: {headline}")


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:.1f}"
    return str(value)


if __name__ == "__main__":
    main()
