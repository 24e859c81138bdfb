"""The model's input contract: what it reads, in which order, and which files make it.

A saved model carries ``contract.json`` beside its payload files:

- ``raw_columns``: the raw input columns in the training table's order, each with its
  role (time, entity, numeric, categorical, amount, label), dtype and, for a categorical
  column, its vocabulary (the code of a category is its index);
- ``model_inputs``: the estimator's input columns in the order it was fitted on;
- ``transform_sha256``: the digest of the feature transform's definition;
- ``trained_on``: digests of the model inputs and labels it was trained and validated on
  (by value), and the fingerprint of the rows its threshold was chosen on;
- ``files``: the SHA-256 of every other file in the payload folder;
- ``rules_sha256``: for a model with rules, the SHA-256 of ``rules.json``, the rule set it
  decides with (:mod:`fraudctl.model.rulebook`); absent in a model without rules, which is
  how every model saved before rules existed reads.

Everything ordered is a list: nothing is ever read from the key order of a mapping. Every
door loads a model through :func:`verify`, so a payload file changed after training, an
extra or a missing file, or a transform that computes other columns than the estimator
was fitted on is refused with one line before anything is scored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudctl.errors import ArtifactError

if TYPE_CHECKING:
    import pandas as pd

    from fraudctl.features.transform import FeatureTransform
    from fraudctl.paths import ProjectPaths

CONTRACT_FILE = "contract.json"
RULES_FILE = "rules.json"
# A number more than 1,000 times larger than any the model saw in training is an export or
# unit mistake (a 1e308), not a transaction: scoring refuses it rather than extrapolate.
INPUT_HEADROOM = 1000.0
CONTRACT_FORMAT = 1
CHUNK = 1 << 20
# The feature files a model is fitted and validated on (the test split is evaluate's).
TRAINED_SPLITS = ("train", "validation")


@dataclass(frozen=True)
class RawColumn:
    name: str
    role: str  # time | entity | numeric | categorical | amount | label
    dtype: str
    required: bool = True
    vocabulary: list[str] | None = None
    # numbers: the largest magnitude accepted at scoring (INPUT_HEADROOM x the training range)
    limit: float | None = None


@dataclass(frozen=True)
class FileDigest:
    path: str  # relative to the payload folder, "/"-separated
    sha256: str


@dataclass(frozen=True)
class InputContract:
    raw_columns: list[RawColumn]
    model_inputs: list[str]
    transform_sha256: str
    trained_on: list[FileDigest]  # data/features files, relative to the features folder
    validation_fingerprint: str
    files: list[FileDigest]
    rules_sha256: str | None = None  # None: the model decides without rules

    def to_dict(self) -> dict[str, Any]:
        data = {"format": CONTRACT_FORMAT, **asdict(self)}
        if self.rules_sha256 is None:  # a model without rules is written as before rules
            del data["rules_sha256"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputContract:
        if data.get("format") != CONTRACT_FORMAT:
            raise ValueError(f"contract format {data.get('format')!r} is not {CONTRACT_FORMAT}")
        return cls(
            raw_columns=[RawColumn(**column) for column in data["raw_columns"]],
            model_inputs=[str(name) for name in data["model_inputs"]],
            transform_sha256=str(data["transform_sha256"]),
            trained_on=[FileDigest(**item) for item in data["trained_on"]],
            validation_fingerprint=str(data["validation_fingerprint"]),
            files=[FileDigest(**item) for item in data["files"]],
            rules_sha256=None if data.get("rules_sha256") is None else str(data["rules_sha256"]),
        )

    def scorer_sha256(self) -> str:
        """A digest of everything that makes the probability and the threshold (every file
        but the rules): two models with equal digests score every row the same, so a
        difference between them is a rule change alone."""
        digest = hashlib.sha256()
        for item in sorted(self.files, key=lambda f: f.path):
            if item.path != RULES_FILE:
                digest.update(f"{item.path}\0{item.sha256}\n".encode())
        return digest.hexdigest()


# --- building ----------------------------------------------------------------------------


def magnitude_limit(largest: float) -> float:
    """INPUT_HEADROOM times the training range, rounded up to a power of ten."""
    import math

    return float(10 ** math.ceil(math.log10(max(largest, 1.0) * INPUT_HEADROOM)))


def raw_columns(
    transform: FeatureTransform, example: pd.DataFrame, magnitudes: dict[str, float] | None = None
) -> list[RawColumn]:
    """The raw columns the transform reads, in ``example``'s (the training table's) order;
    ``magnitudes`` are the largest absolute values of the numeric columns in training."""
    magnitudes = magnitudes or {}
    roles: dict[str, str] = {transform.time: "time"} if transform.needs_time else {}
    roles |= {column: "entity" for column in transform.entities.values()}
    roles |= {column: "numeric" for column in transform.numeric}
    roles |= {column: "categorical" for column in transform.categorical}
    if transform.amount and transform.amount not in roles and transform.specs:
        roles[transform.amount] = "amount"  # read by the history features only
    if transform.needs_history:
        roles.setdefault(transform.target, "label")
        if transform.analyst:  # analysts' labels of the history, where given
            roles.setdefault(transform.analyst, "label")
    ordered = [c for c in example.columns if c in roles]
    ordered += [c for c in roles if c not in ordered]
    return [
        RawColumn(
            name=column,
            role=roles[column],
            dtype=str(example[column].dtype) if column in example.columns else "unknown",
            required=roles[column] != "label",
            vocabulary=transform.categorical.get(column),
            limit=magnitude_limit(magnitudes[column]) if column in magnitudes else None,
        )
        for column in ordered
    ]


def input_limits(contract: InputContract) -> dict[str, float]:
    return {c.name: c.limit for c in contract.raw_columns if c.limit is not None}


def build_contract(
    payload: Path,
    transform: FeatureTransform,
    example: pd.DataFrame,
    trained_on: list[FileDigest],
    validation_fingerprint: str,
    magnitudes: dict[str, float] | None = None,
) -> InputContract:
    """The contract of a payload folder whose other files are all written."""
    rules = payload / RULES_FILE
    return InputContract(
        raw_columns=raw_columns(transform, example, magnitudes),
        model_inputs=list(transform.output_columns),
        transform_sha256=transform.digest(),
        trained_on=trained_on,
        validation_fingerprint=validation_fingerprint,
        files=digest_folder(payload),
        rules_sha256=file_sha256(rules) if rules.exists() else None,
    )


def write_contract(payload: Path, contract: InputContract) -> None:
    text = json.dumps(contract.to_dict(), indent=2) + "\n"
    (payload / CONTRACT_FILE).write_text(text, encoding="utf-8")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def payload_files(folder: Path) -> list[str]:
    """Every file below ``folder`` but the contract, as sorted "/"-separated paths."""
    return sorted(
        relative
        for p in folder.rglob("*")
        if (p.is_file() or p.is_symlink())
        and (relative := p.relative_to(folder).as_posix()) != CONTRACT_FILE
    )


def digest_folder(folder: Path) -> list[FileDigest]:
    """Every file below ``folder`` but the contract, with its SHA-256, sorted by path."""
    return [
        FileDigest(relative, file_sha256(folder / relative)) for relative in payload_files(folder)
    ]


def digest_features(
    paths: ProjectPaths, splits: tuple[str, ...], columns: list[str]
) -> list[FileDigest]:
    """A digest of the content a model is fitted and validated on: the model inputs and the
    label of each split, by value (a column added beside them, e.g. a fairness group, or
    a file rewritten with other parquet settings does not count as other data)."""
    import pandas as pd

    found: list[FileDigest] = []
    for split in splits:
        path = paths.features_file(split)
        frame = pd.read_parquet(path, columns=columns)
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest = hashlib.sha256(hashed.tobytes())
        digest.update(json.dumps(columns).encode("utf-8"))
        found.append(
            FileDigest(path.relative_to(paths.features_dir).as_posix(), digest.hexdigest())
        )
    return found


# --- checking ----------------------------------------------------------------------------


def read_contract(payload: Path) -> InputContract:
    path = payload / CONTRACT_FILE
    try:
        return InputContract.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ArtifactError(
            f"{path}: missing: the model has no input contract (written by an older "
            "fraudctl, or damaged); retrain it with `fraudctl train`"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: unreadable input contract ({exc}); retrain it") from None


def verify(payload: Path) -> InputContract:
    """The payload's contract, after checking every file against its recorded SHA-256;
    the first difference is the error, named by file."""
    contract = read_contract(payload)
    expected = {item.path: item.sha256 for item in contract.files}
    present = set(payload_files(payload))
    for extra in sorted(present - expected.keys()):
        raise ArtifactError(
            f"{payload / extra}: not part of the model (not in {CONTRACT_FILE}); "
            "a model directory is written whole by `fraudctl train`"
        )
    for relative, sha in expected.items():
        path = payload / relative
        if relative not in present:
            raise ArtifactError(f"{path}: missing from the model directory")
        if path.is_symlink() or not path.resolve().is_relative_to(payload.resolve()):
            raise ArtifactError(f"{path}: a link out of the model directory is refused")
        actual = file_sha256(path)
        if actual != sha:
            raise ArtifactError(
                f"{path}: changed after training (SHA-256 {actual[:12]}…, the contract "
                f"records {sha[:12]}…); retrain or restore the model"
            )
    return contract


def require_trained_on(contract: InputContract, paths: ProjectPaths, model_dir: Path) -> None:
    """Stop a stage that would measure a model on features it was not trained on: after a
    `fraudctl train` that failed or was refused, ``models/`` still holds an older model."""
    from fraudctl.features.outputs import load_transform

    current = load_transform(paths).digest()
    hint = "run `fraudctl train` (or `dvc repro train`) first"
    if current != contract.transform_sha256:
        raise ArtifactError(
            f"{model_dir}: trained with another feature transform than "
            f"{paths.transform_file} (transform SHA-256 {contract.transform_sha256[:12]}…, "
            f"the features are {current[:12]}…); {hint}"
        )
    columns = [*contract.model_inputs, load_transform(paths).target]
    try:
        digests = digest_features(paths, TRAINED_SPLITS, columns)
    except (KeyError, ValueError, OSError) as exc:  # a column or a split is gone
        raise ArtifactError(
            f"{model_dir}: its training data cannot be checked in {paths.features_dir} "
            f"({str(exc)[:200]}); {hint}"
        ) from None
    now = {item.path: item.sha256 for item in digests}
    then = {item.path: item.sha256 for item in contract.trained_on}
    for relative in sorted(now.keys() | then.keys()):
        if now.get(relative) != then.get(relative):
            was, found = then.get(relative, "absent"), now.get(relative, "absent")
            raise ArtifactError(
                f"{model_dir}: trained on other data than {paths.features_dir / relative} "
                f"(SHA-256 {was[:12]}…, the file is {found[:12]}…); {hint}"
            )
