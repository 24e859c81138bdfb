"""Blue-green releases on Kubernetes: move the live Service to the idle colour only after
that colour has rolled out, answers ready and serves the expected model version, and move
it back when the live Service does not answer the same way afterwards.

The manifests are ``k8s/blue-green/`` (two Deployments, a live Service whose selector names
one colour, a preview Service per colour). The cluster is reached through ``kubectl`` with
the caller's credentials; the colours are checked over HTTP, through preview and live URLs
the caller can reach (in a cluster, the Services' DNS names; from a laptop,
``kubectl port-forward``).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass

from fraudctl.errors import FraudctlError
from fraudctl.webclient import NotHttpUrl, http_get

COLOURS = ("blue", "green")
COLOUR_LABEL = "fraudctl.io/colour"
DEPLOYMENT = "fraudctl-api"


class ReleaseError(FraudctlError):
    """The release stopped; the message says where and which colour is live."""


@dataclass(frozen=True)
class Cluster:
    """The live Service and the colour Deployments, through kubectl."""

    namespace: str = "fraudctl"
    service: str = DEPLOYMENT
    kubectl: str = "kubectl"

    def _run(self, *args: str, timeout: float = 60.0) -> str:
        command = [self.kubectl, "-n", self.namespace, *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise ReleaseError(
                f"{self.kubectl}: not found; install kubectl and fetch the cluster's "
                "credentials (gcloud container clusters get-credentials)"
            ) from None
        except subprocess.TimeoutExpired:
            raise ReleaseError(f"`{' '.join(command)}` took more than {timeout:.0f} s") from None
        if done.returncode != 0:
            problem = (done.stderr or done.stdout).strip().splitlines()
            raise ReleaseError(f"`{' '.join(command)}` failed: {problem[-1] if problem else ''}")
        return done.stdout

    def live_colour(self) -> str:
        service = json.loads(self._run("get", "service", self.service, "-o", "json"))
        colour = service.get("spec", {}).get("selector", {}).get(COLOUR_LABEL)
        if colour not in COLOURS:
            raise ReleaseError(
                f"service {self.service}: its selector names no colour ({COLOUR_LABEL}); "
                "apply k8s/blue-green/ first"
            )
        return colour

    def point_at(self, colour: str) -> None:
        patch = json.dumps({"spec": {"selector": {COLOUR_LABEL: colour}}})
        self._run("patch", "service", self.service, "--type", "merge", "-p", patch)

    def wait_rolled_out(self, colour: str, timeout: float) -> None:
        self._run(
            "rollout",
            "status",
            f"deployment/{DEPLOYMENT}-{colour}",
            f"--timeout={int(timeout)}s",
            timeout=timeout + 30,
        )


def serving_version(url: str, timeout: float = 5.0) -> str:
    """The model version a service answers with once ready; ReleaseError otherwise."""
    base = url.rstrip("/")
    try:
        ready = json.loads(http_get(f"{base}/health/ready", timeout))
        described = json.loads(http_get(f"{base}/model", timeout))
    except NotHttpUrl as error:
        raise ReleaseError(str(error)) from None
    except urllib.error.HTTPError as error:
        raise ReleaseError(f"{base}: not ready (HTTP {error.code})") from None
    except (OSError, ValueError) as error:
        raise ReleaseError(f"{base}: no answer ({error})") from None
    return str(described.get("version") or ready.get("model_version"))


def check(
    url: str, expected: str | None, within: float, sleep: Callable[[float], None] = time.sleep
) -> str:
    """Wait up to ``within`` seconds for ``url`` to be ready with the ``expected`` version."""
    deadline = time.monotonic() + within
    while True:
        try:
            version = serving_version(url)
            if expected is None or version == expected:
                return version
            problem = f"{url} serves model version {version}, not {expected}"
        except ReleaseError as error:
            problem = str(error)
        if time.monotonic() >= deadline:
            raise ReleaseError(problem)
        sleep(1.0)


@dataclass(frozen=True)
class Switched:
    previous: str
    live: str
    version: str


def switch(
    cluster: Cluster,
    to: str,
    preview_url: str,
    live_url: str | None,
    expected_version: str | None,
    timeout: float,
    say: Callable[[str], None] = lambda _: None,
) -> Switched:
    """Make ``to`` the live colour, or leave (or put back) the previous one and raise."""
    if to not in COLOURS:
        raise ReleaseError(f"colour {to!r}: expected one of {', '.join(COLOURS)}")
    previous = cluster.live_colour()
    if previous == to:
        version = check(live_url or preview_url, expected_version, timeout)
        say(f"{to} is already live (model version {version}); nothing to switch")
        return Switched(previous, to, version)
    say(f"waiting for deployment {DEPLOYMENT}-{to} to roll out")
    cluster.wait_rolled_out(to, timeout)
    say(f"checking {to} through {preview_url}")
    try:
        version = check(preview_url, expected_version, timeout)
    except ReleaseError as error:
        raise ReleaseError(f"{to} is not fit to go live: {error}; {previous} stays live") from None
    say(f"{to} is ready with model version {version}: pointing {cluster.service} at it")
    cluster.point_at(to)
    if live_url is None:
        return Switched(previous, to, version)
    try:
        check(live_url, version, timeout)
    except ReleaseError as error:
        cluster.point_at(previous)
        raise ReleaseError(
            f"after the switch to {to}: {error}; switched back, {previous} is live"
        ) from None
    say(f"{live_url} answers with model version {version}: {to} is live")
    return Switched(previous, to, version)
