"""The service's log lines: JSON on standard output, and the request log, one structured
record per request written off the request path.

An audit needs every request's record (route, status, latency, model version, decision),
but writing it inline cost about a quarter of a single transaction's time: the logging
module's record, a JSON encoder, a handler lock and a write and flush per request. Here the
request path only renders the record with orjson (a few microseconds) and appends it to a
bounded queue; a writer thread joins what has gathered and writes it in one call every
``FRAUDCTL_LOG_FLUSH_SECONDS`` (0.05 s), outside the GIL for the write itself.

Nothing is lost without a word: a full queue (stdout blocked for long) drops the record and
counts it in ``fraudctl_request_log_dropped_total``; closing (the app's shutdown) writes
everything still queued. ``FRAUDCTL_LOG_SAMPLE`` below 1 keeps only that share of answered
requests (4xx and 5xx are always written); every request is counted in the metrics either
way. The lines go to standard output in Cloud Logging's structured shape, under the same
lock as the service's other log lines, so two lines never interleave.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import random
import select
import sys
import threading
import time
from typing import Any

import orjson

# Held while a line, or a batch of lines, is written to standard output.
STDOUT_LOCK = threading.RLock()
QUEUE_RECORDS = 100_000  # about 40 MB of records: 20 s of traffic at 5,000 requests/s
LOGGER = "fraudctl.serve"


class RequestLog:
    """A bounded queue of rendered records and the thread that writes them."""

    def __init__(
        self,
        dropped: Any,
        sample: float = 1.0,
        capacity: int = QUEUE_RECORDS,
        interval: float = 0.05,
    ) -> None:
        self.dropped = dropped  # a Prometheus counter
        self.sample = sample
        self.capacity = capacity
        self.interval = interval  # how long a record may wait: ~250 lines at 5,000 requests/s
        self._pending: collections.deque[bytes] = collections.deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._clock: tuple[int, str] = (-1, "")
        self._failed = False

    def wanted(self, status: int) -> bool:
        """Whether this request's record is kept (FRAUDCTL_LOG_SAMPLE)."""
        return status >= 400 or self.sample >= 1.0 or random.random() < self.sample

    def record(self, severity: str, message: str, fields: dict[str, Any]) -> None:
        """Queue one record; never blocks, and leaves the writing to the writer thread."""
        entry = {
            "severity": severity,
            "message": message,
            "time": self._timestamp(time.time()),
            "logger": LOGGER,
            **fields,
        }
        if len(self._pending) >= self.capacity:
            self.dropped.inc()
            return
        self._pending.append(orjson.dumps(entry, default=str))
        if self._closed:  # after shutdown (a test client without its lifespan): at once
            self.flush()
        elif len(self._pending) == 1:  # the queue was empty: the writer may be asleep
            if self._thread is None:
                self.start()
            self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
            self._thread.start()

    def flush(self) -> int:
        """Write every queued record now; returns how many."""
        lines = []
        pending = self._pending
        with STDOUT_LOCK:
            while pending:
                lines.append(pending.popleft())
            if not lines:
                return 0
            try:
                write_lines(sys.stdout, lines)  # whatever stdout is now: redirection works
            except Exception:
                self.dropped.inc(len(lines))
                raise
        return len(lines)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer and write what is left (the app's shutdown)."""
        self._closed = True
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            # The timeout is a safety net only: a record on an empty queue sets the event.
            self._wake.wait(timeout=1.0)
            self._closing.wait(self.interval)  # let a batch gather: one write for many lines
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # stdout closed or broken: counted as dropped; say so once
                if not self._failed:
                    self._failed = True
                    print(f"request log: write failed: {exc}", file=sys.stderr)

    def _timestamp(self, now: float) -> str:
        """``2026-04-01T13:45:00.123Z`` (UTC); the part up to the second is cached."""
        second = int(now)
        if second != self._clock[0]:
            self._clock = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._clock[1]}.{int((now - second) * 1000):03d}Z"


def write_lines(stream: Any, lines: list[bytes]) -> None:
    """Lines to ``stream``, in writes of whole lines of at most PIPE_BUF bytes each: the
    workers of one server share its standard output, usually a pipe, and the kernel keeps
    a pipe write that small in one piece, so no line of one worker is cut by another's.
    A stream without a file descriptor (a test's capture) takes the lines in one write."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        stream.write(b"".join(line + b"\n" for line in lines).decode())
        stream.flush()
        return
    stream.flush()  # the text layer's own lines first
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) + 1 > select.PIPE_BUF:
            _write_all(fd, b"".join(chunk))
            chunk, size = [], 0
        chunk.append(line + b"\n")
        size += len(line) + 1
    _write_all(fd, b"".join(chunk))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class JsonFormatter(logging.Formatter):
    """One JSON object per line, in Cloud Logging's structured-logging shape."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time, so redirection keeps working, under
    the lock the request log writes with (lines never interleave)."""

    def createLock(self) -> None:
        self.lock = STDOUT_LOCK

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> logging.Logger:
    """JSON lines on stdout for fraudctl's and uvicorn's loggers (access log off: we log)."""
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("fraudctl", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
    logging.Formatter.converter = time.gmtime
    return logging.getLogger("fraudctl.serve")
