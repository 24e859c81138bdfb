"""How a fitted estimator is written into, and read back from, a model's payload folder.

Every format loads without running code: each library's own model file (LightGBM text,
XGBoost JSON, CatBoost's binary), scikit-learn objects through skops with an explicit list
of trusted types, a neural network's weights as a numpy archive read without pickle, and
blends as a JSON file plus one folder per member. No pickle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudctl.errors import ArtifactError
from fraudctl.io import atomic_path
from fraudctl.model import model_files

# The exact types beyond skops' own safe list that the scikit-learn families save, and
# nothing by prefix: a prefix such as ``builtins.`` admitted ``builtins.eval``, so a crafted
# file ran code on load. Categorical boosting keeps a ``functools.partial`` of
# ``check_array`` (skops lists the wrapped function separately, and it must be here too).
# A family that saves other types names them when it registers (``trust_skops_types``).
_TRUSTED_SKOPS_TYPES: set[str] = {
    "functools.partial",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
}


def trust_skops_types(*names: str) -> None:
    """Allow these exact type names in skops files (called by a family's registration)."""
    _TRUSTED_SKOPS_TYPES.update(names)


def trusted_skops_types() -> frozenset[str]:
    return frozenset(_TRUSTED_SKOPS_TYPES)


@dataclass(frozen=True)
class Format:
    name: str
    filename: str
    save: Callable[[Any, Path], None]
    load: Callable[[Path], Any]


def _save_lightgbm(estimator: Any, path: Path) -> None:
    path.write_text(estimator.booster_.model_to_string(), encoding="utf-8")


def _load_lightgbm(path: Path) -> Any:
    import lightgbm

    data = path.read_bytes()
    model_files.check_lightgbm_text(data, path)  # LightGBM's C++ reader aborts on a cut file
    try:
        booster = lightgbm.Booster(model_str=data.decode("utf-8"))
    except (lightgbm.basic.LightGBMError, UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a LightGBM model ({_first_line(exc)})") from None
    from fraudctl.model.booster import BoosterClassifier

    return BoosterClassifier(booster)


def _save_xgboost(estimator: Any, path: Path) -> None:
    estimator.save_model(str(path))


def _load_xgboost(path: Path) -> Any:
    from xgboost import XGBClassifier
    from xgboost.core import XGBoostError

    model_files.check_xgboost_json(path.read_bytes(), path)  # XGBoost trusts its node numbers
    estimator = XGBClassifier()
    try:
        estimator.load_model(str(path))
    except (XGBoostError, ValueError) as exc:
        raise ArtifactError(f"{path}: not an XGBoost model ({_first_line(exc)})") from None
    return estimator


def _save_catboost(estimator: Any, path: Path) -> None:
    estimator.save(path)


def _load_catboost(path: Path) -> Any:
    from fraudctl.model.wrappers import CatBoostCodes

    model_files.check_catboost_binary(path.read_bytes(), path)
    try:
        return CatBoostCodes.load(path)
    except Exception as exc:  # CatBoostError and OS errors for a damaged file
        raise ArtifactError(f"{path}: not a CatBoost model ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    """A library's message, first line only: XGBoost and CatBoost add their C++ stack."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _save_skops(estimator: Any, path: Path) -> None:
    import skops.io

    skops.io.dump(estimator, path)
    _canonical_skops(path)


# skops names each object by its memory address (``"__id__"``, and ``<id>.npy`` for arrays)
_SKOPS_ID = re.compile(rb'("__id__": |"file": ")(\d+)')


def _canonical_skops(path: Path) -> None:
    """Rewrite a skops file so the same estimator always gives the same bytes: the memory
    addresses skops uses as object ids become 1, 2, ... in order of first appearance, and
    the zip entries are sorted and dated 1980-01-01. Without this every retraining changed
    the file, so `dvc repro` and git saw a new model where nothing had changed."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    numbers: dict[bytes, bytes] = {}

    def renumber(match: re.Match[bytes]) -> bytes:
        number = numbers.setdefault(match[2], str(len(numbers) + 1).encode())
        return match[1] + number

    schema = _SKOPS_ID.sub(renumber, entries.pop("schema.json"))
    renamed = {"schema.json": schema}
    for name, content in entries.items():
        stem = name.removesuffix(".npy").encode()
        if name.endswith(".npy") and stem in numbers:
            name = numbers[stem].decode() + ".npy"
        renamed[name] = content
    with atomic_path(path) as staging, zipfile.ZipFile(staging, "w") as archive:
        for name in sorted(renamed):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o600 << 16
            archive.writestr(info, renamed[name])


def _load_skops(path: Path) -> Any:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises zipfile and its own errors for a damaged file
        raise ArtifactError(f"{path}: unreadable ({exc}); retrain the model") from None
    refused = sorted(set(untrusted) - _TRUSTED_SKOPS_TYPES)
    if refused:
        shown = ", ".join(name[:80] for name in refused[:5])
        raise ArtifactError(
            f"{path}: refusing to load types no fraudctl model saves: {shown}"
            f"{' …' if len(refused) > 5 else ''}"
        )
    try:
        return skops.io.load(path, trusted=untrusted)
    except Exception as exc:  # a damaged file that lists only trusted types
        raise ArtifactError(f"{path}: unreadable ({exc}); retrain the model") from None


def _save_network(estimator: Any, path: Path) -> None:
    estimator.save(path)


def _load_network(path: Path) -> Any:
    from fraudctl.model.network import NeuralNetworkClassifier

    return NeuralNetworkClassifier.load(path)


BLEND_FILE = "blend.json"


def _save_blend(estimator: Any, directory: Path) -> None:
    directory.mkdir()
    members = []
    for index, (kind, member) in enumerate(estimator.members):
        chosen = format_for(member, kind)
        folder = directory / f"member{index}"
        folder.mkdir()
        chosen.save(member, folder / chosen.filename)
        members.append({"kind": kind, "format": chosen.name, "folder": folder.name})
    description = {**estimator.describe(), "members": members}
    (directory / BLEND_FILE).write_text(json.dumps(description, indent=2) + "\n", "utf-8")


def _load_blend(directory: Path) -> Any:
    from fraudctl.model.ensemble import BlendClassifier

    path = directory / BLEND_FILE
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
        parts = [
            (item["kind"], FORMATS[item["format"]], directory / item["folder"])
            for item in description["members"]
        ]
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing from the model directory") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: unreadable blend description ({exc})") from None
    members = [(kind, chosen.load(folder / chosen.filename)) for kind, chosen, folder in parts]
    return BlendClassifier.restore(members, description)


LIGHTGBM = Format("lightgbm-text", "estimator.lgb.txt", _save_lightgbm, _load_lightgbm)
XGBOOST = Format("xgboost-json", "estimator.xgb.json", _save_xgboost, _load_xgboost)
CATBOOST = Format("catboost-cbm", "estimator.cbm", _save_catboost, _load_catboost)
SKOPS = Format("skops", "estimator.skops", _save_skops, _load_skops)
BLEND = Format("blend", "estimator.blend", _save_blend, _load_blend)
NETWORK = Format("numpy-network", "estimator.network.npz", _save_network, _load_network)
FORMATS = {f.name: f for f in (LIGHTGBM, XGBOOST, CATBOOST, SKOPS, BLEND, NETWORK)}


# family name -> its format; filled by each family's registration (fraudctl.model.families),
# so this module needs nothing from the registry that imports it
KIND_FORMATS: dict[str, Format] = {}


def format_for(estimator: Any, kind: str) -> Format:
    """The blend format for blends (ensembles, balanced bags), else the family's own."""
    from fraudctl.model.ensemble import BlendClassifier

    if isinstance(estimator, BlendClassifier):
        return BLEND
    if kind not in KIND_FORMATS:
        raise ArtifactError(f"model kind {kind!r} has no registered file format")
    return KIND_FORMATS[kind]


def find_format(payload: Path, name: str | None) -> Format:
    """The format a payload was written in (recorded in model.json; guessed from the
    files for models written before it was recorded)."""
    if name is not None:
        if name not in FORMATS:
            raise ArtifactError(
                f"{payload}: estimator format {name!r} is unknown to this fraudctl "
                f"(known: {', '.join(FORMATS)}); upgrade fraudctl or retrain the model"
            )
        return FORMATS[name]
    for candidate in FORMATS.values():
        if (payload / candidate.filename).exists():
            return candidate
    files = " or ".join(f.filename for f in FORMATS.values())
    raise ArtifactError(f"{payload}: no estimator file ({files})")
