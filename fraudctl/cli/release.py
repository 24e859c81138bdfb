"""Blue-green releases: ``release status``, ``release switch`` and ``release rollback``."""

from __future__ import annotations

from typing import Annotated

import typer

from fraudctl.cli.common import console, release_app, user_errors

Namespace = Annotated[str, typer.Option(help="The Kubernetes namespace of the manifests.")]
Kubectl = Annotated[str, typer.Option(help="The kubectl to run (with the cluster's credentials).")]
PreviewUrl = Annotated[
    str,
    typer.Option(
        help="Where the colour being released answers, e.g. "
        "http://fraudctl-api-green.fraudctl.svc, or a `kubectl port-forward` of that Service."
    ),
]
LiveUrl = Annotated[
    str | None,
    typer.Option(
        help="Where the live Service answers; checked after the switch, which is undone "
        "when it does not serve the checked version."
    ),
]
ExpectVersion = Annotated[
    str | None,
    typer.Option(help="The model version the colour must serve (e.g. the registry's champion)."),
]
Timeout = Annotated[float, typer.Option(min=1.0, help="Seconds to wait for each check.")]


def _cluster(namespace: str, kubectl: str):  # type: ignore[no-untyped-def]
    from fraudctl.release import Cluster

    return Cluster(namespace=namespace, kubectl=kubectl)


@release_app.command("status")
@user_errors
def release_status(namespace: Namespace = "fraudctl", kubectl: Kubectl = "kubectl") -> None:
    """Which colour the live Service sends traffic to."""
    console.print(f"live colour: {_cluster(namespace, kubectl).live_colour()}")


@release_app.command("switch")
@user_errors
def release_switch(
    colour: Annotated[str, typer.Argument(help="The colour to make live: blue or green.")],
    preview_url: PreviewUrl,
    live_url: LiveUrl = None,
    expect_version: ExpectVersion = None,
    timeout: Timeout = 120.0,
    namespace: Namespace = "fraudctl",
    kubectl: Kubectl = "kubectl",
) -> None:
    """Make a colour live after checking it, and switch back if the live Service fails.

    The colour must have rolled out, answer ready and serve the expected version before
    the live Service's selector moves to it."""
    from fraudctl.release import switch

    done = switch(
        _cluster(namespace, kubectl),
        colour,
        preview_url,
        live_url,
        expect_version,
        timeout,
        say=lambda line: console.print(f"  {line}"),
    )
    console.print(f"[green]✓[/] {done.live} is live with model version {done.version}")


@release_app.command("rollback")
@user_errors
def release_rollback(
    preview_url: PreviewUrl,
    live_url: LiveUrl = None,
    timeout: Timeout = 120.0,
    namespace: Namespace = "fraudctl",
    kubectl: Kubectl = "kubectl",
) -> None:
    """Point the live Service back at the other colour, after the same checks."""
    from fraudctl.release import COLOURS, switch

    cluster = _cluster(namespace, kubectl)
    live = cluster.live_colour()
    other = next(c for c in COLOURS if c != live)
    done = switch(
        cluster,
        other,
        preview_url,
        live_url,
        None,
        timeout,
        say=lambda line: console.print(f"  {line}"),
    )
    console.print(f"[green]✓[/] rolled back: {done.live} is live with model version {done.version}")
