"""Headless Chromium over the DevTools protocol: load a page, wait for text, act, screenshot.

Shared by the UI's end-to-end tests and its benchmark. Streamlit renders over a websocket
after the page's load event, so ``--dump-dom`` and ``--screenshot`` return an empty shell;
this drives the browser until the text a user would read is on the page, and clicks and
types as a user does (trusted input events, which React's inputs accept).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """One headless Chromium with one tab, as a context manager."""

    def __init__(self, chromium: str, width: int = 1400, height: int = 1000) -> None:
        self.chromium, self.width, self.height = chromium, width, height

    def __enter__(self) -> Browser:
        import itertools
        import tempfile

        import httpx
        from websockets.sync.client import connect

        port = free_port()
        self.profile = tempfile.mkdtemp(prefix="fraudctl-chromium-")
        self.process = subprocess.Popen(
            [
                self.chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                f"--window-size={self.width},{self.height}",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    pages = httpx.get(f"http://127.0.0.1:{port}/json", timeout=1).json()
                    target = next(p for p in pages if p["type"] == "page")
                    break
                except (httpx.HTTPError, StopIteration):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            self.ids = itertools.count(1)
            self.socket = connect(target["webSocketDebuggerUrl"], max_size=None)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        self.socket.close()
        self._stop()

    def _stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method: str, **params: object) -> dict:
        import json

        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    def text(self) -> str:
        return self.evaluate("document.body.innerText") or ""

    def goto(self, url: str) -> float:
        self.call("Page.navigate", url=url)
        return time.monotonic()

    def wait_for(
        self, wanted: str, timeout: float = 60.0, milestones: tuple[str, ...] = ()
    ) -> tuple[str, dict[str, float]]:
        """The page's text once it contains ``wanted`` (TimeoutError otherwise), and the
        seconds after the call at which each of ``milestones`` first appeared."""
        started = time.monotonic()
        text, seen = "", {}
        while True:
            text = self.text()
            for milestone in milestones:
                if milestone in text and milestone not in seen:
                    seen[milestone] = time.monotonic() - started
            if wanted in text:
                return text, seen
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{wanted!r} did not appear; the page says: {text[-600:]!r}")
            time.sleep(0.1)

    def _centre(self, script: str, what: str, timeout: float = 15.0) -> tuple[float, float]:
        """The centre of the element ``script`` finds, scrolled into view; Streamlit draws a
        page's elements one by one, so it is looked for until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            box = self.evaluate(
                "(() => { const el = (" + script + ")(); if (!el) return null;"
                " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
                " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
            )
            if box:
                return float(box[0]), float(box[1])
            if time.monotonic() > deadline:
                raise LookupError(f"no {what} on the page")
            time.sleep(0.1)

    def _mouse_click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click(self, label: str) -> None:
        """Click the visible button whose text is ``label``."""
        x, y = self._centre(
            "() => [...document.querySelectorAll('button')].find("
            f"b => b.innerText.trim() === {label!r} && b.offsetParent !== null)",
            f"button {label!r}",
        )
        self._mouse_click(x, y)

    def fill(self, label: str, value: str) -> None:
        """Type ``value`` into the input or text area labelled ``label`` (its old text
        selected and replaced), as keystrokes would."""
        x, y = self._centre(
            "() => [...document.querySelectorAll('input, textarea')].find("
            f"e => e.getAttribute('aria-label') === {label!r})",
            f"field {label!r}",
        )
        self._mouse_click(x, y)
        self.evaluate("document.activeElement.select()")
        self.call("Input.insertText", text=value)

    def screenshot(self) -> bytes:
        import base64

        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])


def render(
    chromium: str,
    url: str,
    wait_for: str,
    milestones: tuple[str, ...] = (),
    settle: float = 0.0,
    height: int = 1000,
) -> tuple[str, bytes, dict[str, float]]:
    """Load ``url`` in headless Chromium over the DevTools protocol, wait until the page's
    text contains ``wait_for`` (Streamlit renders over a websocket, after the load event),
    and return the text, a PNG screenshot, and the seconds after navigation at which each
    of ``milestones`` first appeared. ``settle`` seconds pass before the screenshot; a
    taller window (``height``) shows a long page whole."""
    with Browser(chromium, height=height) as browser:
        browser.goto(url)
        try:
            text, seen = browser.wait_for(wait_for, milestones=milestones)
        except TimeoutError:
            text, seen = browser.text(), {}
        time.sleep(settle)  # canvas tables draw after their text has arrived
        return text, browser.screenshot(), seen
