"""Damaged model files whose contract was rewritten to match (a partial upload registered
again by a script): the SHA-256 check passes, so each library's file check is what stands
between the file and a C++ reader that aborts the process.

Each case runs ``fraudctl score`` or ``fraudctl serve`` as a subprocess, where an abort
cannot take the test runner with it, and must end in exit code 2 with one error line
naming the file: never a signal, a traceback or a core file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.catalogue.cases import Case

DAMAGED = "damaged-model"  # the copy each case damages, inside the project
TIMEOUT = 300  # seconds: serve must refuse the model, not start serving


def _payload(model: Path) -> Path:
    from fraudctl.model.bundle import payload_dir

    return payload_dir(model)


def _reregister(model: Path) -> None:
    """Rewrite the contract's file digests to match the files as they are now."""
    from fraudctl.model import contract

    payload = _payload(model)
    recorded = contract.read_contract(payload)
    files = contract.digest_folder(payload)
    contract.write_contract(payload, dataclasses.replace(recorded, files=files))


def _family_model(project: Path, kind: str) -> Path:
    """The project's model with its estimator refitted by another family (cached beside the
    project, which the catalogue restores after every case)."""
    import pandas as pd

    from fraudctl.model import payloads
    from fraudctl.model.bundle import load_model

    cached = project.parent / f".catalogue-{kind}-model"
    if cached.exists():
        return cached
    staging = project.parent / f".catalogue-{kind}-staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(project / "models/model", staging)
    payload = _payload(staging)
    model = load_model(staging, lazy=True)
    train = pd.read_parquet(project / "data/features/train.parquet")
    rows, labels = train[model.features], train[model.transform.target]
    if kind == "xgboost":
        from xgboost import XGBClassifier

        estimator = XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(rows, labels)
        chosen = payloads.XGBOOST
    else:
        from fraudctl.model.wrappers import CatBoostCodes

        params = {"iterations": 20, "depth": 3, "thread_count": 1}
        estimator = CatBoostCodes(params, []).fit(rows, labels)
        chosen = payloads.CATBOOST
    (payload / payloads.LIGHTGBM.filename).unlink()
    chosen.save(estimator, payload / chosen.filename)
    metadata = json.loads((payload / "model.json").read_text())
    metadata.update(kind=kind, estimator_format=chosen.name)
    (payload / "model.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    _reregister(staging)
    assert load_model(staging).estimator is not None  # whole before it is damaged
    staging.rename(cached)
    return cached


def _damaged(kind: str, damage: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    """A copy of the project's model (or of one refitted by ``kind``) with its estimator
    file damaged and the contract rewritten to match."""

    def make(project: Path) -> Path:
        source = project / "models/model" if kind == "lightgbm" else _family_model(project, kind)
        target = project / DAMAGED
        shutil.copytree(source, target)
        payload = _payload(target)
        (estimator,) = [p for p in payload.iterdir() if p.name.startswith("estimator.")]
        estimator.write_bytes(damage(estimator.read_bytes()))
        _reregister(target)
        return target

    return make


def _tree_starts(data: bytes) -> list[int]:
    return [m.start() for m in re.finditer(rb"^Tree=", data, re.MULTILINE)]


def _cut_at_tree(data: bytes) -> bytes:
    starts = _tree_starts(data)
    return data[: starts[len(starts) // 2]]


def _cut_mid_line(data: bytes) -> bytes:
    start = _tree_starts(data)[len(_tree_starts(data)) // 3]
    line = data.index(b"threshold=", start)
    return data[: line + 17]


def _cut_before_trailer(data: bytes) -> bytes:
    return data[: data.index(b"end of trees")]


def _drop_a_field(data: bytes) -> bytes:
    start = _tree_starts(data)[3]
    line = data.index(b"left_child=", start)
    return data[:line] + data[data.index(b"\n", line) + 1 :]


def _xgboost_bad_child(data: bytes) -> bytes:
    model = json.loads(data)
    tree = model["learner"]["gradient_booster"]["model"]["trees"][2]
    tree["left_children"][0] = 10**6  # XGBoost reads node 1,000,000 of a small tree
    return json.dumps(model).encode()


DAMAGES: list[tuple[str, str, str, Callable[[bytes], bytes]]] = [
    # (name, family, fragment of the message, damage)
    ("LightGBM cut at a tree boundary", "lightgbm", "the file ends inside tree", _cut_at_tree),
    ("LightGBM cut mid-line", "lightgbm", "the file ends inside tree", _cut_mid_line),
    ("LightGBM without its trailer", "lightgbm", "no 'end of trees' line", _cut_before_trailer),
    ("LightGBM tree without a field", "lightgbm", "tree 3 ", _drop_a_field),
    ("XGBoost JSON cut short", "xgboost", "not whole JSON", lambda d: d[: len(d) // 2]),
    ("XGBoost child out of range", "xgboost", "do not form a tree", _xgboost_bad_child),
    ("CatBoost file cut short", "catboost", "the header promises", lambda d: d[: len(d) // 3]),
]


def damaged_model_cases() -> list[Case]:
    cases = []
    for name, kind, fragment, damage in DAMAGES:
        make = _damaged(kind, damage)
        for door in ("score", "serve"):
            cases.append(Case(f"{door}: {name}", "process", 2, fragment, _argv(door, make)))
    return cases


def _argv(door: str, make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    def action(project: Path) -> list[str]:
        model = str(make(project))
        if door == "score":
            return ["score", "data/prepared/test.parquet", "-o", "out.parquet", "--model", model]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return ["serve", "--model", model, "--port", str(port)]

    return action


def run_process_case(case: Case, project: Path) -> str | None:
    """None when the command refused the model in one line, else what went wrong."""
    from tests.catalogue.cases import _cwd, restored

    with restored(project), _cwd(project):
        argv = case.action(project)
        env = {**os.environ, "COLUMNS": "1000"}  # one message, one line: no wrapping
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        try:
            done = subprocess.run(
                ["fraudctl", *argv], env=env, capture_output=True, text=True, timeout=TIMEOUT
            )
        except subprocess.TimeoutExpired:
            return f"still running after {TIMEOUT} s: the damaged model was served"
        cores = [p.name for p in project.iterdir() if p.name.startswith("core")]
    output = done.stdout + done.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    problems = []
    if done.returncode < 0:
        problems.append(f"killed by {signal.Signals(-done.returncode).name}")
    elif done.returncode != case.expect:
        problems.append(f"exit {done.returncode}, expected {case.expect}")
    if cores:
        problems.append(f"core file(s) {cores}")
    if "Traceback" in output:
        problems.append("printed a traceback")
    if len(errors) != 1:
        problems.append(f"{len(errors)} error lines")
    elif case.fragment not in errors[0] or DAMAGED not in errors[0]:
        problems.append(f"the error lacks {case.fragment!r} or the file's name")
    return "; ".join(problems) + f"\n{output[-800:]}" if problems else None
