"""Model files are checked whole before their library parses them: every cut of a LightGBM
text before its trailer, of an XGBoost JSON or of a CatBoost core is one line naming the
file, and what XGBoost would read out of bounds is refused. (Through `score` and `serve`
as subprocesses: tests/catalogue/damaged_models.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudctl.errors import ArtifactError
from fraudctl.model.bundle import payload_dir
from fraudctl.model.model_files import (
    check_catboost_binary,
    check_lightgbm_text,
    check_xgboost_json,
)

NAME = Path("estimator.bin")


def _refused(check, data: bytes) -> str:
    with pytest.raises(ArtifactError) as refused:
        check(data, NAME)
    message = str(refused.value)
    assert message.startswith(f"{NAME}: ") and "\n" not in message
    return message


@pytest.fixture(scope="module")
def lightgbm_text(model_dir) -> bytes:
    return (payload_dir(model_dir) / "estimator.lgb.txt").read_bytes()


@pytest.fixture(scope="module")
def xgboost_json() -> bytes:
    from xgboost import XGBClassifier

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(500, 4))
    model = XGBClassifier(n_estimators=8, max_depth=3).fit(rows, rows[:, 0] > 0.5)
    return bytes(model.get_booster().save_raw("json"))


@pytest.fixture(scope="module")
def catboost_binary(tmp_path_factory) -> bytes:
    from catboost import CatBoostClassifier

    rng = np.random.default_rng(1)
    rows = rng.normal(size=(300, 4))
    path = tmp_path_factory.mktemp("catboost") / "m.cbm"
    model = CatBoostClassifier(iterations=5, depth=2, verbose=False, allow_writing_files=False)
    model.fit(rows, rows[:, 0] > 0.5).save_model(str(path))
    return path.read_bytes()


def test_whole_files_pass(lightgbm_text, xgboost_json, catboost_binary):
    check_lightgbm_text(lightgbm_text, NAME)
    check_xgboost_json(xgboost_json, NAME)
    check_catboost_binary(catboost_binary, NAME)


def test_a_lightgbm_text_cut_at_any_tree_boundary_is_refused(lightgbm_text):
    starts = [m.start() for m in re.finditer(rb"^Tree=", lightgbm_text, re.MULTILINE)]
    for start in starts:
        message = _refused(check_lightgbm_text, lightgbm_text[:start])
        assert "the file ends inside tree" in message or "not a LightGBM" in message


@given(share=st.floats(0.0, 1.0))
@settings(deadline=None)
def test_a_lightgbm_text_cut_anywhere_before_its_trailer_ends_is_refused(lightgbm_text, share):
    end = lightgbm_text.index(b"end of parameters")
    _refused(check_lightgbm_text, lightgbm_text[: int(share * end)])


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda t: t.replace(b"left_child=", b"left_kid=", 1), "lacks left_child"),
        (lambda t: re.sub(rb"split_feature=\d+", b"split_feature=999", t, count=1), "feature"),
        (lambda t: re.sub(rb"left_child=-?\d+", b"left_child=0", t, count=1), "form a tree"),
        (lambda t: re.sub(rb"num_leaves=(\d+)", b"num_leaves=40", t, count=1), "values"),
        (lambda t: t.replace(b"tree_sizes=", b"tree_sizes=12 ", 1), "tree 0 is not a block"),
        (lambda t: t.replace(b"pandas_categorical:[]", b"pandas_categorical:[", 1), "JSON"),
    ],
)
def test_a_lightgbm_tree_its_reader_would_misread_is_refused(lightgbm_text, edit, fragment):
    assert fragment in _refused(check_lightgbm_text, edit(lightgbm_text))


@given(share=st.floats(0.0, 0.999))
@settings(deadline=None)
def test_an_xgboost_json_cut_anywhere_is_refused(xgboost_json, share):
    _refused(check_xgboost_json, xgboost_json[: int(share * len(xgboost_json))])


def _xgboost_edit(data: bytes, change) -> bytes:
    model = json.loads(data)
    change(model["learner"]["gradient_booster"]["model"])
    return json.dumps(model).encode()


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda m: m["trees"].pop(), "num_trees is 8"),
        (lambda m: m["trees"][1]["left_children"].pop(), "another length"),
        (lambda m: m["trees"][1]["left_children"].__setitem__(0, 10**6), "form a tree"),
        (lambda m: m["trees"][1]["left_children"].__setitem__(0, 0), "form a tree"),
        (lambda m: m["trees"][1]["split_indices"].__setitem__(0, 99), "missing feature"),
    ],
)
def test_an_xgboost_tree_its_reader_would_misread_is_refused(xgboost_json, change, fragment):
    assert fragment in _refused(check_xgboost_json, _xgboost_edit(xgboost_json, change))


@given(share=st.floats(0.0, 0.999))
@settings(deadline=None)
def test_a_catboost_core_cut_anywhere_is_refused(catboost_binary, share):
    _refused(check_catboost_binary, catboost_binary[: int(share * len(catboost_binary))])
