"""Nobody in: loading a model never runs code, an empty token opens nothing, and request
bodies are bounded."""

from __future__ import annotations

import contextlib
import json
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudctl.errors import ArtifactError
from tests.conftest import cli_env
from tests.serve.conftest import transaction


class _Exploit:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.marker)],))


def _pickled_model(tmp_path: Path) -> tuple[Path, Path]:
    """An MLflow sklearn-flavour model directory whose pickle runs a command when loaded."""
    model = tmp_path / "evil-model"
    model.mkdir()
    marker = tmp_path / "pwned"
    (model / "model.pkl").write_bytes(pickle.dumps(_Exploit(marker)))
    (model / "MLmodel").write_text(
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        "    model_path: model.pkl\n"
        "  sklearn:\n"
        "    pickled_model: model.pkl\n"
        "    serialization_format: cloudpickle\n"
        "metadata:\n"
        "  threshold: 0.5\n"
        "  features: [Amount]\n",
        encoding="utf-8",
    )
    return model, marker


def test_a_crafted_pickle_is_refused_and_never_run(tmp_path):
    from fraudctl.model.bundle import load_model

    model, marker = _pickled_model(tmp_path)
    with pytest.raises(ArtifactError, match="pickles can run code"):
        load_model(model)
    assert not marker.exists()


def test_serve_refuses_the_crafted_pickle_with_one_line(tmp_path):
    model, marker = _pickled_model(tmp_path)
    _assert_serve_refuses(model, "pickles can run code")
    assert not marker.exists()


def _assert_serve_refuses(model: Path, message: str) -> None:
    """`fraudctl serve` on this model exits 2 with one line naming the problem."""
    result = subprocess.run(
        ["fraudctl", "serve", "--model", str(model), "--port", "1"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def _reseal(payload: Path) -> None:
    """Rewrite the contract's file digests to match the files as they are now: what an
    attacker who can write the model directory can do. The digests catch damage and
    mix-ups; the loaders' own checks must still refuse hostile content."""
    from dataclasses import replace

    from fraudctl.model.contract import digest_folder, read_contract, write_contract

    write_contract(payload, replace(read_contract(payload), files=digest_folder(payload)))


def _skops_file(path: Path, schema: dict) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))


def _eval_schema(marker: Path) -> dict:
    """A skops file whose only object is ``builtins.eval("<touch marker>")``."""
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    argument = {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(code),
        "is_json": True,
        "__id__": 2,
    }
    return {
        "__class__": "eval",
        "__module__": "builtins",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [argument],
            "__id__": 3,
        },
        "__id__": 1,
        "protocol": 2,
        "_skops_version": "0.16.0",
    }


def _skops_model(tmp_path: Path, model_dir: Path, schema: dict) -> Path:
    """A copy of the served model whose estimator is the given skops file, contract
    digests rewritten to match."""
    from fraudctl.model.bundle import METADATA_FILE, payload_dir
    from fraudctl.model.payloads import SKOPS

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    payload = payload_dir(copy)
    (payload / "estimator.lgb.txt").unlink()
    metadata = json.loads((payload / METADATA_FILE).read_text())
    (payload / METADATA_FILE).write_text(json.dumps({**metadata, "estimator_format": "skops"}))
    _skops_file(payload / SKOPS.filename, schema)
    _reseal(payload)
    return copy


def test_the_crafted_eval_file_runs_code_when_trusted(tmp_path):
    """The crafted file is a real exploit (so the refusals below prove something)."""
    import skops.io

    marker = tmp_path / "ran"
    _skops_file(tmp_path / "evil.skops", _eval_schema(marker))
    skops.io.load(tmp_path / "evil.skops", trusted=["builtins.eval"])
    assert marker.exists()


@pytest.mark.parametrize("door", ["score", "evaluate-load", "serve"])
def test_a_skops_file_that_calls_eval_is_refused_at_every_door(
    tmp_path, trained, model_dir, door, runner
):
    from tests.conftest import invoke

    marker = tmp_path / "pwned"
    model = _skops_model(tmp_path, model_dir, _eval_schema(marker))
    if door == "evaluate-load":
        from fraudctl.model.bundle import load_model

        with pytest.raises(ArtifactError, match="refusing to load types no fraudctl model saves"):
            load_model(model)
    elif door == "score":
        rows = str(trained.split_file("test"))
        result = invoke(
            runner, "score", rows, "-o", str(tmp_path / "out.csv"), "--model", str(model)
        )
        assert result.exit_code == 2 and "builtins.eval" in result.output, result.output
    else:
        _assert_serve_refuses(model, "builtins.eval")
    assert not marker.exists()


def test_a_tampered_skops_file_is_refused_by_its_digest_first(tmp_path, model_dir):
    from fraudctl.model.bundle import load_model, payload_dir

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    (payload_dir(copy) / "estimator.skops").write_bytes(b"PK")
    with pytest.raises(ArtifactError, match=r"estimator.skops: not part of the model"):
        load_model(copy)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    module=st.from_regex(
        r"(builtins|os|subprocess|numpy|sklearn|scipy|collections|functools)(\.[a-z_]{1,12}){0,2}",
        fullmatch=True,
    ),
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True),
)
def test_random_skops_type_names_load_only_from_the_allow_list(tmp_path, module, name):
    """Any type a file names is refused unless a family saves exactly that type."""
    from fraudctl.model.payloads import SKOPS, trusted_skops_types

    path = tmp_path / f"{module}.{name}.skops"
    _skops_file(
        path,
        {
            "__class__": name,
            "__module__": module,
            "__loader__": "ObjectNode",
            "__id__": 1,
            "protocol": 2,
            "_skops_version": "0.16.0",
        },
    )
    import skops.io

    untrusted = set(skops.io.get_untrusted_types(file=path))
    if untrusted - trusted_skops_types():
        with pytest.raises(ArtifactError, match="refusing to load types"):
            SKOPS.load(path)
    else:  # an allowed type that does not build from an empty object is unreadable
        with contextlib.suppress(ArtifactError):
            SKOPS.load(path)


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_admin_token_disables_the_admin_routes(make_client, token):
    client = make_client(admin_token=token)
    for header in ("Bearer ", f"Bearer {token}", None):
        headers = {"Authorization": header} if header is not None else {}
        response = client.put("/model/threshold", json={"threshold": 0.5}, headers=headers)
        assert response.status_code == 403, (header, response.json())


def test_bodies_are_bounded_and_must_be_json(make_client, test_rows):
    client = make_client(max_batch_size=2)
    limit = 2 * 2048 + 65_536
    huge = b'{"transactions": [' + b" " * (limit + 10) + b"]}"
    response = client.post(
        "/predict/batch", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "limit" in response.json()["error"]
    row = transaction(test_rows, 0)
    text = client.post("/predict", content=str(row), headers={"content-type": "text/plain"})
    assert text.status_code == 415
    assert client.post("/predict", json=row).status_code == 200


def test_wrong_method_says_which_are_allowed(client):
    response = client.get("/predict")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_openapi_documents_every_error_status(client):
    document = client.get("/openapi.json").json()
    threshold = document["paths"]["/model/threshold"]["put"]
    assert {"401", "403", "413", "415", "422"} <= set(threshold["responses"])
    assert "requestBody" in threshold
    assert {"400", "413", "415", "422", "503"} <= set(
        document["paths"]["/predict"]["post"]["responses"]
    )
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def test_a_chunked_body_is_cut_off_at_the_limit(make_client):
    client = make_client(max_batch_size=2)
    pieces = iter([b'{"transactions": ['] + [b" " * 8192] * 20 + [b"]}"])  # no Content-Length
    response = client.post(
        "/predict/batch", content=pieces, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "limit" in response.json()["error"]


@pytest.mark.parametrize("size", [100_000, 16_000_000])
def test_oversized_headers_are_refused(client, size):
    response = client.get("/health/live", headers={"X-Padding": "a" * size})
    assert response.status_code == 431 and "16,384-byte limit" in response.text
    assert client.get("/health/live", headers={"X-Padding": "a" * 1000}).status_code == 200
