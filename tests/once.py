"""Expensive directories built once per pytest run, and cheap copies of them for each test.

Under pytest-xdist every worker is a process of its own, so a session fixture that trains a
model or runs ``dvc repro`` runs once per worker. :func:`built_once` puts its result in the
run's shared temporary directory instead (the parent of every worker's base directory),
builds it under a file lock, and the other workers wait for it and reuse it. A build that
failed is recorded, so the workers after it fail at once with its message rather than spend
the same minutes again.

A test that changes what it was given works on :func:`copy_project`'s copy: the files, and
any SQLite database in the project (MLflow's store, Airflow's metadata) with the absolute
paths it holds moved to the copy, so runs, registered models and artifacts resolve inside
the copy and never in the original.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

DONE = "done.json"
FAILED = "failed.txt"


def run_directory(factory: pytest.TempPathFactory) -> Path:
    """The temporary directory every worker of this pytest run shares."""
    base = factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = shared / "built-once"
    directory.mkdir(exist_ok=True)
    return directory


def built_once(
    factory: pytest.TempPathFactory, name: str, build: Callable[[Path], dict[str, Any] | None]
) -> tuple[Path, dict[str, Any]]:
    """``build(target)`` fills ``target`` once per run and may return notes about the build
    (JSON: e.g. the first ``dvc repro``'s output, which a test reads instead of running it
    again). Returns the directory, to read or to copy, never to change, and the notes."""
    root = run_directory(factory)
    target = root / name
    state = root / f"{name}.state"
    with FileLock(str(root / f"{name}.lock")):
        if (state / DONE).exists():
            return target, json.loads((state / DONE).read_text())
        if (state / FAILED).exists():
            pytest.fail(
                f"building {name} failed earlier in this run:\n{(state / FAILED).read_text()}"
            )
        shutil.rmtree(target, ignore_errors=True)
        state.mkdir(exist_ok=True)
        target.mkdir()
        try:
            notes = build(target) or {}
        except BaseException:
            (state / FAILED).write_text(traceback.format_exc()[-6000:])
            raise
        (state / DONE).write_text(json.dumps(notes))
        return target, notes


def copy_project(source: Path, target: Path) -> Path:
    """A copy of ``source`` at ``target``: the files (symlinks as links), and in every
    ``*.db`` SQLite file the paths under ``source`` rewritten to ``target``."""
    shutil.copytree(source, target, symlinks=True)
    for database in target.rglob("*.db"):
        rebase_sqlite(database, source, target)
    return target


def rebase_sqlite(database: Path, old: Path, new: Path) -> None:
    """Replace the path ``old`` with ``new`` in every text column of ``database``.

    MLflow keeps absolute artifact locations (experiments, runs, model versions, logged
    models); going through every text column rather than naming MLflow's tables keeps this
    working when its schema changes. A path to ``old`` left anywhere fails the copy: the
    copy would read or write the original."""
    pairs = [(f"{old}/", f"{new}/"), (old.as_uri() + "/", new.as_uri() + "/")]
    left: list[str] = []
    connection = sqlite3.connect(database)
    try:
        with connection:
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for table in tables:
                columns = [
                    row[1]
                    for row in connection.execute(f'PRAGMA table_info("{table}")')
                    if any(t in (row[2] or "TEXT").upper() for t in ("CHAR", "TEXT", "CLOB"))
                ]
                for column in columns:
                    for before, after in pairs:
                        connection.execute(
                            f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                            f'WHERE instr("{column}", ?) > 0',
                            (before, after, before),
                        )
                    (count,) = connection.execute(
                        f'SELECT count(*) FROM "{table}" WHERE instr("{column}", ?) > 0',
                        (str(old),),
                    ).fetchone()
                    if count:
                        left.append(f"{table}.{column} ({count} row(s))")
    finally:
        connection.close()
    assert not left, f"{database}: still names {old} in {', '.join(left)}"
