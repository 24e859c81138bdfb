"""Raw-transaction benchmark: the feature layer's targets, measured.

    python -m benchmarks.transactions [--rows 1750000] [--score-rows 1000000] [--seconds 10]

1. Scale: a generated log of --rows transactions (5,000 customers, 10,000 terminals) through
   `fraudctl data`, `features build`, `train` and `evaluate` with the example's params:
   wall time and peak RSS of every stage (targets: features <= 60 s, every stage <= 2 GiB).
2. Value: the example's `dvc repro` on a fresh copy (target <= 3 min), and the same data
   with no history features (amount + merchant category only): test PR-AUC of both
   (target: history beats amount + category by >= 0.2).
3. Batch: `fraudctl score` on a file of the last --score-rows transactions, alone and with
   the earlier log as --history (target >= 200,000 rows/s including features, wall time of
   the whole command).
4. Online: `fraudctl serve` with the SQLite store loaded by `features materialize`; wrk on
   loopback posts raw transactions of random customers and terminals (target: p99 <= 5 ms
   at 4 connections, >= 1,500 requests/s at 16 connections, one worker).

Prints tables and writes benchmarks/results/transactions.json; nothing here is asserted by
the tests.
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

from benchmarks import results as result_files
from benchmarks.pipeline import fresh_copy, measure
from benchmarks.serving import free_port, parse_wrk, server

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "transactions" / "params.yaml"
STAGES = (["data"], ["features", "build"], ["train"], ["evaluate"])
TARGETS = (
    "features build <= 60 s and every stage <= 2 GiB on the large log; the example's dvc "
    "repro <= 180 s; history features beat amount + category by >= 0.2 PR-AUC; fraudctl "
    "score >= 200,000 rows/s (wall time of the whole command, median of 3); raw /predict "
    "with the SQLite store on one worker: p99 <= 5 ms at 4 connections, >= 1,500 req/s at 16"
)
CATEGORIES = ("grocery", "fuel", "restaurant", "online", "electronics", "travel")


def environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    env["MPLBACKEND"] = "Agg"
    return env


def write_params(root: Path, **changes: object) -> None:
    params = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in changes.items():
        node = params
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def scale(rows: int, workdir: Path) -> tuple[Path, dict[str, tuple[float, float]]]:
    """Every training stage on a large generated log: (project, {stage: (s, MiB)})."""
    from fraudctl.data.synthetic_transactions import generate_transaction_log

    root = workdir / "scale"
    root.mkdir()
    days = max(30, round(rows / (5_000 * 1.65)))
    log = generate_transaction_log(n_customers=5_000, n_terminals=10_000, days=days, seed=7)
    log.to_parquet(root / "log.parquet", index=False)
    write_params(root, **{"data.source": "log.parquet"})
    env = environment(root)
    timings = {}
    for stage in STAGES:
        timings[" ".join(stage)] = measure(["fraudctl", *stage], root, env)
    return root, timings


def value(workdir: Path) -> dict[str, float]:
    """The example's dvc repro time and the PR-AUC with and without history features."""
    results: dict[str, float] = {}
    example = workdir / "example"
    example.mkdir()
    fresh_copy(example)
    shutil.copy(EXAMPLE, example / "params.yaml")
    env = environment(example)
    subprocess.run(["git", "init", "-q"], cwd=example, check=True)
    results["repro_s"], results["repro_peak_mib"] = measure(["dvc", "repro"], example, env)
    results["history_pr_auc"] = json.loads((example / "reports/metrics.json").read_text())["pr_auc"]
    baseline = workdir / "baseline"
    baseline.mkdir()
    write_params(baseline, **{"features.entities": {}, "features.calendar": []})
    env = environment(baseline)
    for stage in STAGES:
        measure(["fraudctl", *stage], baseline, env)
    results["baseline_pr_auc"] = json.loads((baseline / "reports/metrics.json").read_text())[
        "pr_auc"
    ]
    return results


def score(project: Path, rows: int, repeats: int = 3) -> dict[str, tuple[int, float, float]]:
    """`fraudctl score` on the last ``rows`` of the log, alone and with the rest as
    ``--history``: {case: (rows, rows/s of the whole command, peak MiB)}, median of
    ``repeats`` runs (wall time includes start-up, model load, reading and writing)."""
    import statistics

    import pandas as pd

    log = pd.read_parquet(project / "log.parquet")
    rows = min(rows, len(log) - 1)
    log.iloc[:-rows].to_parquet(project / "history.parquet", index=False)
    log.iloc[-rows:].drop(columns=["is_fraud"]).to_parquet(project / "batch.parquet", index=False)
    env = environment(project)
    args = ["fraudctl", "score", "batch.parquet", "-o", "scored.parquet"]
    cases = {"alone": args, "with --history": [*args, "--history", "history.parquet"]}
    results = {}
    for name, command in cases.items():
        runs = [measure(command, project, env) for _ in range(repeats)]
        seconds = statistics.median(r[0] for r in runs)
        results[name] = (rows, rows / seconds, max(r[1] for r in runs))
    results["with --history"] = (len(log), *results["with --history"][1:])
    return results


WRK_SCRIPT = """
counter = 0
math.randomseed(%(seed)d)
local categories = {%(categories)s}
request = function()
  counter = counter + 1
  local body = string.format(
    '{"timestamp": "%(timestamp)s", "customer_id": %%d, "terminal_id": %%d, ' ..
    '"amount": %%.2f, "merchant_category": "%%s", "transaction_id": "bench-%(seed)d-%%d"}',
    math.random(0, %(customers)d - 1), math.random(0, %(terminals)d - 1),
    math.random() * 150, categories[math.random(1, #categories)], counter)
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, body)
end
"""


def online(project: Path, seconds: int) -> dict[str, dict[str, float]]:
    """wrk against /predict with raw transactions and the SQLite online store."""
    import pandas as pd

    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    env = environment(project)
    env["FRAUDCTL_ONLINE_STORE"] = f"sqlite:///{project / 'online.db'}"
    history = project / "history.parquet"
    subprocess.run(
        ["fraudctl", "features", "materialize", "--history", str(history)],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    last = pd.read_parquet(history, columns=["timestamp"])["timestamp"].max()
    stamp = (last + pd.Timedelta(hours=1)).isoformat()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results = {}
    with server(
        ["fraudctl", "serve", "--model", str(project / "models/model"), "--port", str(port)],
        f"{base}/health/ready",
        env,
    ):
        for name, connections, seed in (("warm-up", 16, 1), ("c4", 4, 2), ("c16", 16, 3)):
            script = Path(tempfile.mkstemp(suffix=".lua")[1])
            script.write_text(
                WRK_SCRIPT
                % {
                    "seed": seed,
                    "categories": ", ".join(f'"{c}"' for c in CATEGORIES),
                    "timestamp": stamp,
                    "customers": 5_000,
                    "terminals": 10_000,
                }
            )
            duration = 3 if name == "warm-up" else seconds
            out = subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{connections}",
                    f"-d{duration}s",
                    "--latency",
                    "-s",
                    str(script),
                    f"{base}/predict",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            script.unlink()
            results[name] = parse_wrk(out)
    results.pop("warm-up")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_750_000)
    parser.add_argument("--score-rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-value", action="store_true", help="skip the dvc repro part")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="fraudctl-bench-") as scratch:
        workdir = Path(scratch)
        started = time.perf_counter()
        project, timings = scale(args.rows, workdir)
        log_rows = len(
            __import__("pandas").read_parquet(project / "log.parquet", columns=["amount"])
        )
        print(f"\n1. {log_rows:,}-row log, example params ({time.perf_counter() - started:.0f} s)")
        print(f"   {'stage':<16} {'seconds':>8} {'peak MiB':>9}")
        for stage, (seconds, mib) in timings.items():
            print(f"   {stage:<16} {seconds:>8.1f} {mib:>9.0f}")
            rows.append(
                {"part": "scale", "stage": stage, "rows": log_rows, "seconds": seconds}
                | {"peak_mib": mib}
            )
        print("   targets: features build <= 60 s; every stage <= 2048 MiB")
        metrics = json.loads((project / "reports/metrics.json").read_text())
        print(
            f"   test PR-AUC {metrics['pr_auc']:.3f}, ROC-AUC {metrics['roc_auc']:.3f}, "
            f"card precision@{100} per day {metrics['card_precision_at_k']:.3f}"
        )
        rows.append(
            {"part": "quality", "rows": log_rows, "pr_auc": metrics["pr_auc"]}
            | {"roc_auc": metrics["roc_auc"], "card_precision_at_k": metrics["card_precision_at_k"]}
        )
        if not args.skip_value:
            found = value(workdir)
            gap = found["history_pr_auc"] - found["baseline_pr_auc"]
            print("\n2. The example on its defaults (synthetic-transactions)")
            print(
                f"   dvc repro: {found['repro_s']:.0f} s (target <= 180 s), "
                f"peak {found['repro_peak_mib']:.0f} MiB"
            )
            print(
                f"   test PR-AUC with history features {found['history_pr_auc']:.3f}, "
                f"amount + category only {found['baseline_pr_auc']:.3f}: gap {gap:+.3f} "
                "(target >= +0.2)"
            )
            rows.append(
                {
                    "part": "example",
                    "repro_s": found["repro_s"],
                    "peak_mib": found["repro_peak_mib"],
                }
                | {k: found[k] for k in ("history_pr_auc", "baseline_pr_auc")}
            )
        batch = score(project, args.score_rows)
        print(f"\n3. fraudctl score on a {min(args.score_rows, log_rows - 1):,}-row file")
        for name, (featured, rate, mib) in batch.items():
            print(
                f"   {name:<15} {rate:>9,.0f} rows/s ({featured:,} rows through the features), "
                f"peak {mib:,.0f} MiB"
            )
            rows.append(
                {"part": "score", "case": name, "rows": featured, "rows_per_s": rate}
                | {"peak_mib": mib}
            )
        print("   target >= 200,000 rows/s including features (wall time of the command)")
        results = online(project, args.seconds)
        print("\n4. fraudctl serve, raw /predict with the SQLite online store, one worker")
        for name, r in results.items():
            print(
                f"   {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
                f"p99 {r['p99_ms']:.2f} ms, {r['non_2xx'] + r['socket_errors']} errors"
            )
            rows.append(
                {"part": "online", "connections": int(name.removeprefix("c")), "rps": r["rps"]}
                | {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"]}
                | {"errors": r["non_2xx"] + r["socket_errors"]}
            )
        print("   targets: p99 <= 5 ms at 4 connections; >= 1,500 req/s at 16 connections")
    print(f"results: {result_files.write('transactions', rows, TARGETS)}")


if __name__ == "__main__":
    main()
