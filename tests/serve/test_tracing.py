"""OpenTelemetry: spans reach an OTLP/HTTP collector when configured, and nothing otherwise."""

from __future__ import annotations

import http.server
import threading
from typing import ClassVar

from fastapi.testclient import TestClient

from tests.serve.conftest import transaction, wait_ready


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.received.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_spans_are_exported_over_otlp(model_dir, test_rows, monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings

    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        with TestClient(create_app(ServeSettings(model=str(model_dir)))) as client:
            wait_ready(client)
            client.post("/predict", json=transaction(test_rows, 0))
    finally:
        server.shutdown()
    assert _Collector.received, "no spans were exported"
    path, payload = _Collector.received[-1]
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(payload)
    spans = [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
    routes = {a.value.string_value for s in spans for a in s.attributes if a.key == "http.route"}
    assert "/predict" in routes


def test_tracing_is_off_without_an_endpoint(monkeypatch):
    from fraudctl.serve.telemetry import tracer_from_environment

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracer_from_environment() is None
