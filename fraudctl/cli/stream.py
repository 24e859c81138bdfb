"""``fraudctl stream``: its options are the consumer's settings (fraudctl/stream/settings.py),
one option per field with the field's default, help and environment variable."""

from __future__ import annotations

import inspect
import typing
from typing import Annotated, Any

import typer
from annotated_types import Ge, Le

from fraudctl.cli.common import app, err_console, user_errors
from fraudctl.stream import settings as stream_settings

STREAM_HELP = """Score a Redis stream of raw transactions, as one consumer of a group.

Reads transactions (JSON in a `transaction` field), and labels when the model has history
features; appends one decision per transaction id to the decisions stream, alerts to the
alerts stream, and what cannot be read to the dead-letter stream, then acknowledges.
Several consumers in one group share the work; messages a killed consumer left pending are
claimed after --claim-idle-ms. SIGTERM finishes the batch in hand.
"""


def _option(field: Any, hint: Any) -> inspect.Parameter:
    """One settings field as a Typer option (its bounds shown as a range)."""
    kind, extras = hint, ()
    if typing.get_origin(hint) is Annotated:
        kind, *extras = typing.get_args(hint)
    low = next((e.ge for e in extras if isinstance(e, Ge)), None)
    high = next((e.le for e in extras if isinstance(e, Le)), None)
    if typing.get_origin(kind) is typing.Literal:
        kind = str
    option = typer.Option(
        help=field.metadata["help"],
        envvar=stream_settings.variable(field),
        show_envvar=True,
        min=low,
        max=high,
    )
    return inspect.Parameter(
        field.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=field.default,
        annotation=Annotated[kind, option],
    )


@user_errors
def stream(**values: Any) -> None:
    from fraudctl.stream.run import run_stream

    # Typer has applied the environment variables; validate checks what arrived.
    settings = stream_settings.validate(values)
    summary = run_stream(settings, console=err_console)
    totals = summary.totals
    err_console.print(
        f"stopped after {summary.seconds:.1f} s: {totals.decided:,} decided, "
        f"{totals.duplicates:,} duplicate(s), {totals.labels:,} label(s), "
        f"{totals.dead_letters:,} dead letter(s), {summary.claimed:,} claimed, "
        f"{summary.outages} broker outage(s)"
    )


_HINTS = typing.get_type_hints(stream_settings.StreamSettings, include_extras=True)
stream.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [_option(field, _HINTS[field.name]) for field in stream_settings.fields()]
)
app.command("stream", help=STREAM_HELP)(stream)
