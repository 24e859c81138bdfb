"""What rules read at a door: a transaction's raw fields, then the model's computed inputs
(history windows, calendar, relative amounts), by name. A raw field wins over an input of
the same name: a categorical column is text to a rule, a code to the estimator.

Every door that has raw rows and the model's input matrix builds the rules' view with one
call, so rules see the same values wherever they run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np


class Columns(Mapping[str, Any]):
    """A batch: raw columns (a DataFrame or a mapping of arrays) over the input matrix."""

    def __init__(self, raw: Any, inputs: np.ndarray, names: Sequence[str]) -> None:
        self.raw = raw
        self.inputs = inputs
        self.position = {name: j for j, name in enumerate(names)}

    def __getitem__(self, name: str) -> Any:
        if name in self.raw:
            return self.raw[name]
        return self.inputs[:, self.position[name]]

    def __contains__(self, name: object) -> bool:
        return name in self.raw or name in self.position

    def __iter__(self) -> Iterator[str]:
        yield from dict.fromkeys([*self.raw, *self.position])

    def __len__(self) -> int:
        return len(dict.fromkeys([*self.raw, *self.position]))


def columns_of(raw: Any, inputs: np.ndarray, names: Sequence[str]) -> Columns:
    """The rules' view of a batch: ``raw`` rows and the model's ``inputs`` matrix, whose
    columns are ``names`` (``model.features``)."""
    return Columns(raw, inputs, names)


def row_of(raw: Mapping[str, Any], inputs: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """The rules' view of one transaction (the single-row fast path)."""
    return {**dict(zip(names, inputs.tolist(), strict=True)), **raw}


def fields_of(model: Any) -> list[tuple[str, str]]:
    """(name, kind) pairs a loaded model (fraudctl.model.bundle.FraudModel) offers rules,
    for :func:`fraudctl.rules.check.check_rules`."""
    from fraudctl.rules.check import model_fields

    raw = [(c.name, c.role, c.dtype) for c in model.contract.raw_columns]
    return model_fields(raw, model.features)
