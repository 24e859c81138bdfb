"""Starting the consumer: model first (one clear line when it cannot load), then the broker,
the probes, and the loop until SIGTERM, SIGINT or the idle limit."""

from __future__ import annotations

import signal
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fraudctl.errors import ArtifactError, ConfigError
from fraudctl.stream.settings import StreamSettings


def redacted(uri: str) -> str:
    """The URI without its password, for log lines."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


def run_stream(settings: StreamSettings, console: Any, stop: threading.Event | None = None) -> Any:
    from fraudctl.serve.predictor import limit_math_threads, load_predictor

    limit_math_threads()
    from fraudctl.alerts.store import alert_store_uri
    from fraudctl.serve.logs import configure_logging
    from fraudctl.stream.consumer import StreamConsumer
    from fraudctl.stream.loop import ConsumerLoop, LoopSettings
    from fraudctl.stream.queue_alerts import AlertSinks, QueueAlerts
    from fraudctl.stream.redis_streams import NoAlerts, RedisStreamAlerts, RedisStreams
    from fraudctl.stream.telemetry import Health, StreamMetrics, serve_probes

    configure_logging(settings.log_level)
    import logging

    logger = logging.getLogger("fraudctl.stream")
    predictor = load_predictor(settings.model, settings.tracking_uri, settings.online_store)
    import gc

    # As the API does: the model, numba and pandas leave a large heap that never dies; the
    # cyclic collector walking it again and again shows up as slow batches.
    gc.collect()
    gc.freeze()
    history = predictor.model.transform.needs_history
    inputs = [settings.transactions] + ([settings.labels] if settings.labels and history else [])
    consumer_name = settings.consumer_name
    transport = RedisStreams(
        settings.broker,
        inputs,
        settings.group,
        consumer_name,
        settings.decisions,
        settings.dead_letters,
        settings.block_ms,
    )
    try:
        transport.client.ping()
    except transport.unavailable as exc:
        # at start-up an unreachable broker is a setting to fix, not an outage to ride out
        raise ArtifactError(f"broker {redacted(settings.broker)}: {exc}") from None
    sinks: list[Any] = []
    if settings.alerts:
        sinks.append(RedisStreamAlerts(transport.client, settings.alerts))
    queue_uri = alert_store_uri(settings.alert_store, settings.online_store)
    if queue_uri is not None:
        sinks.append(QueueAlerts(queue_uri, predictor.model))
    alerts = AlertSinks(sinks) if sinks else NoAlerts()
    metrics, health = StreamMetrics(), Health()
    metrics.model_info.labels(predictor.name, predictor.version, predictor.kind).set(1)
    metrics.threshold.set(predictor.threshold)
    probes = None
    if settings.metrics_port:
        try:
            probes = serve_probes(settings.metrics_host, settings.metrics_port, metrics, health)
        except OSError as exc:
            raise ConfigError(
                f"stream: metrics port {settings.metrics_port} on {settings.metrics_host} "
                f"cannot be bound ({exc.strerror}); pick another with --metrics-port"
            ) from None
    consumer = StreamConsumer(
        predictor,
        transport,
        alerts,
        transactions=settings.transactions,
        consumer=consumer_name,
        max_deliveries=settings.max_deliveries,
        metrics=metrics,
        logger=logger,
    )
    loop = ConsumerLoop(
        consumer,
        transport,
        LoopSettings(
            batch_size=settings.batch_size,
            block_ms=settings.block_ms,
            claim_idle_ms=settings.claim_idle_ms,
            retry_max_seconds=settings.retry_max_seconds,
            exit_when_idle=settings.exit_when_idle,
            broker=redacted(settings.broker),
        ),
        metrics,
        health,
        logger,
    )
    stop = stop or threading.Event()
    previous = _on_signals(stop)
    where = (
        f"; metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics"
        if probes
        else ""
    )
    labels = f" and {settings.labels}" if len(inputs) > 1 else ""
    console.print(
        f"{consumer_name} in group {settings.group}: {settings.transactions}{labels} -> "
        f"{settings.decisions} with {predictor.name} v{predictor.version} ({predictor.kind}, "
        f"threshold {predictor.threshold:.4f}){where}"
    )
    try:
        return loop.run(stop)
    finally:
        _restore(previous)
        if probes is not None:
            probes.shutdown()


def _on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM (Kubernetes) and SIGINT finish the batch in hand, then stop."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for number in (signal.SIGTERM, signal.SIGINT):
        previous[number] = signal.signal(number, lambda *_: stop.set())
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)
