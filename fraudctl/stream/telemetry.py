"""Operating the consumer: Prometheus metrics and health probes on one small HTTP port.

``/metrics`` is Prometheus's text format; ``/health/live`` answers 200 while the loop goes
round (a read, a batch, or a wait between attempts to reach Redis) and 503 when it has
been stuck longer than :data:`STUCK_SECONDS`; ``/health/ready`` answers 200 once the model
is loaded and the broker answered. The batch log lines are JSON, as the API's are
(:func:`fraudctl.serve.logs.configure_logging`).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from fraudctl.stream.decision import DECISIONS

BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0)
STUCK_SECONDS = 120.0  # a loop round takes at most a block, a batch or a backoff wait


class StreamMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.consumed = Counter(
            "fraudctl_stream_messages_total",
            "Messages read, by input stream.",
            ["stream"],
            registry=registry,
        )
        self.decided = Counter(
            "fraudctl_stream_decisions_total",
            "Decisions appended to the decisions stream, by decision.",
            ["decision"],
            registry=registry,
        )
        for decision in DECISIONS:
            self.decided.labels(decision)
        self.duplicates = Counter(
            "fraudctl_stream_duplicates_total",
            "Transactions read again that already had a decision (none was written).",
            registry=registry,
        )
        self.alerts = Counter("fraudctl_stream_alerts_total", "Alerts queued.", registry=registry)
        self.labels = Counter(
            "fraudctl_stream_labels_total",
            "Labels recorded in the online store.",
            registry=registry,
        )
        self.dead_lettered = Counter(
            "fraudctl_stream_dead_letters_total",
            "Messages moved to the dead-letter stream, by input stream.",
            ["stream"],
            registry=registry,
        )
        self.claimed = Counter(
            "fraudctl_stream_claimed_total",
            "Messages taken over from a consumer that left them pending.",
            registry=registry,
        )
        self.pending = Gauge(
            "fraudctl_stream_pending",
            "Messages delivered to the group and not acknowledged, by input stream.",
            ["stream"],
            registry=registry,
        )
        self.lag = Gauge(
            "fraudctl_stream_lag",
            "Messages in the stream not yet delivered to the group, by input stream.",
            ["stream"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "fraudctl_stream_batch_seconds",
            "Time to handle one micro-batch, read to acknowledgement.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "fraudctl_stream_batch_size",
            "Messages per micro-batch.",
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.event_to_decision = Histogram(
            "fraudctl_stream_event_to_decision_seconds",
            "From the transaction's append to its decision's, in the broker's clock.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.broker_up = Gauge(
            "fraudctl_stream_broker_up", "1 while the broker answers.", registry=registry
        )
        self.outages = Counter(
            "fraudctl_stream_broker_outages_total",
            "Times the broker stopped answering (each followed by retries with backoff).",
            registry=registry,
        )
        self.model_info = Gauge(
            "fraudctl_stream_model_info",
            "The model deciding (value is always 1).",
            ["name", "version", "kind"],
            registry=registry,
        )
        self.threshold = Gauge(
            "fraudctl_stream_decision_threshold", "The decision threshold.", registry=registry
        )


class Health:
    """What the probes read: the loop's last heartbeat and whether it is ready."""

    def __init__(self) -> None:
        self.beat = time.monotonic()
        self.ready = False

    def tick(self) -> None:
        self.beat = time.monotonic()

    @property
    def live(self) -> bool:
        return time.monotonic() - self.beat < STUCK_SECONDS


def serve_probes(host: str, port: int, metrics: StreamMetrics, health: Health) -> Any:
    """Start /metrics and the probes in a daemon thread; returns the server (shutdown())."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the http.server protocol's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif path == "/health/live":
                self._status(health.live, b"alive", b"stuck")
            elif path == "/health/ready":
                self._status(health.ready, b"ready", b"not ready")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _status(self, ok: bool, yes: bytes, no: bytes) -> None:
            self._send(200 if ok else 503, (yes if ok else no) + b"\n", "text/plain")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="stream-probes", daemon=True).start()
    return server
