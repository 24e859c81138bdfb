"""Evaluating rule conditions: vectorised over columns for a batch, plain Python for one row.

Both paths implement one semantics, and a property test holds them equal:

- **Missing values** (None, NaN, NA, NaT) make a comparison *unknown*, and ``and``, ``or``
  and ``not`` follow three-valued (Kleene) logic, as SQL does: ``not (amount > 100)`` does
  not fire on a missing amount. A rule fires only when its condition is *true*.
  ``x is missing`` tests for a missing value explicitly.
- **Numbers**: an integer meets an integer exactly (card numbers beyond 2**53 stay
  distinct); an integer meets a decimal number as float64, as numpy compares them.
  Arithmetic is float64; a division by zero, or a NaN result, is missing.
- **Text** compares by equality only (``==``, ``!=``, ``in``); ordering text is refused by
  the field check before any row is seen.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fraudctl.errors import DataError
from fraudctl.rules.nodes import (
    And,
    Compare,
    Condition,
    Field,
    Member,
    Missing,
    Negate,
    Not,
    Number,
    Or,
    Text,
    Value,
)
from fraudctl.rules.ruleset import RuleSet

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


# --- one row: plain Python ---------------------------------------------------------------


def _scalar(value: Any) -> Any:
    """None for a missing value; numpy scalars as Python's; bools as integers."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, bool):
        return int(value)
    return value


def _number_pair(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, float) or isinstance(right, float):
        return float(left), float(right)
    return left, right


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) != isinstance(right, str):
        return False
    if isinstance(left, str):
        return left == right
    left, right = _number_pair(left, right)
    return bool(left == right)


def _row_value(node: Value, row: Mapping[str, Any]) -> Any:
    if isinstance(node, Number | Text):
        return node.value
    if isinstance(node, Field):
        return _scalar(row[node.name])
    if isinstance(node, Negate):
        value = _row_value(node.operand, row)
        return None if value is None else -float(value)
    left, right = _row_value(node.left, row), _row_value(node.right, row)
    if left is None or right is None:
        return None
    left, right = float(left), float(right)
    if node.op == "/":
        if right == 0.0:
            return None
        result = left / right
    else:
        result = _ARITHMETIC[node.op](left, right)
    return None if math.isnan(result) else result


def row_truth(node: Condition, row: Mapping[str, Any]) -> bool | None:
    """True, False or None (unknown) for one row: a mapping of field -> value."""
    if isinstance(node, Compare):
        left, right = _row_value(node.left, row), _row_value(node.right, row)
        if left is None or right is None:
            return None
        if node.op in ("==", "!="):
            same = _equal(left, right)
            return same if node.op == "==" else not same
        left, right = _number_pair(left, right)
        return bool(_COMPARE[node.op](left, right))
    if isinstance(node, Member):
        value = _row_value(node.operand, row)
        if value is None:
            return None
        found = value in node.lookup
        return not found if node.negated else found
    if isinstance(node, Missing):
        missing = _row_value(node.operand, row) is None
        return not missing if node.negated else missing
    if isinstance(node, Not):
        inner = row_truth(node.operand, row)
        return None if inner is None else not inner
    unknown = False
    deciding = isinstance(node, Or)  # True decides an or, False decides an and
    for item in node.items:  # type: ignore[union-attr]
        truth = row_truth(item, row)
        if truth is None:
            unknown = True
        elif truth is deciding:
            return deciding
    return None if unknown else not deciding


def first_firing(rules: RuleSet, row: Mapping[str, Any]) -> int | None:
    """The position (in decision order) of the first rule that fires on one row: the
    fast path of a server, which stops at the first."""
    for position, rule in enumerate(rules.rules):
        try:
            if row_truth(rule.condition, row) is True:
                return position
        except KeyError as exc:
            raise DataError(f"rule {rule.name}: the row has no field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise DataError(f"rule {rule.name}: {exc}") from None
    return None


# --- a batch: numpy columns --------------------------------------------------------------

Column = tuple[np.ndarray, np.ndarray]  # values, missing mask (or 0-d for a literal)
Truth = tuple[np.ndarray, np.ndarray]  # definitely true, definitely false


def column_of(values: Any) -> Column:
    """Values as an int64, float64 or object array, and where they are missing."""
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values)
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype = series.dtype
    missing = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        if missing.any():
            return series.to_numpy(dtype=np.float64, na_value=np.nan), missing
        if str(dtype).lower() == "uint64":
            return series.to_numpy(dtype=np.float64), missing
        return series.to_numpy(dtype=np.int64), missing
    if pd.api.types.is_float_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), missing
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return series.to_numpy(dtype=object), missing
    array = series.to_numpy(dtype=object, copy=True)
    if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        # mixed objects (numpy scalars, bools...): as the one-row path sees each value
        array = np.array([_scalar(v) for v in array], dtype=object)
    array[missing] = None
    return array, missing


class _Batch:
    def __init__(self, columns: Mapping[str, Any], rows: int) -> None:
        self.source = columns
        self.rows = rows
        self.cache: dict[str, Column] = {}

    def field(self, name: str) -> Column:
        if name not in self.cache:
            values, missing = column_of(self.source[name])
            if values.shape[0] != self.rows:
                raise DataError(f"field {name!r} has {values.shape[0]} rows, expected {self.rows}")
            self.cache[name] = (values, missing)
        return self.cache[name]

    def value(self, node: Value) -> Column:
        if isinstance(node, Number | Text):
            literal = np.empty((), dtype=object)
            literal[()] = node.value
            if isinstance(node.value, int):
                literal = np.array(node.value, dtype=np.int64)
            elif isinstance(node.value, float):
                literal = np.array(node.value, dtype=np.float64)
            return literal, np.array(False)
        if isinstance(node, Field):
            return self.field(node.name)
        if isinstance(node, Negate):
            values, missing = self.value(node.operand)
            return -_floats(values), missing
        (left, left_missing), (right, right_missing) = self.value(node.left), self.value(node.right)
        left, right = _floats(left), _floats(right)
        with np.errstate(all="ignore"):
            if node.op == "/":
                zero = right == 0.0
                result = np.divide(left, np.where(zero, 1.0, right))
                result = np.where(zero, np.nan, result)
            else:
                result = _ARITHMETIC[node.op](left, right)
        missing = left_missing | right_missing | np.isnan(result)
        return result, missing

    def truth(self, node: Condition) -> Truth:
        n = self.rows
        if isinstance(node, Compare | Member | Missing):
            value = self._predicate(node)
            known = value[1]
            return np.broadcast_to(value[0] & known, (n,)), np.broadcast_to(~value[0] & known, (n,))
        if isinstance(node, Not):
            true, false = self.truth(node.operand)
            return false, true
        parts = [self.truth(item) for item in node.items]  # type: ignore[union-attr]
        trues, falses = [p[0] for p in parts], [p[1] for p in parts]
        if isinstance(node, And):
            return np.logical_and.reduce(trues), np.logical_or.reduce(falses)
        return np.logical_or.reduce(trues), np.logical_and.reduce(falses)

    def _predicate(self, node: Compare | Member | Missing) -> tuple[np.ndarray, np.ndarray]:
        """(result, known) over the rows, result meaningful where known."""
        n = self.rows
        if isinstance(node, Missing):
            _, missing = self.value(node.operand)
            missing = np.broadcast_to(missing, (n,))
            return (~missing if node.negated else missing), np.ones(n, dtype=bool)
        if isinstance(node, Member):
            values, missing = self.value(node.operand)
            values, known = np.broadcast_to(values, (n,)), ~np.broadcast_to(missing, (n,))
            found = np.zeros(n, dtype=bool)
            found[known] = _member(values[known], node)
            return (~found if node.negated else found), known
        (left, left_missing), (right, right_missing) = self.value(node.left), self.value(node.right)
        known = ~np.broadcast_to(left_missing | right_missing, (n,))
        left, right = np.broadcast_to(left, (n,))[known], np.broadcast_to(right, (n,))[known]
        result = np.zeros(n, dtype=bool)
        if node.op in ("==", "!="):
            same = _equal_arrays(left, right)
            result[known] = same if node.op == "==" else ~same
        else:
            with np.errstate(invalid="ignore"):
                result[known] = np.asarray(_COMPARE[node.op](left, right), dtype=bool)
        return result, known


def _floats(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.array([np.nan if v is None else float(v) for v in values.ravel()]).reshape(
            values.shape
        )
    return values.astype(np.float64)


def _equal_arrays(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if left.dtype != object and right.dtype != object:
        return np.asarray(left == right, dtype=bool)
    return np.fromiter((_equal(a, b) for a, b in zip(left, right, strict=True)), bool, len(left))


def _member(values: np.ndarray, node: Member) -> np.ndarray:
    sets = node.lookup
    if values.dtype != object:
        found = np.zeros(len(values), dtype=bool)
        if sets.ints:
            found |= np.isin(values, np.fromiter(sets.ints, np.int64, len(sets.ints)))
        if sets.floats:
            floats = np.fromiter(sets.floats, np.float64, len(sets.floats))
            found |= np.isin(values.astype(np.float64), floats)
        return found
    if not (sets.ints or sets.floats):  # text only: pandas' hash table, exact, text to text
        import pandas as pd

        return pd.Series(values, dtype=object).isin(list(sets.texts)).to_numpy()
    return np.fromiter((v in sets for v in values), bool, len(values))


def fired(rules: RuleSet, columns: Mapping[str, Any], rows: int) -> np.ndarray:
    """(rows, rules) booleans: which rule fires on which row, columns in decision order.

    ``columns`` maps each field a rule reads to a column of ``rows`` values (a pandas
    DataFrame, a dict of arrays, ...). Every rule is evaluated: the per-rule hits are
    what evaluate reports."""
    batch = _Batch(columns, rows)
    out = np.zeros((rows, len(rules)), dtype=bool)
    for position, rule in enumerate(rules.rules):
        try:
            out[:, position] = batch.truth(rule.condition)[0]
        except KeyError as exc:
            raise DataError(f"rule {rule.name}: no column {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise DataError(f"rule {rule.name}: {exc}") from None
    return out
