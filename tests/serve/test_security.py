"""Nobody in: loading a model never runs code, an empty token opens nothing, and request
bodies are bounded."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest

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
    result = subprocess.run(
        ["fraudctl", "serve", "--model", str(model), "--port", "1"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "pickles can run code" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_tampered_skops_file_with_foreign_types_is_refused(tmp_path, model_dir):
    """Only scikit-learn and numpy types load from a skops file."""
    import skops.io

    from fraudctl.model.bundle import METADATA_FILE, load_model, payload_dir
    from fraudctl.model.payloads import SKOPS

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    payload = payload_dir(copy)
    (payload / "estimator.lgb.txt").unlink()
    metadata = json.loads((payload / METADATA_FILE).read_text())
    (payload / METADATA_FILE).write_text(json.dumps({**metadata, "estimator_format": "skops"}))
    skops.io.dump({"step": _Exploit(tmp_path / "pwned")}, payload / SKOPS.filename)
    with pytest.raises(ArtifactError, match="refusing to load types"):
        load_model(copy)
    assert not (tmp_path / "pwned").exists()


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
