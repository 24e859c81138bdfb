"""Serving benchmark: `fraudctl serve` against `mlflow models serve` on the same model.

    python -m benchmarks.serving [--model models/model] [--duration 10] [--soak-seconds 300]
                                 [--reload-seconds 60]

Everything runs on 127.0.0.1 with bounded durations. wrk (Debian package `wrk`) drives
single-transaction requests at 16 and 4 connections; a keep-alive client sends 10,000-row
batches; a soak holds a fixed request rate while sampling the server's resident memory.
Logging, metrics and validation are on, as shipped. A reload run serves the model from a
scratch MLflow registry (models:/bench@champion, polled every 2 s) and moves the alias twice
while wrk runs (target: zero non-2xx). Prints one table and writes
benchmarks/results/serving.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from benchmarks import results as result_files

REPO = Path(__file__).resolve().parents[1]
TARGETS = (
    "one worker, wrk on 127.0.0.1, single transactions with logging, metrics and validation "
    "on; targets: >= 25x mlflow's req/s at 16 connections, p99 <= 2.5 ms at 4 connections, "
    "p99 <= 3.5 ms at 4 connections with a shadow challenger, 0 non-2xx while the alias "
    "moves, batches >= 100,000 rows/s as rows and >= 250,000 as columnar JSON, resident "
    "memory growth < 10 % over the soak"
)
WRK_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [=[{body}]=]
{extra}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 120.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.25)
    raise SystemExit(f"{url} did not come up")


@contextlib.contextmanager
def server(command: list[str], ready_url: str, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(ready_url)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(url: str, body: str, connections: int, seconds: int, extra: str = "") -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_POST.format(body=body, extra=extra))
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    return parse_wrk(out)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {p: _ms(v, u) for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", output)}
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": rps,
        "p50_ms": latency.get("50", float("nan")),
        "p99_ms": latency.get("99", float("nan")),
        "requests": requests,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def batch_throughput(
    host: str,
    port: int,
    body: bytes,
    rows: int,
    seconds: float,
    connections: int = 1,
    content_type: str = "application/json",
) -> float:
    """Rows scored per second of wall time over keep-alive connections, pre-encoded bodies."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()

    def client() -> int:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        scored = 0
        while time.perf_counter() - started < seconds:
            connection.request("POST", "/predict/batch", body, {"content-type": content_type})
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                raise SystemExit(f"batch request failed: {response.status} {payload[:200]!r}")
            scored += rows
        return scored

    with ThreadPoolExecutor(connections) as pool:
        total = sum(pool.map(lambda _: client(), range(connections)))
    return total / (time.perf_counter() - started)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def soak(url: str, body: str, pid: int, seconds: int, rate: int) -> dict[str, float]:
    """Hold about ``rate`` requests/s (4 connections, fixed delay) and watch memory."""
    connections = 4
    delay_ms = max(1, round(connections * 1000 / rate))
    samples: list[float] = []
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_POST.format(body=body, extra=f"function delay() return {delay_ms} end"))
    process = subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        stdout=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    while process.poll() is None:
        samples.append(rss_mib(pid))
        time.sleep(5)
    Path(script.name).unlink()
    result = parse_wrk(process.stdout.read())
    settled = samples[min(len(samples) - 1, 6) :] or samples  # after the first 30 s
    growth = (settled[-1] - settled[0]) / settled[0] if settled else float("nan")
    return {
        **result,
        "seconds": time.monotonic() - started,
        "rss_start_mib": settled[0],
        "rss_end_mib": settled[-1],
        "rss_growth": growth,
    }


ARROW_STREAM = "application/vnd.apache.arrow.stream"


def arrow_stream(frame: pd.DataFrame) -> bytes:
    import io

    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def reload_under_load(
    model: Path, body: str, seconds: int, env: dict[str, str]
) -> dict[str, float]:
    """wrk at 16 connections for ``seconds`` while the champion alias moves twice."""
    import threading

    import mlflow

    with tempfile.TemporaryDirectory(prefix="fraudctl-reload-") as scratch:
        store = f"sqlite:///{Path(scratch) / 'mlflow.db'}"
        client = mlflow.MlflowClient(store, store)
        client.create_registered_model("bench")
        for _ in range(2):
            client.create_model_version("bench", source=model.resolve().as_uri())
        client.set_registered_model_alias("bench", "champion", "1")
        env = {**env, "MLFLOW_TRACKING_URI": store, "FRAUDCTL_POLL_SECONDS": "2"}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with server(
            ["fraudctl", "serve", "--model", "models:/bench@champion", "--port", str(port)],
            f"{base}/health/ready",
            env,
        ):
            wrk(f"{base}/predict", body, 16, 3)  # warm-up

            def move() -> None:
                for version in ("2", "1"):
                    time.sleep(seconds / 3)
                    client.set_registered_model_alias("bench", "champion", version)

            mover = threading.Thread(target=move)
            mover.start()
            result = wrk(f"{base}/predict", body, 16, seconds)
            mover.join()
            with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port)) as conn:
                conn.request("GET", "/metrics")
                metrics = conn.getresponse().read().decode()
        found = re.search(r'fraudctl_model_reloads_total\{result="ok"\} ([0-9.]+)', metrics)
        result["reloads"] = float(found.group(1)) if found else 0.0
        # The same registry with a challenger scored in shadow: the champion's latency.
        client.set_registered_model_alias("bench", "challenger", "2")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with server(
            ["fraudctl", "serve", "--model", "models:/bench@champion", "--port", str(port)],
            f"{base}/health/ready",
            {**env, "FRAUDCTL_SHADOW": "true"},
        ):
            time.sleep(5)  # two polls: the challenger is loaded
            wrk(f"{base}/predict", body, 16, 3)
            result["shadow c16"] = wrk(f"{base}/predict", body, 16, 10)
            result["shadow c4"] = wrk(f"{base}/predict", body, 4, 10)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=REPO / "models" / "model")
    parser.add_argument("--test-split", type=Path, default=REPO / "data/prepared/test.parquet")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--soak-seconds", type=int, default=300)
    parser.add_argument("--soak-rate", type=int, default=500)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--reload-seconds", type=int, default=60)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    if not (args.model / "MLmodel").exists():
        raise SystemExit(f"{args.model}: no model; run `make repro` first")

    from fraudctl.model.bundle import load_model
    from fraudctl.serve.predictor import input_columns

    transform = load_model(args.model).transform
    if transform.needs_history:
        raise SystemExit("a model with history features: use python -m benchmarks.transactions")
    features = input_columns(transform)  # what a request carries
    test = pd.read_parquet(args.test_split)
    row = {name: float(test[name].iloc[0]) for name in features}
    single = json.dumps(row)
    batch_rows = 10_000
    sample = test[features].sample(batch_rows, replace=len(test) < batch_rows, random_state=0)
    batch_body = json.dumps({"transactions": sample.to_dict(orient="records")}).encode()
    columns_body = json.dumps(
        {"columns": list(features), "data": sample.to_numpy().tolist()}
    ).encode()
    arrow_body = arrow_stream(sample.reset_index(drop=True))

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    results: dict[str, dict[str, float]] = {}

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server(
        ["fraudctl", "serve", "--model", str(args.model), "--port", str(port)],
        f"{base}/health/ready",
        env,
    ) as process:
        wrk(f"{base}/predict", single, 16, 3)  # warm-up
        results["fraudctl c16"] = wrk(f"{base}/predict", single, 16, args.duration)
        results["fraudctl c4"] = wrk(f"{base}/predict", single, 4, args.duration)
        batch_throughput("127.0.0.1", port, batch_body, batch_rows, 2)  # warm-up
        batch_rps = {
            f"rows, {c} connection(s)": batch_throughput(
                "127.0.0.1", port, batch_body, batch_rows, args.duration, c
            )
            for c in (1, 2)
        }
        batch_rps["columns JSON, 1 connection"] = batch_throughput(
            "127.0.0.1", port, columns_body, batch_rows, args.duration
        )
        batch_rps["Arrow stream, 1 connection"] = batch_throughput(
            "127.0.0.1", port, arrow_body, batch_rows, args.duration, 1, ARROW_STREAM
        )
        soak_result = (
            soak(f"{base}/predict", single, process.pid, args.soak_seconds, args.soak_rate)
            if args.soak_seconds > 0
            else None
        )

    reload_result = (
        reload_under_load(args.model, single, args.reload_seconds, env)
        if args.reload_seconds > 0
        else None
    )

    if not args.skip_mlflow:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        mlflow_body = json.dumps(
            {
                "dataframe_split": {
                    "columns": transform.raw_columns,
                    "data": [[float(test[c].iloc[0]) for c in transform.raw_columns]],
                }
            }
        )
        with server(
            [
                "mlflow",
                "models",
                "serve",
                "-m",
                str(args.model),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            f"{base}/ping",
            env,
        ):
            wrk(f"{base}/invocations", mlflow_body, 16, 3)
            results["mlflow c16"] = wrk(f"{base}/invocations", mlflow_body, 16, args.duration)
            results["mlflow c4"] = wrk(f"{base}/invocations", mlflow_body, 4, args.duration)

    print(f"{'server':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'non-2xx':>8}")
    for name, r in results.items():
        print(
            f"{name:<14} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['requests']:>9} {r['non_2xx'] + r['socket_errors']:>8}"
        )
    if "mlflow c16" in results:
        ratio = results["fraudctl c16"]["rps"] / results["mlflow c16"]["rps"]
        print(f"fraudctl / mlflow at 16 connections: {ratio:.1f}x (target >= 25x)")
    print(f"p99 at 4 connections: {results['fraudctl c4']['p99_ms']:.2f} ms (target <= 2.5 ms)")
    for form, rate in batch_rps.items():
        target = "250,000" if "connection(s)" not in form else "100,000"
        print(
            f"/predict/batch, {batch_rows:,}-row requests, {form}: "
            f"{rate:,.0f} rows/s (target >= {target})"
        )
    if reload_result:
        print(
            f"reload: {args.reload_seconds} s at 16 connections, alias moved twice: "
            f"{reload_result['reloads']:.0f} reloads, {reload_result['requests']} requests, "
            f"{reload_result['non_2xx'] + reload_result['socket_errors']} non-2xx or errors "
            f"(target 0), {reload_result['rps']:.0f} req/s, p99 {reload_result['p99_ms']:.2f} ms"
        )
        for name in ("shadow c16", "shadow c4"):
            r = reload_result[name]
            print(
                f"{name} (challenger in shadow): {r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
                f"p99 {r['p99_ms']:.2f} ms (target at c4: p99 <= 3.5 ms)"
            )
    if soak_result:
        print(
            f"soak {soak_result['seconds']:.0f} s at {soak_result['rps']:.0f} req/s: "
            f"{soak_result['requests']} requests, "
            f"{soak_result['non_2xx'] + soak_result['socket_errors']} errors, RSS "
            f"{soak_result['rss_start_mib']:.1f} -> {soak_result['rss_end_mib']:.1f} MiB "
            f"({soak_result['rss_growth']:+.1%}; target < +10%), p99 {soak_result['p99_ms']:.2f} ms"
        )
    rows = records(results, batch_rps, reload_result, soak_result, args.reload_seconds)
    print(f"results: {result_files.write('serving', rows, TARGETS)}")


def records(
    results: dict[str, dict[str, float]],
    batch_rps: dict[str, float],
    reload_result: dict | None,
    soak_result: dict | None,
    reload_seconds: int,
) -> list[dict[str, object]]:
    """The run as rows of the result file, one ``part`` per kind of measurement."""

    def latency(r: dict[str, float]) -> dict[str, float]:
        return {
            "rps": r["rps"],
            "p50_ms": r["p50_ms"],
            "p99_ms": r["p99_ms"],
            "requests": r["requests"],
            "errors": r["non_2xx"] + r["socket_errors"],
        }

    servers = {"fraudctl": "fraudctl serve", "mlflow": "mlflow models serve"}
    rows: list[dict[str, object]] = []
    for name, r in results.items():
        server, connections = name.split(" c")
        rows.append(
            {"part": "single", "server": servers[server], "connections": int(connections)}
            | latency(r)
        )
    for form, rate in batch_rps.items():
        body, _, connections = form.partition(", ")
        rows.append(
            {
                "part": "batch",
                "form": {"rows": "rows of objects"}.get(body, body),
                "connections": int(connections.split()[0]),
                "rows_per_s": rate,
            }
        )
    if reload_result:
        rows.append(
            {"part": "reload", "seconds": reload_seconds, "reloads": reload_result["reloads"]}
            | latency(reload_result)
        )
        for name in ("shadow c16", "shadow c4"):
            rows.append(
                {"part": "shadow", "connections": int(name.split(" c")[1])}
                | latency(reload_result[name])
            )
    if soak_result:
        rows.append(
            {
                "part": "soak",
                "seconds": soak_result["seconds"],
                "rss_start_mib": soak_result["rss_start_mib"],
                "rss_end_mib": soak_result["rss_end_mib"],
                "rss_growth": soak_result["rss_growth"],
            }
            | latency(soak_result)
        )
    return rows


if __name__ == "__main__":
    main()
