"""The bad-input and fault catalogue: every case must end in one clear error and leave the
last good outputs byte for byte as they were.

A case is a CLI run (in-process, exit code 2 expected), an HTTP request (a 4xx expected)
or a command run as a subprocess where a library could abort the process (damaged model
files: tests/catalogue/damaged_models.py), each with a fragment its message must contain.
`python -m tests.catalogue` runs them all on a fresh small project and prints "N cases, N
clean"; the test suite runs each one.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

# Outputs that must never change when a command fails.
GUARDED = ("data/prepared", "data/features", "models/model", "reports")


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "cli", "api" or "process"
    expect: int  # exit code (cli) or HTTP status (api)
    fragment: str
    # cli: (project) -> argv; may write inputs or params first. api: (client) -> response
    action: Callable[..., Any]
    settings: dict[str, Any] = field(default_factory=dict)  # api: ServeSettings overrides


# --- helpers that make bad inputs --------------------------------------------------------


def _ulb(rows: int = 400, seed: int = 1) -> pd.DataFrame:
    from fraudctl.data.synthetic import generate_transactions

    return generate_transactions(n_rows=rows, fraud_rate=0.05, days=1, seed=seed)


def _log(rows: int = 3000) -> pd.DataFrame:
    from fraudctl.data.synthetic_transactions import generate_transaction_log

    log = generate_transaction_log(
        n_customers=120,
        n_terminals=150,
        days=30,
        seed=5,
        compromised_terminal_rate=0.05,
        compromised_card_rate=0.05,
    )
    return log.head(rows)


def _params(project: Path, **sections: Any) -> None:
    raw = yaml.safe_load((project / "params.yaml").read_text())
    for dotted, value in sections.items():
        node = raw
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def _data_case(name: str, fragment: str, make: Callable[[Path], Path], **params: Any) -> Case:
    def action(project: Path) -> list[str]:
        source = make(project / "inputs")
        _params(project, data__source=str(source), **params)
        return ["data"]

    return Case(name, "cli", 2, fragment, action)


def _partitions(second: bytes) -> Callable[[Path], Path]:
    """A day-partitioned log whose second file is ``second``."""

    def make(directory: Path) -> Path:
        directory.mkdir(exist_ok=True)
        _ulb().to_parquet(directory / "day-1.parquet", index=False)
        (directory / "day-2.parquet").write_bytes(second)
        return directory

    return make


def _csv(frame_fn: Callable[[pd.DataFrame], pd.DataFrame], base: Callable[[], pd.DataFrame] = _ulb):
    def make(directory: Path) -> Path:
        directory.mkdir(exist_ok=True)
        path = directory / "bad.csv"
        frame_fn(base()).to_csv(path, index=False)
        return path

    return make


def _parquet(frame_fn: Callable[[pd.DataFrame], pd.DataFrame], base=_ulb):
    def make(directory: Path) -> Path:
        directory.mkdir(exist_ok=True)
        path = directory / "bad.parquet"
        frame_fn(base()).to_parquet(path, index=False)
        return path

    return make


def _raw(name: str, content: bytes):
    def make(directory: Path) -> Path:
        directory.mkdir(exist_ok=True)
        path = directory / name
        path.write_bytes(content)
        return path

    return make


def _set(column: str, row: int, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if frame[column].dtype != object and not isinstance(value, float | int):
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return change


def _csv_text(frame_fn=lambda f: f, encoding: str = "utf-8", sep: str = ",") -> bytes:
    return frame_fn(_ulb(60)).to_csv(index=False, sep=sep).encode(encoding)


TX = {  # the example's schema, for raw-log cases
    "data__schema": {
        "time": "timestamp",
        "amount": "amount",
        "target": "is_fraud",
        "features": "all",
        "entities": {"customer": "customer_id", "terminal": "terminal_id"},
        "categorical": ["merchant_category"],
        "exclude": ["transaction_id"],
        "group": None,
    },
}


def data_cases() -> list[Case]:
    ulb_csv = _csv_text()
    header, _, body = ulb_csv.partition(b"\n")
    return [
        _data_case("missing column", "missing column(s) V3", _csv(lambda f: f.drop(columns="V3"))),
        _data_case(
            "text in a number column",
            "non-numeric values such as 'abc'",
            _csv(_set("V5", 3, "abc")),
        ),
        _data_case("missing value", "column 'V7': 1 missing value(s)", _csv(_set("V7", 4, np.nan))),
        _data_case("infinite amount", "column 'Amount': infinite", _csv(_set("Amount", 2, np.inf))),
        _data_case("negative amount", "negative amount(s)", _csv(_set("Amount", 1, -5.0))),
        _data_case("amount 1e308", "implausible amount(s)", _csv(_set("Amount", 1, 1e308))),
        _data_case("a feature 1e308", "column 'V5': absurd value", _csv(_set("V5", 1, 1e308))),
        _data_case(
            "one transaction id on two rows",
            "column 'transaction_id': id 3 names 2 different rows (line 5, line 14)",
            _csv(lambda f: f.assign(transaction_id=np.where(f.index == 12, 3, f.index)), _log),
            **TX,
        ),
        _data_case("label 2", "labels must be 0 or 1, found 2", _csv(_set("Class", 5, 2))),
        _data_case("one class", "holds a single class", _csv(lambda f: f.assign(Class=0))),
        _data_case("empty file", "the file is empty", _raw("empty.csv", b"")),
        _data_case("header only", "the table has no rows", _raw("header.csv", header + b"\n")),
        _data_case("semicolons", "delimiter looks like ';'", _raw("semi.csv", _csv_text(sep=";"))),
        _data_case(
            "utf-16", "UTF-16 text is not supported", _raw("u16.csv", _csv_text(encoding="utf-16"))
        ),
        _data_case(
            "repeated header",
            "repeated column name(s) in the header: Amount",
            _raw("dup.csv", header.replace(b"Class", b"Amount") + b"\n" + body),
        ),
        _data_case(
            "malformed row",
            "malformed CSV",
            _raw("broken.csv", header + b"\n" + b"1,2,3\n" + b"4," * 60 + b"5\n"),
        ),
        _data_case("unsupported type", "unsupported file type", _raw("data.txt", b"a,b\n1,2\n")),
        _data_case("not found", "file not found", lambda d: d / "missing.csv"),
        _data_case(
            "a directory without parquet files",
            "holds no parquet files",
            lambda d: (d.mkdir(exist_ok=True), d)[1],
        ),
        _data_case(
            "a damaged partition in a directory",
            "day-2.parquet: not a readable parquet file",
            _partitions(b"PAR1 not really"),
        ),
        _data_case(
            "numbers as text in parquet",
            "numbers stored as text",
            _parquet(lambda f: f.assign(V1=f["V1"].astype(str))),
        ),
        _data_case(
            "booleans as a feature", "found booleans", _parquet(lambda f: f.assign(V2=f["V2"] > 0))
        ),
        _data_case(
            "truncated parquet",
            "not a readable parquet file",
            lambda d: _truncate(_parquet(lambda f: f)(d)),
        ),
        _data_case("corrupt gzip", "cannot be read", _raw("bad.csv.gz", b"\x1f\x8b\x08garbage")),
        _data_case("binary garbage", "", _raw("garbage.csv", os.urandom(2000))),
        _data_case(
            "unparseable time",
            "expected numeric seconds, found 'soon'",
            _csv(_set("Time", 3, "soon")),
        ),
        _data_case(
            "missing time", "column 'Time': 1 missing value(s)", _csv(_set("Time", 3, np.nan))
        ),
        _data_case(
            "gzip of a utf-16 file",
            "UTF-16",
            _raw("u16.csv.gz", gzip.compress(_csv_text(encoding="utf-16"))),
        ),
        _data_case(
            "missing entity column",
            "missing column(s) terminal_id",
            _csv(lambda f: f.drop(columns="terminal_id"), _log),
            **TX,
        ),
        _data_case(
            "missing entity id",
            "missing entity id(s)",
            _csv(
                lambda f: f.assign(customer_id=f["customer_id"].astype(float).where(f.index != 4)),
                _log,
            ),
            **TX,
        ),
        _data_case(
            "fractional category",
            "categorical column holds a number with a fraction",
            _csv(lambda f: f.assign(merchant_category=np.where(f.index == 2, 1.5, 3.0)), _log),
            **TX,
        ),
        _data_case(
            "unparseable timestamp",
            "unparseable timestamp 'tomorrow'",
            _csv(
                lambda f: f.assign(
                    timestamp=f["timestamp"].astype(str).where(f.index != 9, "tomorrow")
                ),
                _log,
            ),
            **TX,
        ),
        _data_case(
            "undeclared text column",
            "belongs in data.schema.categorical",
            _csv(lambda f: f.assign(note="x"), _log),
            **TX,
        ),
        _data_case(
            "timestamp as booleans",
            "expected timestamps, found booleans",
            _parquet(lambda f: f.assign(timestamp=True), _log),
            **TX,
        ),
        _data_case(
            "a 5 MB cell",
            "such as 'xxxxx",
            _csv(
                lambda f: f.assign(V2=f["V2"].astype(object).where(f.index != 3, "x" * 5_000_000))
            ),
        ),
        _data_case(
            "naive and offset timestamps mixed",
            "timestamps without a UTC offset among ones with an offset",
            _csv(
                lambda f: f.assign(
                    timestamp=[
                        t.isoformat() + ("+02:00" if i % 2 else "")
                        for i, t in enumerate(pd.to_datetime(f["timestamp"]))
                    ]
                ),
                _log,
            ),
            **TX,
        ),
        _data_case(
            "an id column under features: all",
            "look like ids or clocks ('transaction_id'",
            _csv(lambda f: f, _log),
            **{**TX, "data__schema__exclude": []},
        ),
    ]


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _params_case(
    name: str, fragment: str, text: str | bytes | None = None, command: str = "train", **params: Any
) -> Case:
    def action(project: Path) -> list[str]:
        if isinstance(text, bytes):
            (project / "params.yaml").write_bytes(text)
        elif text is not None:
            (project / "params.yaml").write_text(text)
        else:
            _params(project, **params)
        return [command]

    return Case(name, "cli", 2, fragment, action)


def params_cases() -> list[Case]:
    return [
        _params_case("unknown model", "model.name: unknown model 'xgbost'", model__name="xgbost"),
        _params_case(
            "yes as a number",
            "model.lightgbm.n_estimators: Input should be a valid integer",
            model__lightgbm__n_estimators=True,
        ),
        _params_case(
            "number as text",
            "learning_rate: Input should be a valid number",
            model__lightgbm__learning_rate="0.1",
        ),
        _params_case(
            "duplicate key", "duplicate key 'base'", text="base:\n  seed: 1\nbase:\n  seed: 2\n"
        ),
        _params_case("empty params", "the file is empty", text=""),
        _params_case("not yaml", "not valid YAML", text="base: [1, 2\n"),
        _params_case("a list", "expected a mapping of sections", text="- 1\n- 2\n"),
        _params_case("unknown section", "nonsense: unknown key", nonsense={"a": 1}),
        _params_case(
            "unknown model key", "model.lightgbm.trees: unknown key", model__lightgbm__trees=3
        ),
        _params_case("fractions", "train + validation + test must be 1.0", split__train=0.9),
        _params_case(
            "undeclared entity",
            "features.entities: card not declared",
            features__entities={"card": {"windows": ["1d"]}},
        ),
        _params_case(
            "bad duration", "'7 days' is not a duration", split__gap="7 days", command="data"
        ),
        _params_case(
            "gap with random split",
            "gap needs method: time",
            split__method="random",
            split__gap="1d",
            command="data",
        ),
        _params_case("unknown strategy", "threshold.strategy", threshold__strategy="best"),
        _params_case(
            "unknown mitigation",
            "experiments.fairness.mitigation",
            experiments__fairness__mitigation="magic",
            command="evaluate",
        ),
        _params_case(
            "negative max amount", "data.max_amount", data__max_amount=-1.0, command="data"
        ),
        _params_case("not utf-8", "not UTF-8", text=b"base:\n  seed: 1\n# caf\xe9\n"),
        _params_case("tune storage not a URL", "is not a database URL", tune__storage="not-a-url"),
        _params_case(
            "min_cost without amounts",
            "min_cost weighs each missed fraud by its amount",
            threshold__strategy="min_cost",
            data__schema__amount=None,
            command="data",
        ),
        _params_case(
            "card entity not declared",
            "evaluate.card_entity: 'customer' is not an entity role",
            evaluate__card_entity="customer",
            command="evaluate",
        ),
    ]


def _fault(name: str, fragment: str, damage: Callable[[Path], None], argv: list[str]) -> Case:
    def action(project: Path) -> list[str]:
        damage(project)
        return argv

    return Case(name, "cli", 2, fragment, action)


def _payload(project: Path) -> Path:
    from fraudctl.model.bundle import payload_dir

    return payload_dir(project / "models/model")


def fault_cases() -> list[Case]:
    return [
        _fault(
            "corrupt LightGBM text",
            "changed after training",
            lambda p: (_payload(p) / "estimator.lgb.txt").write_text("tree\ngarbage"),
            ["evaluate"],
        ),
        _fault(
            "corrupt transform",
            "changed after training",
            lambda p: (_payload(p) / "transform.json").write_text("{"),
            ["evaluate"],
        ),
        _fault(
            "missing MLmodel",
            "no MLmodel file",
            lambda p: (p / "models/model/MLmodel").unlink(),
            ["evaluate"],
        ),
        _fault(
            "pickled model",
            "pickles can run code",
            lambda p: (p / "models/model/MLmodel").write_text(
                "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
            ),
            ["evaluate"],
        ),
        _fault(
            "truncated features",
            "not a readable parquet file",
            lambda p: _truncate(p / "data/features/test.parquet"),
            ["evaluate"],
        ),
        _fault(
            "missing split",
            "run `fraudctl features build`",
            lambda p: (p / "data/features/test.parquet").unlink(),
            ["evaluate"],
        ),
        _fault(
            "reports is a file",
            "cannot write",
            lambda p: (shutil.rmtree(p / "reports/plots"), (p / "reports/plots").write_text("x")),
            ["evaluate"],
        ),
        _fault(
            "unknown base ref",
            "'not-a-ref' is not a git revision",
            _git_project,
            ["report", "--base", "not-a-ref"],
        ),
        _fault(
            "score: bad output suffix",
            "the output must end in",
            lambda p: None,
            ["score", "data/prepared/test.parquet", "--output", "scores.txt"],
        ),
        _fault(
            "score: input lacks columns",
            "missing column(s)",
            lambda p: _ulb(50).drop(columns=["V4"]).to_csv(p / "batch.csv", index=False),
            ["score", "batch.csv", "--output", "out.csv"],
        ),
        _fault(
            "score: no model",
            "model directory",
            lambda p: None,
            ["score", "data/prepared/test.parquet", "-o", "o.csv", "--model", "nowhere"],
        ),
        _fault(
            "serve: no model",
            "model directory not found",
            lambda p: None,
            ["serve", "--model", "nowhere"],
        ),
        _fault(
            "serve: bad store",
            "expected sqlite:///",
            lambda p: None,
            ["features", "materialize", "--store", "postgres://x"],
        ),
        _fault(
            "labels without columns",
            "missing column(s) transaction_id",
            lambda p: pd.DataFrame({"x": [1]}).to_csv(p / "labels.csv", index=False),
            ["features", "labels", "labels.csv", "--store", "sqlite:///online.db"],
        ),
        _fault(
            "score: output over the input",
            "would overwrite the input file",
            lambda p: shutil.copy(p / "data/prepared/test.parquet", p / "in.parquet"),
            ["score", "in.parquet", "-o", "in.parquet"],
        ),
        _fault(
            "score: output into a folder",
            "a folder; the output must be a file path",
            lambda p: (p / "out.parquet").mkdir(),
            ["score", "data/prepared/test.parquet", "-o", "out.parquet"],
        ),
        _fault(
            "score: a number 1e308",
            "values beyond",
            lambda p: _ulb(50).assign(V1=1e308).to_csv(p / "batch.csv", index=False),
            ["score", "batch.csv", "-o", "out.csv"],
        ),
        _fault(
            "model file changed after training",
            "changed after training",
            lambda p: (_payload(p) / "model.json").write_text('{"threshold": 5.0}'),
            ["score", "data/prepared/test.parquet", "-o", "o.csv"],
        ),
        _fault(
            "no params.yaml",
            "params.yaml not found in",
            lambda p: (p / "params.yaml").unlink(),
            ["evaluate"],
        ),
        _fault(
            "an extra file in the model",
            "not part of the model",
            lambda p: (_payload(p) / "notes.txt").write_text("x"),
            ["evaluate"],
        ),
        _fault(
            "MLmodel data outside the model",
            "points out of the model directory",
            lambda p: (p / "models/model/MLmodel").write_text(
                (p / "models/model/MLmodel")
                .read_text()
                .replace("data: data/fraudctl", "data: ../elsewhere")
            ),
            ["evaluate"],
        ),
        _fault(
            "drift: current lacks columns",
            "missing column(s)",
            lambda p: _ulb(80).drop(columns=["V9"]).to_csv(p / "batch.csv", index=False),
            ["experiment", "drift", "--current", "batch.csv"],
        ),
    ]


def _git_project(project: Path) -> None:
    import subprocess

    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x.invalid",
    }
    for args in (
        ["init", "-q"],
        ["add", "params.yaml"],
        ["commit", "-qm", "a"],
        ["commit", "-q", "--allow-empty", "-m", "b"],
    ):
        subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)


def _post(path: str, body: Any = None, content: bytes | None = None, **headers: str):
    def action(client: Any) -> Any:
        if content is not None:
            return client.post(
                path, content=content, headers={"content-type": "application/json", **headers}
            )
        return client.post(path, json=body, headers=headers)

    return action


def _row(**changes: Any) -> dict[str, Any]:
    row = {f"V{i}": 0.1 for i in range(1, 29)} | {"Amount": 12.5}
    row.update(changes)
    return {k: v for k, v in row.items() if v is not _DROP}


_DROP = object()


def api_cases() -> list[Case]:
    token = {"admin_token": "right"}
    return [
        Case("empty body", "api", 400, "empty body", _post("/predict", content=b"")),
        Case("invalid json", "api", 400, "not valid JSON", _post("/predict", content=b"{nope")),
        Case("NaN literal", "api", 422, "finite number", _post("/predict", content=b'{"V1": NaN}')),
        Case("missing field", "api", 422, "invalid request", _post("/predict", _row(V3=_DROP))),
        Case("text for a number", "api", 422, "invalid request", _post("/predict", _row(V4="1.5"))),
        Case(
            "boolean for a number", "api", 422, "invalid request", _post("/predict", _row(V5=True))
        ),
        Case(
            "API: negative amount",
            "api",
            422,
            "invalid request",
            _post("/predict", _row(Amount=-1.0)),
        ),
        Case(
            "API: amount 1e308",
            "api",
            422,
            "invalid request",
            _post("/predict", _row(Amount=1e308)),
        ),
        Case("array body", "api", 422, "invalid request", _post("/predict", [1, 2])),
        Case(
            "empty batch",
            "api",
            422,
            "invalid request",
            _post("/predict/batch", {"transactions": []}),
        ),
        Case(
            "batch over the limit",
            "api",
            422,
            "invalid request",
            _post("/predict/batch", {"transactions": [_row()] * 3}),
            {"max_batch_size": 2},
        ),
        Case(
            "columnar body nested 100k deep",
            "api",
            400,
            "not valid JSON",
            _post(
                "/predict/batch",
                content=b'{"columns": ' + b"[" * 100_000 + b"]" * 100_000 + b', "data": []}',
            ),
        ),
        Case(
            "body over the limit",
            "api",
            413,
            "limit",
            _post("/predict/batch", content=b'{"transactions": [' + b" " * 80_000 + b"]}"),
            {"max_batch_size": 2},
        ),
        Case(
            "not json",
            "api",
            415,
            "unsupported content type",
            lambda c: c.post("/predict", content=b"V1=1", headers={"content-type": "text/plain"}),
        ),
        Case(
            "no content type",
            "api",
            415,
            "unsupported content type",
            lambda c: c.post("/predict", content=b"{}", headers={"content-type": ""}),
        ),
        Case(
            "threshold, no token configured",
            "api",
            403,
            "disabled",
            lambda c: c.put("/model/threshold", json={"threshold": 0.5}),
        ),
        Case(
            "threshold, empty bearer",
            "api",
            401,
            "wrong bearer token",
            lambda c: c.put(
                "/model/threshold", json={"threshold": 0.5}, headers={"Authorization": "Bearer "}
            ),
            token,
        ),
        Case(
            "threshold out of range",
            "api",
            422,
            "invalid request",
            lambda c: c.put(
                "/model/threshold",
                json={"threshold": 1.5},
                headers={"Authorization": "Bearer right"},
            ),
            token,
        ),
        Case(
            "labels for a model without history",
            "api",
            409,
            "no history features",
            _post(
                "/labels",
                {"labels": [{"transaction_id": 1, "is_fraud": 1}]},
                Authorization="Bearer right",
            ),
            token,
        ),
        Case("wrong method", "api", 405, "Method Not Allowed", lambda c: c.get("/predict")),
        Case("unknown route", "api", 404, "Not Found", lambda c: c.get("/nowhere")),
    ]


def all_cases() -> list[Case]:
    from tests.catalogue.damaged_models import damaged_model_cases

    return data_cases() + params_cases() + fault_cases() + api_cases() + damaged_model_cases()


# --- running a case ---------------------------------------------------------------------


def snapshot(project: Path) -> dict[str, str]:
    digests = {}
    for top in GUARDED:
        for path in sorted((project / top).rglob("*")):
            if path.is_file():
                digests[str(path.relative_to(project))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return digests


@contextlib.contextmanager
def restored(project: Path) -> Iterator[None]:
    """Run a case on the project, then put back everything it may have touched."""
    keep = project.parent / f".{project.name}.keep"
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(project, keep, symlinks=True)
    try:
        yield
    finally:
        shutil.rmtree(project)
        keep.rename(project)


def run_case(case: Case, project: Path, model_dir: Path) -> str | None:
    """None when the case is clean, else what went wrong."""
    if case.kind == "api":
        return _run_api(case, model_dir)
    if case.kind == "process":  # a command that might abort: run in a process of its own
        from tests.catalogue.damaged_models import run_process_case

        return run_process_case(case, project)
    from typer.testing import CliRunner

    from fraudctl.cli import app

    with restored(project), _cwd(project):
        argv = case.action(project)
        before = snapshot(project)
        result = CliRunner().invoke(app, argv)
        after = snapshot(project)
    output = result.output
    problems = []
    if result.exit_code != case.expect:
        problems.append(f"exit {result.exit_code}, expected {case.expect}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problems.append(f"raised {type(result.exception).__name__}: {result.exception}")
    if "Traceback" in output:
        problems.append("printed a traceback")
    if case.fragment and case.fragment not in " ".join(output.split()):
        problems.append(f"message lacks {case.fragment!r}")
    if len(output) > 5_000:  # a message quotes values, never whole cells
        problems.append(f"output of {len(output):,} characters")
    if before != after:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        problems.append(f"outputs changed: {changed[:5]}")
    return "; ".join(problems) + f"\n{output[-600:]}" if problems else None


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _run_api(case: Case, model_dir: Path) -> str | None:
    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings

    settings = ServeSettings(model=str(model_dir), **case.settings)
    with TestClient(create_app(settings, load_in_background=False)) as client:
        response = case.action(client)
    try:
        body = response.json()
    except ValueError:
        return f"status {response.status_code}, body is not JSON"
    problems = []
    if response.status_code != case.expect:
        problems.append(f"status {response.status_code}, expected {case.expect}")
    if case.fragment and case.fragment not in json.dumps(body):
        problems.append(f"body lacks {case.fragment!r}: {json.dumps(body)[:300]}")
    return "; ".join(problems) or None


def build_project(root: Path) -> Path:
    """A small trained and evaluated ULB-shaped project: the last good outputs to protect."""
    from typer.testing import CliRunner

    from fraudctl.cli import app
    from tests.conftest import write_params

    root.mkdir(parents=True, exist_ok=True)
    write_params(root)
    with _cwd(root):
        for argv in (["data"], ["features", "build"], ["train"], ["evaluate"]):
            result = CliRunner().invoke(app, argv)
            assert result.exit_code == 0, result.output
    return root
