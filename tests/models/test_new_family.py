"""docs/layout.md says a new model family is one module: this test writes one (with its own
hyper-parameters, its own file format and its own exact explanations), imports it, and
trains, saves, loads, explains and serves the family through the project's own doors."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudctl.model import families, payloads
from tests.conftest import FEATURES, invoke, write_params

TOY_MODULE = '''
"""A toy family: a logistic score of the distance to the frauds' mean row."""

import json

import numpy as np
from pydantic import Field

from fraudctl.model import payloads
from fraudctl.model.families import Family, register
from fraudctl.sections import _Section


class CentroidParams(_Section):
    scale: float = Field(default=1.0, gt=0)


class Centroid:
    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, rows, labels, **_):
        matrix = np.asarray(rows, dtype=float)
        self.centre_ = np.nanmean(matrix[np.asarray(labels) == 1], axis=0)
        self.spread_ = np.nanstd(matrix, axis=0) + 1e-9
        return self

    def _margin(self, rows):
        matrix = np.nan_to_num(np.asarray(rows, dtype=float))
        distance = np.sqrt((((matrix - self.centre_) / self.spread_) ** 2).mean(axis=1))
        return self.scale * (2.0 - distance)

    def predict_proba(self, rows):
        fraud = 1 / (1 + np.exp(-self._margin(rows)))
        return np.column_stack([1 - fraud, fraud])


def _save(estimator, path):
    path.write_text(json.dumps({"scale": estimator.scale, "centre": estimator.centre_.tolist(),
                                "spread": estimator.spread_.tolist()}))


def _load(path):
    stored = json.loads(path.read_text())
    model = Centroid(stored["scale"])
    model.centre_, model.spread_ = np.array(stored["centre"]), np.array(stored["spread"])
    return model


def _contributions(estimator, rows):
    # exact for a model this simple: each input's share of the margin, around zero
    margin = estimator._margin(rows)
    width = rows.shape[1]
    return np.repeat((margin / width)[:, None], width, axis=1), 0.0


FORMAT = payloads.Format("toy-centroid-json", "estimator.centroid.json", _save, _load)

register(
    Family(
        "toy_centroid",
        CentroidParams,
        lambda context: Centroid(**context.hyperparameters("toy_centroid")),
        FORMAT,
        explainer="native",
        contributions=_contributions,
        summary="a toy: distance to the frauds' mean row",
    )
)
'''


@pytest.fixture
def toy_family(tmp_path: Path):
    """The module above, imported the way a new file in fraudctl/model/families/ would be."""
    module_path = tmp_path / "toy_centroid.py"
    module_path.write_text(textwrap.dedent(TOY_MODULE))
    spec = importlib.util.spec_from_file_location("toy_centroid", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["toy_centroid"] = module
    spec.loader.exec_module(module)
    yield module
    families.FAMILIES.pop("toy_centroid", None)
    payloads.FORMATS.pop(module.FORMAT.name, None)
    payloads.KIND_FORMATS.pop("toy_centroid", None)
    sys.modules.pop("toy_centroid", None)


def test_a_new_family_is_one_module(project, runner, registry_name, toy_family):
    write_params(
        project,
        {
            "tracking": {"registered_model": registry_name},
            "model": {"name": "toy_centroid", "toy_centroid": {"scale": 2.0}},
            "selection": {"folds": 2},
        },
    )
    listed = invoke(runner, "models")
    assert "toy_centroid" in listed.output and "a toy" in listed.output
    for args in (["data"], ["features", "build"], ["train"], ["evaluate"]):
        result = invoke(runner, *args)
        assert result.exit_code == 0, (args, result.output)

    from fraudctl.model.bundle import load_model
    from fraudctl.model.explainers import contributions

    model = load_model(Path("models/model"))
    assert model.kind == "toy_centroid"
    assert (model.payload / toy_family.FORMAT.filename).exists()  # saved in its own format
    test = pd.read_parquet("data/features/test.parquet")
    scores = model.score_features(test)
    assert np.all((scores > 0) & (scores < 1))
    values, base = contributions(model.estimator, model.kind, test[model.features].head(3))
    assert values.shape == (3, len(model.features)) and base == 0.0

    refused = write_params(
        project, {"model": {"name": "toy_centroid", "toy_centroid": {"scale": 0}}}
    )
    assert refused.exists()
    result = invoke(runner, "train")
    assert result.exit_code == 2 and "model.toy_centroid.scale" in result.output

    from fastapi.testclient import TestClient

    from fraudctl.serve.app import create_app
    from fraudctl.serve.settings import ServeSettings
    from tests.serve.conftest import wait_ready

    with TestClient(create_app(ServeSettings(model="models/model"))) as client:
        wait_ready(client)
        row = {name: float(test[name].iloc[0]) for name in FEATURES}
        answer = client.post("/predict", json=row)
        assert answer.status_code == 200, answer.text
        assert answer.json()["probability"] == pytest.approx(scores[0], abs=1e-9)
        assert client.get("/model").json()["kind"] == "toy_centroid"
