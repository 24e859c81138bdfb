"""The README's two commands, timed in a fresh clone as a new user runs them.

    python -m benchmarks.newcomer [--skip-tests] [--keep]

Clones the repository's HEAD into a temporary directory and runs, with a clean
environment (no active virtualenv, no MLflow settings):

- ``make install``: the virtualenv and the locked install (``install_s``; how many
  packages and how much disk it took; whether pip's cache was already warm);
- ``make repro``: the first pipeline run of the clone (``repro_s``), then whether
  ``git status`` is clean, then a second ``make repro`` that must run nothing (``noop_s``);
- ``make test`` (``test_s``; unless ``--skip-tests``): lint, the tool virtualenvs, the
  whole suite, with its pass/skip counts.

Writes benchmarks/results/newcomer.json, with the end of what each command printed, which
Getting started renders (``make docs-numbers``); the README's timings point there instead
of quoting numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import results

REPO = Path(__file__).resolve().parents[1]


def clean_env() -> dict[str, str]:
    """The shell a newcomer has: this virtualenv and MLflow's settings removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VIRTUAL_ENV"))}
    ours = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
    env["COLUMNS"] = "100"  # a terminal's width: rich wraps at 80 columns without one
    return env


def timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}); see {log}")
    return seconds


def printed(log: Path, since: int, lines: int) -> str:
    """The last ``lines`` lines the log gained after byte offset ``since``."""
    with log.open("rb") as handle:
        handle.seek(since)
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def directory_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def pip_cache_mib(env: dict[str, str]) -> float:
    found = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], env=env, capture_output=True, text=True
    )
    where = Path(found.stdout.strip())
    return directory_mib(where) if found.returncode == 0 and where.is_dir() else 0.0


def pytest_counts(log: Path) -> dict[str, int]:
    """The counts of pytest's last summary line ("553 passed, 2 skipped in ...")."""
    summaries = [line for line in log.read_text(encoding="utf-8").splitlines() if " passed" in line]
    if not summaries:
        return {}
    counts = re.findall(r"(\d+) (passed|skipped|failed|error)", summaries[-1])
    return {word: int(n) for n, word in counts}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-tests", action="store_true", help="time install and repro only")
    parser.add_argument("--keep", action="store_true", help="keep the clone and its log")
    args = parser.parse_args()

    env = clean_env()
    tmp = Path(tempfile.mkdtemp(prefix="fraudctl-newcomer-"))
    clone, log = tmp / "fraudctl", tmp / "newcomer.log"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
    ).stdout.strip()
    cache_mib = pip_cache_mib(env)
    print(f"clone of {commit} in {clone}; log {log}")

    row: dict[str, object] = {"commit": commit, "pip_cache": "warm" if cache_mib > 500 else "cold"}
    row["install_s"] = timed(["make", "install"], clone, env, log)
    packages = subprocess.run(
        [str(clone / ".venv/bin/python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    row["packages"] = len(packages)
    row["venv_mib"] = directory_mib(clone / ".venv")
    print(f"install: {row['install_s']:.0f} s, {row['packages']} packages")
    before = log.stat().st_size
    row["repro_s"] = timed(["make", "repro"], clone, env, log)
    row["repro_output"] = printed(log, before, 40)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout
    row["git_clean"] = not status.strip()
    row["noop_s"] = timed(["make", "repro"], clone, env, log)
    print(f"repro: {row['repro_s']:.0f} s, git clean: {row['git_clean']}")
    if not args.skip_tests:
        before = log.stat().st_size
        row["test_s"] = timed(["make", "test"], clone, env, log)
        row["test_output"] = printed(log, before, 3)
        row.update(pytest_counts(log))
        print(f"test: {row['test_s']:.0f} s, {pytest_counts(log)}")
    print(f"results: {results.write('newcomer', [row])}")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if not row["git_clean"]:
        raise SystemExit(f"the first make repro left git dirty:\n{status}")


if __name__ == "__main__":
    main()
