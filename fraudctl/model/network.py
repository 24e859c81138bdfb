"""A small tabular neural network: trained with PyTorch, scored with numpy.

Training needs the ``torch`` extra (PyTorch's CPU build). Scoring does not: the fitted
network is a few weight matrices, and a forward pass is a handful of numpy matrix products.
So serving, batch scoring and a saved MLflow model need no PyTorch, and every door (train,
evaluate, the experiments, ``fraudctl score``, the API) scores with the same numpy code.

The weights are saved as a numpy ``.npz`` archive read with ``allow_pickle=False``: loading
a model never runs code.

Inputs are imputed (the training medians: history features are NaN without history) and
standardised. Category codes are used as numbers, as the scikit-learn families do.
Early stopping watches the loss on the latest ``validation_fraction`` of the training rows
(they arrive in time order), so the network stops where it predicts later rows best.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from fraudctl.errors import ArtifactError, ConfigError

TORCH_EXTRA = "pip install 'fraudctl[torch]' (PyTorch's CPU build)"
WEIGHTS_FORMAT = 1


class NeuralNetworkClassifier(ClassifierMixin, BaseEstimator):
    """A ReLU multi-layer perceptron with a sigmoid output (scikit-learn's estimator API)."""

    def __init__(
        self,
        hidden_layers: tuple[int, ...] = (64, 32),
        alpha: float = 1e-4,
        learning_rate_init: float = 1e-3,
        batch_size: int = 512,
        max_iter: int = 200,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 8,
        dropout: float = 0.0,
        pos_weight: float = 1.0,
        threads: int = 2,
        random_state: int = 0,
    ):
        self.hidden_layers = hidden_layers
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.pos_weight = pos_weight
        self.threads = threads
        self.random_state = random_state

    # --- training (PyTorch) ------------------------------------------------------------

    def fit(self, features: Any, target: Any) -> NeuralNetworkClassifier:
        try:
            import torch
        except ImportError:
            raise ConfigError(
                f"model: the neural network trains with PyTorch: {TORCH_EXTRA}"
            ) from None
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(target, dtype=np.float32)
        self.n_features_in_ = x.shape[1]
        self.classes_ = np.array([0, 1])
        medians = np.nanmedian(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
        self.medians_ = np.nan_to_num(medians)
        filled = np.where(np.isnan(x), self.medians_, x)
        self.means_ = filled.mean(axis=0)
        spread = filled.std(axis=0)
        self.scales_ = np.where(spread > 0, spread, 1.0)
        inputs = self._standardise(x).astype(np.float32)  # torch trains in float32
        fit_rows, held_rows = self._split(y)

        torch.manual_seed(self.random_state)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.threads))
        try:
            network = self._network(torch)
            self.weights_, self.epochs_, self.best_loss_ = _train(
                torch, network, inputs, y, fit_rows, held_rows, self
            )
        finally:
            torch.set_num_threads(previous_threads)
        return self

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows to fit on and rows that stop the training. The latest
        ``validation_fraction`` when both parts hold a fraud (rows arrive in time order);
        otherwise (few frauds, resampled rows) a seeded random share that holds some."""
        rows = len(y)
        held = max(1, round(rows * self.validation_fraction))
        cut = rows - held
        if cut > 0 and y[cut:].any() and y[:cut].any():
            return np.arange(cut), np.arange(cut, rows)
        frauds, legit = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        if len(frauds) < 2 or len(legit) < 2:
            raise ConfigError(
                f"model: the neural network's early stopping needs two frauds and two "
                f"legitimate rows; the training rows hold {len(frauds)} and {len(legit)}"
            )
        shuffle = np.random.default_rng(self.random_state).permutation
        held_frauds = max(1, round(len(frauds) * self.validation_fraction))
        held_legit = max(1, round(len(legit) * self.validation_fraction))
        frauds, legit = shuffle(frauds), shuffle(legit)
        held_rows = np.sort(np.concatenate([frauds[:held_frauds], legit[:held_legit]]))
        fit_rows = np.sort(np.concatenate([frauds[held_frauds:], legit[held_legit:]]))
        return fit_rows, held_rows

    def _network(self, torch: Any) -> Any:
        layers: list[Any] = []
        width = self.n_features_in_
        for size in self.hidden_layers:
            layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
            if self.dropout > 0:
                layers.append(torch.nn.Dropout(self.dropout))
            width = size
        layers.append(torch.nn.Linear(width, 1))
        return torch.nn.Sequential(*layers)

    # --- scoring (numpy) ---------------------------------------------------------------

    def _standardise(self, features: Any) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got shape {x.shape}")
        filled = np.where(np.isnan(x), self.medians_, x)
        return (filled - self.means_) / self.scales_

    def decision_function(self, features: Any) -> np.ndarray:
        """Log-odds of fraud, in float64: float32 products round differently for one row
        (a matrix-vector product) and for a batch (a matrix product), and a served row
        must get the same number whichever way it arrives."""
        hidden = self._standardise(features)
        *layers, (last_weight, last_bias) = self._weights64()
        for weight, bias in layers:
            hidden = np.maximum(hidden @ weight + bias, 0.0)
        return (hidden @ last_weight + last_bias)[:, 0]

    def _weights64(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The layers as float64 (transposed weight, bias), converted once per fit."""
        cached = getattr(self, "_cached_weights", None)
        if cached is None or cached[0] is not self.weights_:
            converted = [
                (np.ascontiguousarray(w.T, dtype=np.float64), b.astype(np.float64))
                for w, b in self.weights_
            ]
            cached = (self.weights_, converted)
            self._cached_weights = cached
        return cached[1]

    def predict_proba(self, features: Any) -> np.ndarray:
        fraud = 1.0 / (1.0 + np.exp(-self.decision_function(features)))
        return np.column_stack([1.0 - fraud, fraud])

    def predict(self, features: Any) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)

    # --- saving ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        settings = {"format": WEIGHTS_FORMAT, "params": self.get_params(), "epochs": self.epochs_}
        settings["params"]["hidden_layers"] = list(self.hidden_layers)
        arrays = {"medians": self.medians_, "means": self.means_, "scales": self.scales_}
        for index, (weight, bias) in enumerate(self.weights_):
            arrays[f"weight{index}"], arrays[f"bias{index}"] = weight, bias
        with path.open("wb") as handle:
            np.savez(handle, settings=np.array(json.dumps(settings)), **arrays)

    @classmethod
    def load(cls, path: Path) -> NeuralNetworkClassifier:
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            settings = json.loads(str(arrays.pop("settings")))
            if settings.get("format") != WEIGHTS_FORMAT:
                raise ValueError(f"weights format {settings.get('format')!r}")
            params = settings["params"]
            params["hidden_layers"] = tuple(params["hidden_layers"])
            model = cls(**params)
            model.medians_, model.means_, model.scales_ = (
                arrays["medians"],
                arrays["means"],
                arrays["scales"],
            )
            model.weights_ = [
                (arrays[f"weight{i}"], arrays[f"bias{i}"])
                for i in range(len(params["hidden_layers"]) + 1)
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{path}: not a fraudctl neural network ({exc})") from None
        widths = [model.medians_.shape[0]] + [w.shape[0] for w, _ in model.weights_]
        if any(w.shape != (widths[i + 1], widths[i]) for i, (w, _) in enumerate(model.weights_)):
            raise ArtifactError(f"{path}: layer shapes do not chain: {widths}")
        model.n_features_in_ = widths[0]
        model.classes_ = np.array([0, 1])
        model.epochs_ = int(settings.get("epochs", 0))
        return model


def _train(
    torch: Any,
    network: Any,
    inputs: np.ndarray,
    target: np.ndarray,
    fit_rows: np.ndarray,
    held_rows: np.ndarray,
    settings: NeuralNetworkClassifier,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int, float]:
    """Mini-batch AdamW on the weighted log-loss; the weights of the epoch with the lowest
    held-out loss win."""
    x = torch.from_numpy(inputs)
    y = torch.from_numpy(target)
    x_fit, y_fit = x[fit_rows], y[fit_rows]
    x_held, y_held = x[held_rows], y[held_rows]
    loss_of = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(settings.pos_weight))
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=settings.learning_rate_init, weight_decay=settings.alpha
    )
    shuffler = torch.Generator().manual_seed(settings.random_state)
    best_loss, best_state, best_epoch, waited = float("inf"), None, 0, 0
    for epoch in range(1, settings.max_iter + 1):
        network.train()
        for batch in torch.randperm(len(x_fit), generator=shuffler).split(settings.batch_size):
            optimiser.zero_grad()
            loss = loss_of(network(x_fit[batch])[:, 0], y_fit[batch])
            loss.backward()
            optimiser.step()
        network.eval()
        with torch.no_grad():
            held_loss = float(loss_of(network(x_held)[:, 0], y_held))
        if held_loss < best_loss - 1e-7:
            best_loss, best_epoch, waited = held_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            waited += 1
            if waited >= settings.n_iter_no_change:
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    linear = [m for m in network if isinstance(m, torch.nn.Linear)]
    weights = [
        (layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy())
        for layer in linear
    ]
    return weights, best_epoch, best_loss
