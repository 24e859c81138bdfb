"""Pipeline benchmark: wall time, peak memory and model quality against the targets.

    python -m benchmarks.pipeline [--ulb PATH] [--skip-synthetic] [--skip-real]

Copies the repository's tracked files into a temporary directory (as a fresh clone would
be), then times `dvc repro` on the default synthetic data and on the real ULB table
(default ../shared/data/creditcard.csv.gz, or $FRAUDCTL_ULB_CSV), a no-op `dvc repro`,
and `fraudctl --help`. Peak memory is the largest resident set of any process the
command started. Prints one table; nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ULB = REPO.parent / "shared" / "data" / "creditcard.csv.gz"
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)"
)


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command and its children."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    seconds, rss_kib, rc = float(out[0]), int(out[1]), int(out[2])
    if rc != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd} (exit {rc})")
    return seconds, rss_kib / 1024


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


def run_case(label: str, source: Path | None, env: dict[str, str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="fraudctl-bench-") as tmp:
        root = Path(tmp)
        fresh_copy(root)
        if source is not None:
            raw = root / "data" / "raw" / source.name
            shutil.copy2(source, raw)
            params = yaml.safe_load((root / "params.yaml").read_text())
            params["data"]["source"] = f"data/raw/{source.name}"
            (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        case_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
        repro_s, repro_mib = measure(["dvc", "repro"], root, case_env)
        noop_s, _ = measure(["dvc", "repro"], root, case_env)
        metrics = json.loads((root / "reports" / "metrics.json").read_text())
        train = json.loads((root / "reports" / "train.json").read_text())
        fit_s = fit_seconds(root, case_env)
    return {
        "case": label,
        "repro_s": repro_s,
        "peak_mib": repro_mib,
        "noop_s": noop_s,
        "fit_s": fit_s,
        "val_pr_auc": train["validation"]["pr_auc"],
        **metrics,
    }


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
    args = parser.parse_args()

    env = dict(os.environ, MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    rows = []
    if not args.skip_synthetic:
        rows.append(run_case("synthetic (default)", None, env))
    if not args.skip_real:
        if not args.ulb.exists():
            raise SystemExit(f"{args.ulb}: not found; pass --ulb PATH or --skip-real")
        rows.append(run_case(f"ULB {args.ulb.name}", args.ulb, env))

    print(f"fraudctl --help: {help_seconds(env):.3f} s (target <= 0.5 s)")
    columns = [
        ("case", "{}"),
        ("repro_s", "{:.1f}"),
        ("noop_s", "{:.1f}"),
        ("fit_s", "{:.1f}"),
        ("peak_mib", "{:.0f}"),
        ("val_pr_auc", "{:.4f}"),
        ("pr_auc", "{:.4f}"),
        ("roc_auc", "{:.4f}"),
        ("recall_at_fpr", "{:.4f}"),
        ("precision", "{:.3f}"),
        ("recall", "{:.3f}"),
    ]
    print(" | ".join(name for name, _ in columns))
    for row in rows:
        print(" | ".join(fmt.format(row[name]) for name, fmt in columns))
    print(
        "targets (ULB): pr_auc >= 0.80, roc_auc >= 0.98, recall_at_fpr(1%) >= 0.88, "
        "fit <= 30 s, repro <= 90 s (synthetic <= 60 s), no-op <= 5 s, peak <= 2048 MiB"
    )


if __name__ == "__main__":
    main()
