"""Continuous training: ``simulate`` the world a day at a time, and ``cycle`` its steps."""

from __future__ import annotations

from typing import Annotated

import typer

from fraudctl.cli.common import ParamsOption, app, console, cycle_app, load_project, user_errors
from fraudctl.loop.steps import STEPS
from fraudctl.paths import DEFAULT_PARAMS_FILE

Day = Annotated[int | None, typer.Option(min=0, help="The simulated day (0 is continuous.start).")]
Date = Annotated[
    str | None,
    typer.Option(help="The day as a date, YYYY-MM-DD (what a scheduler passes: Airflow's ds)."),
]


def _day(world, day: int | None, date: str | None) -> int:  # type: ignore[no-untyped-def]
    """The day index from --day or --date (exactly one)."""
    import datetime as dt

    if (day is None) == (date is None):
        raise typer.BadParameter("give --day N or --date YYYY-MM-DD")
    if date is not None:
        try:
            day = world.day_of(dt.date.fromisoformat(date))
        except ValueError:
            raise typer.BadParameter(f"--date {date!r}: expected YYYY-MM-DD") from None
    world.check_day(day)
    return day


@app.command()
@user_errors
def simulate(
    params_file: ParamsOption = DEFAULT_PARAMS_FILE,
    day: Annotated[int | None, typer.Option(min=0, help="Publish this one day.")] = None,
    date: Date = None,
    days: Annotated[
        int | None, typer.Option(min=1, help="Publish days 0 to N-1 (a warm start).")
    ] = None,
) -> None:
    """Publish simulated days: transactions, and the labels released that day.

    Writes continuous.workspace/log/YYYY-MM-DD.parquet (no label column) and
    labels/YYYY-MM-DD.parquet (chargebacks) for the day label_delay_days earlier; with
    continuous.analysts, the analysts settle alerts of the day analysts.delay_days earlier
    in the workspace's alert store. Deterministic by base.seed, with the change of
    continuous.change from continuous.change_day."""
    params, _ = load_project(params_file)
    from fraudctl.loop.world import World

    world = World(params.continuous, params.base.seed)
    if days is not None:
        if day is not None or date is not None:
            raise typer.BadParameter("give --days N, or one --day/--date")
        world.check_day(days - 1)
        chosen = list(range(days))
    else:
        chosen = [_day(world, day, date)]
    for current in chosen:
        published = world.write_day(current)
        released = f"; labels of {published.labels.stem}" if published.labels else ""
        if published.reviewed:
            released += (
                f"; analysts settled {published.reviewed} alert(s) of "
                f"{world.date(published.reviewed_day or 0)}"
            )
        console.print(f"day {current} ({world.date(current)}): {published.log}{released}")


def _run_step(step: str, day: int | None, date: str | None, params_file) -> None:  # type: ignore[no-untyped-def]
    params, _ = load_project(params_file)
    from fraudctl.loop.cycle import Loop, run_step

    loop = Loop(params)
    day = _day(loop.world, day, date)
    result = run_step(loop, step, day)
    if isinstance(result, dict):
        console.print(f"day {day} {step}: {result['outcome']}: {result['reason']}")
    else:
        console.print(f"day {day} {step}: {len(result)} labelled days in {loop.monitoring_file}")


def _step_command(step: str, summary: str) -> None:
    @user_errors
    def command(
        day: Day = None, date: Date = None, params_file: ParamsOption = DEFAULT_PARAMS_FILE
    ) -> None:
        _run_step(step, day, date, params_file)

    command.__doc__ = summary
    cycle_app.command(step)(command)


for _step in STEPS:
    _step_command(_step.name, _step.summary)


@cycle_app.command("run")
@user_errors
def cycle_run(
    day: Day = None, date: Date = None, params_file: ParamsOption = DEFAULT_PARAMS_FILE
) -> None:
    """Every step of one day, in order (what the Airflow DAG runs as separate tasks)."""
    for step in STEPS:
        _run_step(step.name, day, date, params_file)
