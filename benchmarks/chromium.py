"""Headless Chromium over the DevTools protocol: load a page, wait for text, screenshot.

Shared by the UI's end-to-end test and its benchmark. Streamlit renders over a websocket
after the page's load event, so ``--dump-dom`` and ``--screenshot`` return an empty shell;
this drives the browser until the text a user would read is on the page.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def render(
    chromium: str,
    url: str,
    wait_for: str,
    milestones: tuple[str, ...] = (),
    settle: float = 0.0,
) -> tuple[str, bytes, dict[str, float]]:
    """Load ``url`` in headless Chromium over the DevTools protocol, wait until the page's
    text contains ``wait_for`` (Streamlit renders over a websocket, after the load event),
    and return the text, a PNG screenshot, and the seconds after navigation at which each
    of ``milestones`` first appeared. ``settle`` seconds pass before the screenshot."""
    import base64
    import itertools
    import json as jsonlib
    import tempfile

    import httpx
    from websockets.sync.client import connect

    port = free_port()
    profile = tempfile.mkdtemp(prefix="fraudctl-chromium-")
    browser = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
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
        ids = itertools.count(1)
        with connect(target["webSocketDebuggerUrl"], max_size=None) as socket_:

            def call(method: str, **params: object) -> dict:
                number = next(ids)
                socket_.send(jsonlib.dumps({"id": number, "method": method, "params": params}))
                while True:
                    message = jsonlib.loads(socket_.recv(timeout=60))
                    if message.get("id") == number:
                        return message.get("result", {})

            navigated = time.monotonic()
            call("Page.navigate", url=url)
            text, seen = "", {}
            deadline = navigated + 60
            while wait_for not in text and time.monotonic() < deadline:
                time.sleep(0.1)
                answer = call("Runtime.evaluate", expression="document.body.innerText")
                text = answer.get("result", {}).get("value", "") or ""
                for milestone in milestones:
                    if milestone in text and milestone not in seen:
                        seen[milestone] = time.monotonic() - navigated
            time.sleep(settle)  # canvas tables draw after their text has arrived
            png = base64.b64decode(call("Page.captureScreenshot", format="png")["data"])
        return text, png, seen
    finally:
        browser.terminate()
        browser.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)
