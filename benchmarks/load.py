"""Load benchmark: Locust's traffic mix against `fraudctl serve`, and wrk on the same server.

    python -m benchmarks.load [--model models/model] [--users 16] [--seconds 60]
                              [--rows data/prepared/test.parquet]   (make bench-load)

Starts `fraudctl serve` on 127.0.0.1, runs benchmarks/locustfile.py headless for a bounded
time (Locust's CSV statistics go to benchmarks/results/locust_*.csv), then wrk on
single-transaction `/predict` requests with the same number of connections for the same
time. Prints percentiles per request type and the two tools side by side, and records them
in benchmarks/results/load.json; asserts nothing.

Locust is a Python client: with one worker process it saturates a core of its own before
the server does, so its requests per second are a floor; its latencies include its own
scheduling. wrk (C, one thread) measures the server.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import results
from benchmarks.serving import free_port, server, wrk

REPO = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def run_locust(host: str, users: int, seconds: int, prefix: Path, rows: Path) -> list[dict]:
    """Locust headless for ``seconds``; its per-request-type rows of the stats CSV."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "FRAUDCTL_LOAD_ROWS": str(rows)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    stats = prefix.with_name(prefix.name + "_stats.csv")
    if not stats.exists():
        raise SystemExit(f"locust wrote no statistics:\n{done.stderr[-2000:]}")
    with stats.open(newline="") as handle:
        return list(csv.DictReader(handle))


def summarise(rows: list[dict]) -> list[dict]:
    table = []
    for row in rows:
        requests = int(row["Request Count"])
        table.append(
            {
                "request": f"{row['Type']} {row['Name']}".strip(),
                "requests": requests,
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50_ms": float(row["50%"] or "nan"),
                "p95_ms": float(row["95%"] or "nan"),
                "p99_ms": float(row["99%"] or "nan"),
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/model")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rows", type=Path, default=REPO / "data/prepared/test.parquet")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 600:
        raise SystemExit("--seconds: between 1 and 600 (load tests are bounded)")
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    results.RESULTS.mkdir(exist_ok=True)
    prefix = results.RESULTS / "locust"
    fraudctl = str(Path(sys.executable).with_name("fraudctl"))  # this environment's
    command = [fraudctl, "serve", "--model", args.model, "--port", str(port)]
    with tempfile.TemporaryDirectory() as scratch:
        # raw-transaction models record history: a scratch store per run
        env = {**os.environ, "FRAUDCTL_ONLINE_STORE": f"sqlite:///{scratch}/online.db"}
        with server(command, f"{host}/health/ready", env):
            locust_rows = summarise(run_locust(host, args.users, args.seconds, prefix, args.rows))
            print(f"Locust, {args.users} users, {args.seconds} s (mix: benchmarks/locustfile.py)")
            print(
                f"{'request':<26}{'requests':>10}{'fail':>6}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}"
            )
            for row in locust_rows:
                print(
                    f"{row['request']:<26}{row['requests']:>10,}{row['failures']:>6}"
                    f"{row['rps']:>9.1f}{row['p50_ms']:>8.1f}{row['p95_ms']:>8.1f}"
                    f"{row['p99_ms']:>8.1f}"
                )
            compared = []
            if shutil.which("wrk"):
                body = _first_body(host, args.rows)
                measured = wrk(f"{host}/predict", body, args.users, args.seconds)
                single = next(r for r in locust_rows if r["request"] == "POST /predict")
                compared = [
                    {"tool": "locust (mix)", "connections": args.users, **_pick(single)},
                    {"tool": "wrk (/predict only)", "connections": args.users, **_pick(measured)},
                ]
                print(f"\n/predict, {args.users} connections, {args.seconds} s each")
                for row in compared:
                    print(
                        f"{row['tool']:<22} {row['rps']:>9.1f} req/s  p50 {row['p50_ms']:.2f} ms"
                        f"  p99 {row['p99_ms']:.2f} ms"
                    )
            else:
                print("\nwrk is not installed (Debian package 'wrk'): no comparison")
    path = results.write(
        "load",
        [{"tool": "locust", **row} for row in locust_rows] + compared,
        targets=f"{args.users} users/connections, {args.seconds} s per tool, 127.0.0.1",
    )
    print(f"\nrecorded in {path.relative_to(REPO)}; Locust's CSVs: {prefix.name}_*.csv")


def _pick(row: dict) -> dict:
    return {"rps": row["rps"], "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"]}


def _first_body(host: str, rows: Path) -> str:
    import urllib.request

    from benchmarks.load_rows import transactions

    with urllib.request.urlopen(f"{host}/model", timeout=30) as response:
        inputs = json.loads(response.read())["inputs"]
    return transactions(inputs, rows, limit=1)[0].decode()


if __name__ == "__main__":
    main()
