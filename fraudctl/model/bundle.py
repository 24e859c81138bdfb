"""The saved model: feature transform + estimator + threshold, in files that cannot run code.

A model directory is an MLflow model whose ``python_function`` flavour names a loader
module (:mod:`fraudctl.model.pyfunc`) and a data folder holding:

- ``transform.json``: the fitted feature transform (roles, vocabularies, definitions);
- the estimator in its family's own safe format (:mod:`fraudctl.model.payloads`: LightGBM
  text, XGBoost JSON, CatBoost binary, skops with trusted types, or a blend folder);
- ``model.json``: threshold, kind, feature order, validation metrics and fingerprint;
- ``rules.json``, for a model with rules: the rule set it decides with
  (:mod:`fraudctl.model.rulebook`);
- ``contract.json``: the input contract (:mod:`fraudctl.model.contract`): raw columns in
  order with roles, dtypes and vocabularies, the estimator's inputs in order, the
  transform's digest, the data it was trained on, and the SHA-256 of every file above.

Every door (evaluate, the experiments, the card, ``score``, ``serve``, the pyfunc, the UI)
loads a model here, which checks the files against the contract, and scores through
:meth:`FraudModel.probabilities` on inputs placed by name (:meth:`FraudModel.inputs`,
:meth:`FraudModel.inputs_from_features`): one model, one answer, whichever door. A door
that decides (block, review or allow, and which rule) calls :meth:`FraudModel.decide` for a
batch of raw rows, :meth:`FraudModel.decide_inputs` when it has the inputs and
probabilities already, or :meth:`FraudModel.decide_one` for one transaction: the model's
own rules, applied by one library (:mod:`fraudctl.rules.decide`).

No pickle is written or read: a model file from the registry, a bucket or a pull request
cannot execute code when loaded. A directory in the old pickled format is refused with a
message saying to retrain.

Run-specific facts (run id, registry version) live beside the model in
``models/registry.json``, not inside it, so retraining the same params on the same data
gives a byte-identical model directory and DVC sees no change.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.errors import ArtifactError
from fraudctl.features.transform import FeatureTransform
from fraudctl.model import contract as contracts
from fraudctl.model import payloads, rulebook
from fraudctl.model.deciding import Deciding
from fraudctl.rules.ruleset import RuleSet

PAYLOAD_DIR = "fraudctl"
LOADER_MODULE = "fraudctl.model.pyfunc"
TRANSFORM_FILE = "transform.json"
METADATA_FILE = "model.json"
LIGHTGBM_FILE = payloads.LIGHTGBM.filename
FORMAT_VERSION = 3
ROWS_PER_PIECE = 1 << 16  # rows per input matrix when rows are scored independently
# Run-specific facts beside the model (not inside: see the module docstring).


@dataclass
class FraudModel(Deciding):
    """What every door applies to raw rows: transform -> estimator -> probability.

    The estimator is read from the payload on first use. Batch scoring of a LightGBM model
    never needs it: the trees are compiled straight from the payload's text file, so
    ``fraudctl score`` does not import LightGBM or scikit-learn (about a second of start-up).
    """

    transform: FeatureTransform
    metadata: dict[str, Any]
    payload: Path
    contract: contracts.InputContract
    rules: RuleSet = field(default_factory=RuleSet)  # empty: the threshold alone decides
    _estimator: Any = field(default=None, repr=False)
    _scorer: Any = field(default=None, repr=False)
    _engine: str = field(default="", repr=False)

    @property
    def estimator(self) -> Any:
        if self._estimator is None:
            estimator = _load_estimator(self.payload)
            _check_estimator_inputs(estimator, self.contract.model_inputs, self.payload)
            self._estimator = estimator
        return self._estimator

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    @property
    def kind(self) -> str:
        return str(self.metadata["kind"])

    @property
    def features(self) -> list[str]:
        """The estimator's input columns, in the order it was fitted on (the contract's)."""
        return self.contract.model_inputs

    @functools.cached_property
    def input_limits(self) -> dict[str, float]:
        """Raw numeric column -> the largest magnitude scoring accepts."""
        return contracts.input_limits(self.contract)

    # --- the one way from rows to probabilities ---------------------------------------

    def inputs(self, raw: pd.DataFrame, history: pd.DataFrame | None = None) -> np.ndarray:
        """Raw rows -> the estimator's (rows, inputs) float64 matrix, each column placed by
        its name in the contract (the transform computes every input by name)."""
        return self.transform.matrix(raw, history)

    def inputs_from_features(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of already computed inputs (``data/features``) -> the same matrix, columns
        taken by name, never by position."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ArtifactError(
                f"{self.payload}: the feature rows lack model input(s) {', '.join(missing[:5])}"
                f"{' …' if len(missing) > 5 else ''}; the model and data/features disagree"
            )
        return np.ascontiguousarray(frame[self.features].to_numpy(dtype=np.float64))

    def probabilities(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        """Fraud probabilities of an input matrix: the one scorer every door uses."""
        if matrix.ndim != 2 or matrix.shape[1] != len(self.features):
            raise ValueError(f"expected (rows, {len(self.features)}) inputs, got {matrix.shape}")
        return self.scorer(threads)(matrix)

    def scorer(self, threads: int = 1) -> Any:
        """The fastest exact scorer of the estimator (:mod:`fraudctl.model.scorers`)."""
        from functools import partial

        if self._scorer is None:
            self._scorer, self._engine = self._build_scorer()
        if threads > 1 and self._engine == "compiled-forest":
            return partial(self._scorer, threads=threads)
        return self._scorer

    @property
    def engine(self) -> str:
        """Which code scores rows, e.g. ``compiled-forest`` or ``blend(...)``."""
        if self._scorer is None:
            self._scorer, self._engine = self._build_scorer()
        return self._engine

    def _build_scorer(self) -> tuple[Any, str]:
        text_model = self.payload / LIGHTGBM_FILE
        if self._estimator is None and text_model.exists():
            from fraudctl.model.forest import compile_model_text
            from fraudctl.model.model_files import check_lightgbm_text

            data = text_model.read_bytes()
            check_lightgbm_text(data, text_model)  # a cut file would compile fewer trees
            forest = compile_model_text(data.decode("utf-8", errors="replace"))
            if forest is not None:
                if forest.n_features != len(self.features):
                    raise ArtifactError(
                        f"{text_model}: the trees read {forest.n_features} inputs, the "
                        f"contract lists {len(self.features)}; retrain the model"
                    )
                return forest.probabilities, "compiled-forest"
        from fraudctl.model.scorers import scorer_for

        return scorer_for(self.kind, self.estimator)

    def score_features(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities of rows of computed inputs (evaluate, the experiments, the card)."""
        return self.probabilities(self.inputs_from_features(frame), threads=os.cpu_count() or 1)

    def predict_raw(self, raw: pd.DataFrame, history: pd.DataFrame | None = None) -> np.ndarray:
        if len(raw) <= ROWS_PER_PIECE:
            return self.probabilities(self.inputs(raw, history), threads=os.cpu_count() or 1)
        return np.concatenate([scores for _, scores in self.probability_pieces(raw, history)])

    def probability_pieces(
        self, raw: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """:meth:`predict_raw` a slice of rows at a time: (rows, their probabilities).

        Where no row needs another (no history features) each slice's inputs are computed
        on their own, so the input matrix is one slice's few MB used again and again rather
        than a whole table's fresh memory (touching fresh memory on a VM costs about as much
        as scoring it); a caller can also write one slice while the next is scored.
        """
        threads = os.cpu_count() or 1
        for rows, matrix in self._matrix_pieces(raw, history):
            yield rows, self.probabilities(matrix, threads=threads)

    def _matrix_pieces(
        self, raw: pd.DataFrame, history: pd.DataFrame | None
    ) -> Iterator[tuple[slice, np.ndarray]]:
        whole = self.inputs(raw, history) if self.transform.needs_history else None
        for start in range(0, len(raw), ROWS_PER_PIECE):
            rows = slice(start, min(start + ROWS_PER_PIECE, len(raw)))
            yield rows, self.inputs(raw.iloc[rows]) if whole is None else whole[rows]

    def feature_frame(self, raw: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
        return pd.DataFrame(self.inputs(raw, history), columns=self.features, index=raw.index)

    def warm_up(self) -> None:
        """Load the compiled kernels (numba's start-up, a few tenths of a second) now, so a
        caller can overlap it with reading its input."""
        if self.transform.specs:
            from fraudctl.features.kernel import warm_up

            warm_up()
        self.probabilities(np.zeros((1, len(self.features))))

    def require_trained_on(self, paths: Any, model_dir: Path) -> None:
        """Refuse to measure this model on features it was not trained on."""
        contracts.require_trained_on(self.contract, paths, model_dir)


# --- reading ---------------------------------------------------------------------------


def payload_dir(path: Path) -> Path:
    """The data folder of a model directory, after checking it is ours and pickle-free."""
    import yaml

    path = Path(path)
    mlmodel = path / "MLmodel"
    if not mlmodel.exists():
        raise ArtifactError(
            f"{path}: not an MLflow model directory (no MLmodel file); run `fraudctl train` first"
        )
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
        flavour = spec["flavors"]["python_function"]
    except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{mlmodel}: unreadable MLmodel file ({exc})") from None
    if flavour.get("loader_module") != LOADER_MODULE or "data" not in flavour:
        raise ArtifactError(
            f"{path}: not a fraudctl model in the safe format (its loader is "
            f"{flavour.get('loader_module')!r}); models stored as pickles can run code when "
            "loaded and are refused: retrain it with `fraudctl train`"
        )
    data = flavour["data"]
    inside = (
        isinstance(data, str)
        and not Path(data).is_absolute()
        and ".." not in Path(data).parts
        and (path / data).resolve().is_relative_to(path.resolve())
    )
    if not inside:  # never a path out of the model directory
        raise ArtifactError(
            f"{mlmodel}: data: {data!r} points out of the model directory; a fraudctl "
            "model keeps its files inside its own directory"
        )
    return path / data


def load_model(path: Path, *, lazy: bool = False) -> FraudModel:
    """Load a model directory (``models/model`` or one downloaded from the registry).

    With ``lazy`` the estimator file is read on first use (batch scoring may never need it);
    otherwise a damaged estimator is reported here.
    """
    return load_payload(payload_dir(path), lazy=lazy)


def load_payload(payload: Path, *, lazy: bool = False) -> FraudModel:
    """Read a payload folder after checking it against its input contract: every file's
    SHA-256, the transform's digest and input order, the threshold."""
    contract = contracts.verify(payload)  # first: any file changed since training is named
    metadata = _read_json(payload / METADATA_FILE)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_VERSION:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise ArtifactError(
            f"{payload}: model format {found!r} is not {FORMAT_VERSION}; "
            "retrain it with this version of fraudctl"
        )
    try:
        transform = FeatureTransform.from_dict(_read_json(payload / TRANSFORM_FILE))
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{payload / TRANSFORM_FILE}: unreadable transform ({exc})") from None
    if transform.digest() != contract.transform_sha256:
        raise ArtifactError(
            f"{payload / TRANSFORM_FILE}: not the transform the contract records; retrain"
        )
    if transform.output_columns != contract.model_inputs:
        raise ArtifactError(
            f"{payload / TRANSFORM_FILE}: computes inputs {transform.output_columns} but the "
            f"estimator was fitted on {contract.model_inputs}; retrain the model"
        )
    _check_metadata(metadata, payload)
    model = FraudModel(
        transform=transform,
        metadata=metadata,
        payload=payload,
        contract=contract,
        rules=rulebook.read_rules(payload, contract),
    )
    if model.rules:
        rulebook.check_loaded(model, payload)
    if not lazy:
        model.estimator  # noqa: B018 - read now, so a damaged file fails at load time
    return model


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing from the model directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc}); retrain the model") from None


def _check_metadata(metadata: dict[str, Any], payload: Path) -> None:
    import math

    threshold = metadata.get("threshold")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
        or not 0.0 <= threshold <= 1.0
    ):
        raise ArtifactError(
            f"{payload / METADATA_FILE}: threshold {threshold!r} is not a probability "
            "between 0 and 1"
        )
    if not isinstance(metadata.get("kind"), str):
        raise ArtifactError(f"{payload / METADATA_FILE}: kind {metadata.get('kind')!r} is unknown")


def estimator_input_names(estimator: Any) -> list[str] | None:
    """The input names a fitted estimator recorded itself, where its library keeps them."""
    from fraudctl.model.ensemble import BlendClassifier

    if isinstance(estimator, BlendClassifier):
        for _, member in estimator.members:
            names = estimator_input_names(member)
            if names is not None:
                return names
        return None
    booster = getattr(estimator, "booster_", None)
    if booster is not None and hasattr(booster, "feature_name"):
        return list(booster.feature_name())
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _check_estimator_inputs(estimator: Any, inputs: list[str], payload: Path) -> None:
    import re

    names = estimator_input_names(estimator)
    if names is None or names == [f"Column_{j}" for j in range(len(names))]:
        return  # fitted on an array: the library kept no names to check

    def plain(name: str) -> str:  # LightGBM writes spaces in names as underscores
        return re.sub(r"\s", "_", name)

    if [plain(n) for n in names] != [plain(n) for n in inputs]:
        raise ArtifactError(
            f"{payload}: the estimator was fitted on inputs {names[:8]}… in another order than "
            f"the contract's {list(inputs)[:8]}…; retrain the model"
        )


def _load_estimator(payload: Path) -> Any:
    try:
        recorded = json.loads((payload / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    chosen = payloads.find_format(payload, recorded.get("estimator_format"))
    path = payload / chosen.filename
    if not path.exists():
        raise ArtifactError(f"{path}: missing from the model directory")
    return chosen.load(path)
