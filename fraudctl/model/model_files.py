"""Each library's model file checked whole before the library parses it.

The contract's SHA-256 catches a file that changed after training, but not a damaged file
whose contract was rewritten to match (a partial upload registered again by a script).
LightGBM's reader trusts its text: a file cut at a tree boundary or mid-line made its C++
abort the whole process (SIGSEGV or SIGABRT, "Model format error, expect a tree here"),
and XGBoost indexes nodes and features by the numbers its JSON holds. So the structure
each reader relies on is checked here first, and a damaged file is one line naming it:

- LightGBM text: the header's fields, one tree per ``tree_sizes`` entry at the offsets
  the reader computes, each tree's required fields with their counts, children that form
  a tree, split features that exist, and the ``end of trees`` line and trailing sections;
- XGBoost JSON: whole JSON, ``num_trees`` trees, each tree's arrays of ``num_nodes``
  entries, children that form a tree, split features below ``num_feature``;
- CatBoost binary: the ``CBM1`` magic and a model core as long as its header says
  (CatBoost's own reader reports a cut in what follows).
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any, NoReturn

from fraudctl.errors import ArtifactError

HINT = "the file is cut short or damaged: restore it or retrain the model"
# LightGBM header fields its reader needs (gbdt_model_text.cpp) and that fraudctl relies on
LIGHTGBM_HEADER = ("num_class", "label_index", "max_feature_idx", "feature_names", "tree_sizes")
LIGHTGBM_TREE_LINES = 22  # LightGBM's reader takes at most this many field lines per tree
_TREE_LINE = re.compile(rb"^Tree=", re.MULTILINE)


def _refuse(path: Path, problem: str) -> NoReturn:
    raise ArtifactError(f"{path}: {problem}; {HINT}")


# --- LightGBM ----------------------------------------------------------------------------


def check_lightgbm_text(data: bytes, path: Path) -> None:
    """Refuse a LightGBM text model that is not whole (see the module docstring)."""
    first = _TREE_LINE.search(data)
    if not data.startswith(b"tree\n") or first is None:
        _refuse(path, "not a LightGBM text model (no 'tree' header or no tree)")
    header = _fields(data[: first.start()].split(b"\n")[1:], path, "the header")
    missing = [key for key in LIGHTGBM_HEADER if key not in header]
    if missing:
        _refuse(path, f"the header lacks {', '.join(missing)}")
    n_features = _integer(header["max_feature_idx"], path, "max_feature_idx") + 1
    for key in ("feature_names", "feature_infos"):
        if key in header and len(header[key].split()) != n_features:
            _refuse(path, f"{key} does not list max_feature_idx + 1 = {n_features} features")
    sizes = [_integer(v, path, "tree_sizes") for v in header["tree_sizes"].split()]
    if not sizes or min(sizes) <= 0:
        _refuse(path, "tree_sizes lists no trees")
    per_iteration = _integer(header.get("num_tree_per_iteration", "1"), path, "trees per round")
    if per_iteration < 1 or len(sizes) % per_iteration:
        _refuse(path, f"{len(sizes)} trees are not whole rounds of {per_iteration}")
    offset = first.start()
    for index, size in enumerate(sizes):
        block = data[offset : offset + size]
        if len(block) < size:
            _refuse(
                path,
                f"the header lists {len(sizes)} trees but the file ends inside tree {index} "
                f"({len(data):,} bytes, {offset + size - len(data):,} short of that tree's end)",
            )
        _check_lightgbm_tree(block, index, n_features, path)
        offset += size
    _check_lightgbm_trailer(data[offset:], len(sizes), path)


def _check_lightgbm_tree(block: bytes, index: int, n_features: int, path: Path) -> None:
    where = f"tree {index}"
    title, _, rest = block.partition(b"\n")
    if title.rstrip(b"\r") != b"Tree=%d" % index:
        _refuse(path, f"{where} does not start where tree_sizes puts it")
    lines = rest.split(b"\n")
    end = next((i for i, line in enumerate(lines) if not line.strip()), None)
    if end is None or end > LIGHTGBM_TREE_LINES:
        _refuse(path, f"{where} is not a block of field lines ended by a blank line")
    fields = _fields(lines[:end], path, where)
    for key in ("num_leaves", "num_cat", "leaf_value"):
        if key not in fields:
            _refuse(path, f"{where} lacks {key}")
    leaves = _integer(fields["num_leaves"], path, f"{where} num_leaves")
    categorical = _integer(fields["num_cat"], path, f"{where} num_cat")
    if leaves < 1 or categorical < 0:
        _refuse(path, f"{where} has {leaves} leaves and {categorical} categorical splits")
    _numbers(fields, "leaf_value", leaves, None, path, where)
    for key in ("shrinkage", "is_linear"):
        if key in fields:
            _numbers(fields, key, 1, None, path, where)
    if fields.get("is_linear", "0").strip() != "0":
        _refuse(path, f"{where} is a linear tree, which no fraudctl model holds")
    if leaves == 1:
        return
    internal = leaves - 1
    for key in ("split_feature", "threshold", "decision_type", "left_child", "right_child"):
        if key not in fields:
            _refuse(path, f"{where} lacks {key}")
    features = _numbers(fields, "split_feature", internal, int, path, where)
    if min(features) < 0 or max(features) >= n_features:
        _refuse(path, f"{where} splits on a feature beyond max_feature_idx")
    thresholds = _numbers(fields, "threshold", internal, float, path, where)
    for key in ("split_gain", "internal_value", "internal_weight", "internal_count"):
        if key in fields:
            _numbers(fields, key, internal, None, path, where)
    decisions = _numbers(fields, "decision_type", internal, int, path, where)
    if any(d & 1 and not 0 <= t < categorical for d, t in zip(decisions, thresholds, strict=True)):
        _refuse(path, f"{where} has a categorical split without its category set")
    for key in ("leaf_weight", "leaf_count"):
        if key in fields:
            _numbers(fields, key, leaves, None, path, where)
    if categorical:
        bounds = _numbers(fields, "cat_boundaries", categorical + 1, int, path, where)
        if bounds[0] != 0 or bounds != sorted(bounds):
            _refuse(path, f"{where} has category bounds out of order")
        _numbers(fields, "cat_threshold", bounds[-1], None, path, where)
    left = _numbers(fields, "left_child", internal, int, path, where)
    right = _numbers(fields, "right_child", internal, int, path, where)
    _check_tree_shape(left, right, leaves, path, where)


def _check_tree_shape(
    left: list[int], right: list[int], leaves: int, path: Path, where: str
) -> None:
    """Internal nodes 0..L-2 and leaves ~0..~(L-1), each reached once from node 0."""
    seen_nodes, seen_leaves, stack = {0}, set(), [0]
    while stack:
        node = stack.pop()
        for child in (left[node], right[node]):
            if child < 0:
                if ~child >= leaves or ~child in seen_leaves:
                    _refuse(path, f"{where} has a child that is not one of its leaves")
                seen_leaves.add(~child)
            elif child >= len(left) or child in seen_nodes:
                _refuse(path, f"{where} has children that do not form a tree")
            else:
                seen_nodes.add(child)
                stack.append(child)
    if len(seen_nodes) != len(left) or len(seen_leaves) != leaves:
        _refuse(path, f"{where} has nodes or leaves no path reaches")


def _check_lightgbm_trailer(rest: bytes, trees: int, path: Path) -> None:
    lines = rest.split(b"\n")
    stripped = [line.rstrip(b"\r") for line in lines]
    if b"end of trees" not in stripped:
        _refuse(path, f"no 'end of trees' line after the {trees} trees")
    if b"parameters:" in stripped and b"end of parameters" not in stripped:
        _refuse(path, "the parameters section has no end")
    pandas = [line for line in stripped if line.startswith(b"pandas_categorical:")]
    if pandas:
        try:
            json.loads(pandas[-1][len(b"pandas_categorical:") :])
        except (UnicodeDecodeError, ValueError):
            _refuse(path, "the pandas_categorical line is not whole JSON")


def _fields(lines: list[bytes], path: Path, where: str) -> dict[str, str]:
    fields = {}
    for line in lines:
        line = line.rstrip(b"\r")
        if not line:
            continue
        key, equals, value = line.partition(b"=")
        if not equals:
            _refuse(path, f"{where} holds a line that is not key=value")
        try:
            fields[key.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            _refuse(path, f"{where} is not UTF-8 text")
    return fields


def _integer(text: str, path: Path, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        _refuse(path, f"{what} is not a whole number ({text[:30]!r})")


# LightGBM's number parsers stop the process on what they cannot read (inside the parallel
# loop that reads the trees), so every value must be one of these
_NUMBER = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|infinity|nan)"
_NUMBERS = re.compile(rf"{_NUMBER}(?: {_NUMBER})*", re.IGNORECASE)
_INTEGERS = re.compile(r"-?\d+(?: -?\d+)*")


def _numbers(
    fields: dict[str, str], key: str, count: int, kind: type | None, path: Path, where: str
) -> list[Any]:
    """The ``count`` values of a field, checked by pattern; converted to ``kind`` where the
    check needs them (structure), else only counted."""
    text = fields.get(key, "").strip()
    pattern = _INTEGERS if kind is int else _NUMBERS
    if count and pattern.fullmatch(text) is None:
        _refuse(path, f"{where} has a {key} value that is not a number")
    found = text.count(" ") + 1 if text else 0
    if found != count:
        _refuse(path, f"{where} has {found} {key} values, expected {count}")
    return [kind(v) for v in text.split()] if kind is not None else []


# --- XGBoost -----------------------------------------------------------------------------

XGBOOST_NODE_ARRAYS = (
    "left_children",
    "right_children",
    "split_indices",
    "split_conditions",
    "default_left",
    "base_weights",
    "loss_changes",
    "sum_hessian",
    "parents",
)


def check_xgboost_json(data: bytes, path: Path) -> None:
    """Refuse an XGBoost JSON model that is not whole (see the module docstring)."""
    try:
        model = json.loads(data)
    except UnicodeDecodeError:
        _refuse(path, "not UTF-8 JSON")
    except json.JSONDecodeError as exc:
        _refuse(path, f"not whole JSON ({exc.msg} at byte {exc.pos:,} of {len(data):,})")
    try:
        learner = model["learner"]
        booster = learner["gradient_booster"]
        gbtree = booster["model"] if booster["name"] == "gbtree" else booster["gbtree"]["model"]
        trees = gbtree["trees"]
        expected = int(gbtree["gbtree_model_param"]["num_trees"])
        n_features = int(learner["learner_model_param"]["num_feature"])
        info = gbtree["tree_info"]
    except (KeyError, TypeError, ValueError):
        _refuse(path, "not an XGBoost model (no learner, booster or trees where XGBoost puts them)")
    if not isinstance(trees, list) or len(trees) != expected or len(info) != expected:
        _refuse(path, f"num_trees is {expected} but the file holds {len(trees)} trees")
    rounds = gbtree.get("iteration_indptr")
    if rounds is not None and (not rounds or rounds[-1] != expected or rounds != sorted(rounds)):
        _refuse(path, f"iteration_indptr does not end at the {expected} trees")
    for index, tree in enumerate(trees):
        _check_xgboost_tree(tree, index, n_features, path)


def _check_xgboost_tree(tree: Any, index: int, n_features: int, path: Path) -> None:
    where = f"tree {index}"
    try:
        nodes = int(tree["tree_param"]["num_nodes"])
        arrays = {key: tree[key] for key in XGBOOST_NODE_ARRAYS if key in tree}
        left, right, features = (tree[k] for k in XGBOOST_NODE_ARRAYS[:3])
    except (KeyError, TypeError, ValueError):
        _refuse(path, f"{where} lacks num_nodes or its children")
    for key, values in arrays.items():
        if not isinstance(values, list) or len(values) != nodes:
            _refuse(path, f"{where} has {key} of another length than num_nodes = {nodes}")
    if nodes < 1 or not all(isinstance(v, int) for v in (*left, *right, *features)):
        _refuse(path, f"{where} has no nodes or children that are not node numbers")
    seen, stack = {0}, [0]
    while stack:
        node = stack.pop()
        children = (left[node], right[node])
        if children == (-1, -1):
            continue
        if -1 in children or not 0 <= features[node] < n_features:
            _refuse(path, f"{where} has a split without two children or on a missing feature")
        for child in children:
            if not 0 < child < nodes or child in seen:
                _refuse(path, f"{where} has children that do not form a tree")
            seen.add(child)
            stack.append(child)
    if len(seen) != nodes:
        _refuse(path, f"{where} has nodes no path reaches")
    _check_xgboost_categories(tree, nodes, path, where)


def _check_xgboost_categories(tree: dict[str, Any], nodes: int, path: Path, where: str) -> None:
    """A categorical split's category set is a segment of ``categories``."""
    split_nodes = tree.get("categories_nodes", [])
    segments = tree.get("categories_segments", [])
    sizes = tree.get("categories_sizes", [])
    total = len(tree.get("categories", []))
    if not len(split_nodes) == len(segments) == len(sizes):
        _refuse(path, f"{where} has category lists of different lengths")
    for node, start, size in zip(split_nodes, segments, sizes, strict=True):
        if not (0 <= node < nodes and min(start, size) >= 0 and start + size <= total):
            _refuse(path, f"{where} has a category set outside its categories")


# --- CatBoost ----------------------------------------------------------------------------


def check_catboost_binary(data: bytes, path: Path) -> None:
    """Refuse a CatBoost model whose core is cut short (see the module docstring)."""
    if len(data) < 8 or data[:4] != b"CBM1":
        _refuse(path, "not a CatBoost model (no CBM1 header)")
    (core,) = struct.unpack("<I", data[4:8])
    if core == 0 or 8 + core > len(data):
        _refuse(
            path,
            f"the header promises a {core:,}-byte model core, the file holds {len(data) - 8:,}",
        )
