"""`fraudctl tune --trials 50` on the default synthetic data, timed.

    python -m benchmarks.tune [--trials 50]

Copies params.yaml into a temporary project, runs `fraudctl data` and `fraudctl features
build`, then times a fresh study of ``--trials`` trials (3 prequential folds each, pruned
per fold) and prints the wall time, trials pruned and the best mean out-of-fold PR-AUC.
Target (issue: model families and tuning): <= 10 min on 2 cores. Writes
benchmarks/results/tune.json; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import results

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    fraudctl = str(Path(sys.executable).parent / "fraudctl")
    with tempfile.TemporaryDirectory(prefix="fraudctl-tune-") as scratch:
        root = Path(scratch)
        shutil.copy(REPO / "params.yaml", root / "params.yaml")
        for command in (["data"], ["features", "build"]):
            subprocess.run([fraudctl, *command], cwd=root, check=True, capture_output=True)
        started = time.perf_counter()
        done = subprocess.run(
            [fraudctl, "tune", "--trials", str(args.trials), "--fresh"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    output = " ".join(done.stdout.split())
    pruned = re.search(r"(\d+) pruned", output)
    best = re.search(r"PR-AUC ([0-9.]+)", output)
    print(f"trials: {args.trials}, wall time: {seconds:.0f} s ({seconds / 60:.1f} min)")
    print(
        f"pruned: {pruned.group(1) if pruned else '?'}, best mean out-of-fold PR-AUC: "
        f"{best.group(1) if best else '?'}"
    )
    print("target: <= 600 s on 2 cores")
    row = {
        "family": "model.name (params.yaml)",
        "trials": args.trials,
        "pruned": int(pruned.group(1)) if pruned else None,
        "wall_s": seconds,
        "best_cv_pr_auc": float(best.group(1).rstrip(".:")) if best else None,
    }
    conditions = "the default synthetic data, 3 prequential folds per trial; target <= 600 s"
    print(f"results: {results.write('tune', [row], conditions, {'wall_s': ('<=', 600.0)})}")


if __name__ == "__main__":
    main()
