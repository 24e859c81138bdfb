"""Operating the service: one JSON record per request, Prometheus metrics, optional tracing.

All three live in one pure-ASGI middleware (no BaseHTTPMiddleware: it costs a task per
request). Records use the field names Google Cloud Logging reads (``severity``,
``message``, ``httpRequest``), never contain transaction features, and are written off the
request path (:mod:`fraudctl.serve.logs`). Tracing is off, with no OpenTelemetry
import at all, unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fraudctl.serve.logs import RequestLog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROBABILITY_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99)
BATCH_BUCKETS = (1, 10, 100, 500, 1000, 2500, 5000, 10000)
# one transaction through one model: tens of microseconds (compiled trees) to milliseconds
SCORING_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)


LARGE_DIFFERENCE = 0.1


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        if multiprocess:
            from prometheus_client import multiprocess as mp

            mp.MultiProcessCollector(self.registry)
        # In multiprocess mode the collector above reads every worker's files.
        owned = None if multiprocess else self.registry
        self.requests = Counter(
            "fraudctl_http_requests_total",
            "HTTP requests by route, status.",
            ["method", "route", "status"],
            registry=owned,
        )
        self.latency = Histogram(
            "fraudctl_http_request_duration_seconds",
            "Request latency by route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=owned,
        )
        self.predictions = Counter(
            "fraudctl_predictions_total",
            "Scored transactions by decision.",
            ["decision"],
            registry=owned,
        )
        self.probability = Histogram(
            "fraudctl_fraud_probability",
            "Predicted fraud probabilities.",
            buckets=PROBABILITY_BUCKETS,
            registry=owned,
        )
        self.batch_size = Histogram(
            "fraudctl_batch_size",
            "Transactions per batch request.",
            buckets=BATCH_BUCKETS,
            registry=owned,
        )
        self.model_info = Gauge(
            "fraudctl_model_info",
            "The served model (value is always 1).",
            ["name", "version", "alias", "kind"],
            registry=owned,
            multiprocess_mode="max",
        )
        self.threshold = Gauge(
            "fraudctl_decision_threshold",
            "The current decision threshold.",
            registry=owned,
            multiprocess_mode="max",
        )
        self.ready = Gauge(
            "fraudctl_model_ready",
            "1 once the model is loaded.",
            registry=owned,
            multiprocess_mode="max",
        )
        self.model_reloads = Counter(
            "fraudctl_model_reloads_total",
            "Registry alias moves acted on, by result (ok, or failed: the old model serves on).",
            ["result"],
            registry=owned,
        )
        self.registry_polls_failed = Counter(
            "fraudctl_registry_polls_failed_total",
            "Registry look-ups that failed (the served model is unchanged).",
            registry=owned,
        )
        for result in ("ok", "failed"):
            self.model_reloads.labels(result)
        self.shadow_decisions = Counter(
            "fraudctl_shadow_decisions_total",
            "Transactions scored by both champion and challenger, by whether decisions agree.",
            ["agreement"],
            registry=owned,
        )
        self.shadow_alerts = Counter(
            "fraudctl_shadow_alerts_total",
            "Transactions each model would flag, in shadow scoring.",
            ["model"],
            registry=owned,
        )
        # Sums, not a histogram: a 10,000-row batch is one increment, not 10,000 observations.
        self.shadow_difference = Counter(
            "fraudctl_shadow_score_difference",
            "Sum of |challenger - champion| probabilities (divide by compared decisions).",
            registry=owned,
        )
        self.shadow_large_differences = Counter(
            "fraudctl_shadow_large_differences",
            f"Transactions whose two probabilities differ by more than {LARGE_DIFFERENCE}.",
            registry=owned,
        )
        self.shadow_dropped = Counter(
            "fraudctl_shadow_dropped_total",
            "Transactions not shadow-scored because the shadow queue was full.",
            registry=owned,
        )
        self.shadow_version = Gauge(
            "fraudctl_shadow_model_info",
            "The challenger scored in shadow (value is always 1).",
            ["version"],
            registry=owned,
            multiprocess_mode="max",
        )
        # Canary releases (FRAUDCTL_CANARY): single transactions by the model that answered.
        self.variant_predictions = Counter(
            "fraudctl_variant_predictions_total",
            "Single transactions answered with a canary running, by variant (champion or "
            "canary), model version and decision.",
            ["variant", "version", "decision"],
            registry=owned,
        )
        self.variant_seconds = Histogram(
            "fraudctl_variant_scoring_seconds",
            "Time to score one transaction, by variant (model time, not HTTP time).",
            ["variant"],
            buckets=SCORING_BUCKETS,
            registry=owned,
        )
        self.canary_decisions = Counter(
            "fraudctl_canary_decisions_total",
            "Canary transactions, by whether the champion would have decided the same.",
            ["agreement"],
            registry=owned,
        )
        self.canary_errors = Counter(
            "fraudctl_canary_errors_total",
            "Canary transactions the challenger failed to score (the champion answered).",
            registry=owned,
        )
        self.alerts_queued = Counter(
            "fraudctl_alerts_queued_total",
            "Alerts added to the analysts' queue (a rule's or the model's review or block).",
            registry=owned,
        )
        self.alerts_dropped = Counter(
            "fraudctl_alerts_dropped_total",
            "Alerts not queued: the writer's queue was full or the alert store failed.",
            registry=owned,
        )
        self.request_log_dropped = Counter(
            "fraudctl_request_log_dropped_total",
            "Request log records not written: the queue was full (standard output blocked) "
            "or the write failed.",
            registry=owned,
        )
        # (method, route, status) -> (request counter, latency histogram); bounded: routes
        # are templates and statuses few
        self._request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # Pre-create the decision series so rate() works from the first scrape.
        self.fraud_count = self.predictions.labels("fraud")
        self.legit_count = self.predictions.labels("legit")

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and observe its latency. The labelled series are kept by
        their labels: ``labels()`` takes a lock and builds a key on every call."""
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            series = self._request_series[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        series[0].inc()
        series[1].observe(seconds)

    def record_variant(self, variant: str, version: str, fraud: bool, seconds: float) -> None:
        """Count one canary-routed answer and how long its model took."""
        self.variant_predictions.labels(variant, version, "fraud" if fraud else "legit").inc()
        self.variant_seconds.labels(variant).observe(seconds)

    def record_scores(self, probabilities: Any, flagged: int) -> None:
        """Count decisions and observe probabilities for one request's scores."""
        self.fraud_count.inc(flagged)
        self.legit_count.inc(len(probabilities) - flagged)
        observe_all(self.probability, probabilities)


def observe_all(histogram: Any, values: Any) -> None:
    """``Histogram.observe`` for a whole array: one increment per bucket rather than one
    locked increment per value (10,000 one by one took 15 ms of a batch request).

    It writes prometheus_client's own bucket and sum values, as ``observe`` does (bucket i
    counts the values in (bound[i-1], bound[i]]); a version without them gets the loop.
    """
    import numpy as np

    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if (
        len(values) < 32  # a single request: the plain loop is cheaper than numpy's set-up
        or bounds is None
        or buckets is None
        or total is None
        or len(bounds) != len(buckets)
    ):
        for value in values:
            histogram.observe(value)
        return
    array = np.asarray(values, dtype=np.float64)
    counts = np.bincount(np.searchsorted(bounds, array, side="left"), minlength=len(bounds))
    for bucket, count in zip(buckets, counts.tolist(), strict=False):
        if count:
            bucket.inc(count)
    total.inc(float(array.sum()))


def tracer_from_environment() -> tuple[Any, Any] | None:
    """An OpenTelemetry (tracer, provider) exporting over OTLP/HTTP, or None when not set up.

    The standard OTEL_* variables (endpoint, headers, service name) configure the exporter.
    """
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME", "fraudctl")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer("fraudctl.serve"), provider


class TelemetryMiddleware:
    """Times every HTTP request, counts it, records it and (optionally) traces it."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        logger: logging.Logger,
        request_log: RequestLog,
        tracer: Any | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.logger = logger
        self.request_log = request_log
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        state = scope.setdefault("state", {})

        async def send_and_capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        span = None
        if self.tracer is not None:
            span = self.tracer.start_span(
                f"{scope['method']} {scope['path']}",
                attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
            )
        try:
            await self.app(scope, receive, send_and_capture)
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(scope)
            method = scope["method"]
            self.metrics.record_request(method, route, status, elapsed)
            trace: dict[str, str] = {}
            if span is not None:
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                context = span.get_span_context()
                trace["logging.googleapis.com/trace"] = f"{context.trace_id:032x}"
                trace["logging.googleapis.com/spanId"] = f"{context.span_id:016x}"
                span.end()
            level = logging.ERROR if status >= 500 else logging.INFO
            if (
                route not in QUIET_ROUTES
                and self.logger.isEnabledFor(level)
                and self.request_log.wanted(status)
            ):
                fields: dict[str, Any] = {
                    "httpRequest": {
                        "requestMethod": method,
                        "requestUrl": route,
                        "status": status,
                        "latency": f"{elapsed:.6f}s",
                    },
                    "route": route,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                }
                fields.update(state.get("log_fields", {}))
                fields.update(trace)
                severity = "ERROR" if level == logging.ERROR else "INFO"
                self.request_log.record(severity, f"{method} {route} {status}", fields)


# Routes Starlette serves without a FastAPI route object in the scope (the documentation
# pages, the schema, static assets): labelled by their fixed path, never by the raw URL.
STATIC_ROUTES = ("/docs-assets", "/docs/oauth2-redirect", "/docs", "/redoc", "/openapi.json")


def route_label(scope: Scope) -> str:
    """The route template a request matched, for metrics and logs (bounded cardinality)."""
    route = getattr(scope.get("route"), "path", None)
    if route:
        return route
    path = scope.get("path", "")
    for known in STATIC_ROUTES:
        if path == known or path.startswith(f"{known}/"):
            return known
    return "unmatched"


# Probes and scrapes would drown the request log; they are still counted in metrics.
QUIET_ROUTES = frozenset({"/health/live", "/health/ready", "/metrics"})
