"""The neural network family: trained with PyTorch, saved without pickle, scored by numpy."""

from __future__ import annotations

import io
import sys
import zipfile

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fraudctl.errors import ArtifactError, ConfigError
from fraudctl.model.network import NeuralNetworkClassifier

pytest.importorskip("torch", reason="the torch extra is part of `make test`'s install")


def rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Frauds where two features interact (no single split finds them), 2 % of rows,
    some history features missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    score = x[:, 0] * x[:, 1] + 0.5 * x[:, 2]
    y = (score > np.quantile(score, 0.98)).astype(int)
    x[rng.random(n) < 0.1, 3] = np.nan
    return x, y


@pytest.fixture(scope="module")
def fitted() -> NeuralNetworkClassifier:
    x, y = rows(6000, 0)
    return NeuralNetworkClassifier(hidden_layers=(16, 8), max_iter=400, random_state=3).fit(x, y)


def test_it_learns_an_interaction_and_stops_early(fitted):
    from sklearn.linear_model import LogisticRegression

    x, y = rows(3000, 1)
    train_x, train_y = rows(6000, 0)
    linear = LogisticRegression().fit(np.nan_to_num(train_x), train_y)
    linear_auc = roc_auc_score(y, linear.predict_proba(np.nan_to_num(x))[:, 1])  # about 0.67
    assert roc_auc_score(y, fitted.predict_proba(x)[:, 1]) > linear_auc + 0.15
    assert 1 <= fitted.epochs_ < 400  # early stopping chose an epoch before the last


def test_the_same_seed_gives_the_same_network():
    x, y = rows(2000, 2)
    first, second = (
        NeuralNetworkClassifier(hidden_layers=(8,), max_iter=5, random_state=1).fit(x, y)
        for _ in range(2)
    )
    np.testing.assert_array_equal(first.predict_proba(x), second.predict_proba(x))


def test_saved_weights_score_identically_and_load_without_pickle(fitted, tmp_path):
    path = tmp_path / "estimator.network.npz"
    fitted.save(path)
    loaded = NeuralNetworkClassifier.load(path)
    x, _ = rows(500, 4)
    np.testing.assert_array_equal(loaded.predict_proba(x), fitted.predict_proba(x))
    assert loaded.get_params() == fitted.get_params()


def test_a_pickled_or_damaged_archive_is_refused(fitted, tmp_path):
    path = tmp_path / "estimator.network.npz"
    fitted.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    np.save(buffer, np.array([print], dtype=object), allow_pickle=True)  # code on load
    members["medians.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ArtifactError, match="not a fraudctl neural network"):
        NeuralNetworkClassifier.load(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="not a fraudctl neural network"):
        NeuralNetworkClassifier.load(path)


def test_early_stopping_needs_frauds_on_both_sides():
    x, _ = rows(400, 5)
    y = np.zeros(400, dtype=int)
    y[10] = 1
    with pytest.raises(ConfigError, match="two frauds"):
        NeuralNetworkClassifier(max_iter=2).fit(x, y)


def test_training_without_pytorch_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    x, y = rows(200, 6)
    with pytest.raises(ConfigError, match=r"fraudctl\[torch\]"):
        NeuralNetworkClassifier(max_iter=1).fit(x, y)
