"""The data contract: which column plays which role.

The defaults describe the public ULB table (``Time, V1..V28, Amount, Class``). A raw
transaction log adds entity ids (customer, terminal), categorical columns and a datetime
clock. ``features: all`` resolves to every column that has no other role and is not
excluded, so neither the clock nor an identifier leaks into the model by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fraudctl.config import SchemaParams
from fraudctl.durations import DEFAULT_TIME_UNIT, clock_seconds

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ULB_FEATURES = tuple(f"V{i}" for i in range(1, 29))
ULB_COLUMNS = ("Time", *ULB_FEATURES, "Amount", "Class")


@dataclass(frozen=True)
class Schema:
    """Resolved column roles for one table."""

    time: str
    amount: str | None
    target: str
    features: tuple[str, ...]
    group: str | None = None
    entities: dict[str, str] = field(default_factory=dict)
    categorical: tuple[str, ...] = ()
    analyst_label: str | None = None  # 1, 0 or empty: the fast, partial label source
    time_unit: str = DEFAULT_TIME_UNIT  # the step of a numeric clock (ms, s, m, h, d)

    @property
    def required(self) -> tuple[str, ...]:
        """Every column the table must have, in output order, without repeats."""
        ordered = [self.time, *self.entities.values(), *self.features]
        if self.amount:
            ordered.append(self.amount)
        ordered.append(self.target)
        if self.group:
            ordered.append(self.group)
        if self.analyst_label:
            ordered.append(self.analyst_label)
        return tuple(dict.fromkeys(ordered))

    def columns(self, labelled: bool = True) -> tuple[str, ...]:
        """:attr:`required`; an unlabelled batch (to score) needs no label column."""
        unlabelled = (self.target, self.analyst_label)
        return self.required if labelled else tuple(c for c in self.required if c not in unlabelled)

    @property
    def numeric(self) -> tuple[str, ...]:
        """Columns that must hold finite numbers."""
        text = {self.group, self.time, self.analyst_label, *self.entities.values()}
        text |= set(self.categorical)
        return tuple(c for c in self.required if c not in text)


def resolve_schema(params: SchemaParams, columns: Iterable[str]) -> Schema:
    """Turn the declared roles into a concrete schema for a table with these columns."""
    roles = {params.time, params.target, *params.entities.values(), *params.exclude}
    roles |= {c for c in (params.group, params.analyst_label) if c}
    if params.features == "all":
        features = tuple(c for c in columns if c not in roles)
    else:
        features = tuple(params.features)
    return Schema(
        time=params.time,
        amount=params.amount,
        target=params.target,
        features=features,
        group=params.group,
        entities=dict(params.entities),
        categorical=tuple(c for c in params.categorical if c in features),
        analyst_label=params.analyst_label,
        time_unit=params.time_unit,
    )


def seconds_of(times: pd.Series, unit: str = DEFAULT_TIME_UNIT) -> np.ndarray:
    """The time column as seconds: a parsed datetime, or a numeric clock counting ``unit``."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(times):
        return times.astype("int64").to_numpy() / 1e9
    return clock_seconds(times.to_numpy(dtype="float64"), unit)
