"""`fraudctl serve` beside MLServer on the same 500-tree LightGBM model, A/B alternated.

    python -m benchmarks.serving_peers [--duration 10] [--rounds 3] [--model DIR]
                                       [--mlserver .venv-mlserver/bin/mlserver]  (make bench-peers)

Without ``--model`` a model is trained once with the project's own commands (`fraudctl data`,
`features build`, `train`) on generated ULB-shaped data and params.yaml's LightGBM block
(500 trees), in build/serving-peers/, and reused by later runs. MLServer 1.7 with its
LightGBM runtime (its own virtualenv: `make .venv-mlserver/.installed`) serves that model's
own LightGBM text file through the V2 inference protocol; both answers are checked to be
the same probability before anything is timed.

Both servers run at once, one process each (MLServer with ``parallel_workers: 0``, its
inference in the server process; OMP_NUM_THREADS=1 for both, as fraudctl sets it), with
their request logs on and written to a file: fraudctl's JSON record per request, MLServer's
access log. wrk (one thread) sends single-row POSTs at 16 connections (throughput) and at 4
(latency), the two servers taking turns run by run, the first one alternating by round.
Each row is the median over the rounds, beside each round's value, and the server process's
CPU time per request (from /proc: what a busy machine's timings cannot hide); the load
average before and after says how quiet the machine was. Writes
benchmarks/results/serving_peers.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from benchmarks import results
from benchmarks.serving import free_port, wait_for, wrk

REPO = Path(__file__).resolve().parents[1]
WORKDIR = REPO / "build" / "serving-peers"
TARGETS = (
    "fraudctl >= 3.5x MLServer's requests/s at 16 connections; fraudctl p99 <= 1.5 ms at 4 "
    "connections; request logs on, one process each, 500-tree LightGBM, A/B alternated"
)
ROWS = 60_000  # generated transactions: enough for 500 trees of 15 leaves to be grown


def train_model(workdir: Path) -> Path:
    """A model from params.yaml's defaults (LightGBM, 500 trees) on generated data."""
    model = workdir / "models" / "model"
    if (model / "MLmodel").exists():
        return model
    workdir.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["synthetic"].update({"n_rows": ROWS, "fraud_rate": 0.01})
    params["selection"].update({"folds": 0, "budget": None})  # one fit: the model, not its CV
    params["emissions"]["enabled"] = False
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    for command in (["data"], ["features", "build"], ["train"]):
        print(f"training the benchmark's model: fraudctl {' '.join(command)}", flush=True)
        subprocess.run(["fraudctl", *command], cwd=workdir, env=env, check=True)
    return model


def booster_file(model: Path) -> Path:
    found = sorted(model.rglob("*.lgb.txt"))
    if not found:
        raise SystemExit(f"{model}: no LightGBM text model inside (a LightGBM model is needed)")
    return found[0]


def tree_count(path: Path) -> int:
    return len(re.findall(r"^Tree=", path.read_text(), re.MULTILINE))


@contextlib.contextmanager
def process(command: list[str], ready: str, log: Path, env: dict[str, str], cwd: Path):
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            wait_for(ready)
            yield server
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def mlserver_repository(directory: Path, booster: Path, port: int) -> None:
    """MLServer's model repository: its settings and one model of its LightGBM runtime."""
    (directory / "fraud").mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
    }
    (directory / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": "fraud",
        "implementation": "mlserver_lightgbm.LightGBMModel",
        "parameters": {"uri": str(booster)},
    }
    (directory / "fraud" / "model-settings.json").write_text(json.dumps(model))


def example_row(model: Path, columns: list[str]) -> dict[str, float]:
    """The model's own input example (a row of its training data), in request form."""
    example = json.loads((model / "input_example.json").read_text())
    values = dict(zip(example["columns"], example["data"][0], strict=True))
    return {column: float(values[column]) for column in columns}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(url: str, body: str) -> Any:
    request = urllib.request.Request(
        url, body.encode(), {"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def version_of(python: Path, module: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="a LightGBM model directory (else trained)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--mlserver", type=Path, default=REPO / ".venv-mlserver" / "bin" / "mlserver"
    )
    parser.add_argument("--name", default="serving_peers", help="the result file's name")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    if not args.mlserver.exists():
        raise SystemExit(f"{args.mlserver}: no MLServer; make .venv-mlserver/.installed")

    model = args.model or train_model(WORKDIR)
    booster = booster_file(model)
    trees = tree_count(booster)
    from fraudctl import __version__
    from fraudctl.model.bundle import load_model
    from fraudctl.serve.predictor import input_columns

    transform = load_model(model).transform
    if transform.needs_history:
        raise SystemExit("a model with history features: MLServer cannot compute them")
    columns = input_columns(transform)
    row = example_row(model, columns)
    fraudctl_body = json.dumps(row)
    mlserver_body = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, len(columns)],
                    "datatype": "FP64",
                    "data": [row[c] for c in columns],
                }
            ]
        }
    )
    scratch = WORKDIR / "run"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    fraudctl_port, mlserver_port = free_port(), free_port()
    mlserver_repository(scratch / "mlserver", booster, mlserver_port)
    urls = {
        "fraudctl": f"http://127.0.0.1:{fraudctl_port}/predict",
        "mlserver": f"http://127.0.0.1:{mlserver_port}/v2/models/fraud/infer",
    }
    bodies = {"fraudctl": fraudctl_body, "mlserver": mlserver_body}
    load_before = os.getloadavg()
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    with (
        process(
            ["fraudctl", "serve", "--model", str(model.resolve()), "--port", str(fraudctl_port)],
            f"http://127.0.0.1:{fraudctl_port}/health/ready",
            scratch / "fraudctl.log",
            env,
            scratch,
        ) as fraudctl_server,
        process(
            [str(args.mlserver), "start", str(scratch / "mlserver")],
            f"http://127.0.0.1:{mlserver_port}/v2/models/fraud/ready",
            scratch / "mlserver.log",
            env,
            scratch,
        ) as mlserver_server,
    ):
        pids = {"fraudctl": fraudctl_server.pid, "mlserver": mlserver_server.pid}
        ours = post(urls["fraudctl"], fraudctl_body)["probability"]
        theirs = post(urls["mlserver"], mlserver_body)["outputs"][0]["data"][0]
        if abs(ours - theirs) > 1e-9:
            raise SystemExit(f"the two servers disagree: {ours} against {theirs}")
        warm_up = {name: wrk(urls[name], bodies[name], 16, 3)["requests"] for name in urls}
        for round_ in range(args.rounds):
            order = list(urls) if round_ % 2 == 0 else list(reversed(urls))
            for connections in (16, 4):
                for name in order:
                    cpu = cpu_seconds(pids[name])
                    result = wrk(urls[name], bodies[name], connections, args.duration)
                    # CPU per request: what a busy machine's timings cannot hide
                    spent = cpu_seconds(pids[name]) - cpu
                    result["cpu_us"] = spent / max(result["requests"], 1) * 1e6
                    runs.setdefault((name, connections), []).append(result)
                    print(
                        f"round {round_ + 1}: {name:<9} c{connections:<3} {result['rps']:>8.0f}"
                        f" req/s  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
                        f"  {result['cpu_us']:.0f} µs CPU/request",
                        flush=True,
                    )
    load_after = os.getloadavg()
    logged = sum(1 for line in (scratch / "fraudctl.log").open() if '"httpRequest"' in line)
    # every answer wrk counted, warm-up and the first check included (a request still in
    # flight when a run ends is answered and logged, but not counted by wrk)
    sent = 1 + warm_up["fraudctl"]
    sent += sum(r["requests"] for (name, _), rs in runs.items() if name == "fraudctl" for r in rs)

    def median(name: str, connections: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[(name, connections)])

    ratio = median("fraudctl", 16, "rps") / median("mlserver", 16, "rps")
    versions = {
        "fraudctl": f"fraudctl {__version__}",
        "mlserver": f"MLServer {version_of(args.mlserver.parent / 'python', 'mlserver')} "
        f"+ mlserver-lightgbm",
    }
    rows = []
    for (name, connections), results_ in runs.items():
        theirs = name == "mlserver"
        row_: dict[str, Any] = {
            "server": versions[name],
            "connections": connections,
            "rps": median(name, connections, "rps"),
            "p50_ms": median(name, connections, "p50_ms"),
            "p99_ms": median(name, connections, "p99_ms"),
            "cpu_us_per_request": median(name, connections, "cpu_us"),
            # fraudctl's requests/s over MLServer's, and MLServer's CPU per request over ours
            "ratio_to_mlserver": None
            if theirs
            else median(name, connections, "rps") / median("mlserver", connections, "rps"),
            "cpu_ratio": None
            if theirs
            else median("mlserver", connections, "cpu_us") / median(name, connections, "cpu_us"),
            "rps_runs": [round(r["rps"]) for r in results_],
            "p99_runs": [r["p99_ms"] for r in results_],
            "errors": sum(r["non_2xx"] + r["socket_errors"] for r in results_),
        }
        rows.append(row_)
    setup = (
        f"; measured: {trees} trees, {args.rounds} rounds of {args.duration} s, "
        f"{logged:,} fraudctl request records for {sent:,} requests wrk counted, load average "
        f"{load_before[0]:.1f} before and {load_after[0]:.1f} after on {os.cpu_count()} cores"
    )
    print(f"\n{trees}-tree LightGBM, {args.rounds} rounds of {args.duration} s, medians:")
    print(
        f"{'server':<34} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU µs/req':>10}  runs (req/s)"
    )
    for row_ in rows:
        print(
            f"{row_['server']:<34} {row_['connections']:>5} {row_['rps']:>9.0f} "
            f"{row_['p50_ms']:>8.2f} {row_['p99_ms']:>8.2f} "
            f"{row_['cpu_us_per_request']:>10.0f}  {row_['rps_runs']}"
        )
    p99 = median("fraudctl", 4, "p99_ms")
    cpu_ratio = median("mlserver", 16, "cpu_us") / median("fraudctl", 16, "cpu_us")
    print(f"fraudctl / MLServer at 16 connections: {ratio:.2f}x (target >= 3.5x)")
    print(f"MLServer's CPU per request / fraudctl's at 16 connections: {cpu_ratio:.2f}x")
    print(f"fraudctl p99 at 4 connections: {p99:.2f} ms (target <= 1.5 ms)")
    print(f"fraudctl request records written: {logged:,} for {sent:,} answers wrk counted")
    print(
        f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print(f"-> {results.write(args.name, rows, TARGETS + setup)}")


if __name__ == "__main__":
    main()
