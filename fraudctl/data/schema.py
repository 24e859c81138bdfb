"""The data contract: which column plays which role.

The defaults describe the public ULB table (``Time, V1..V28, Amount, Class``).
``features: all`` resolves to every numeric column that has no other role, so the
time column never leaks into the model: with a time split its values on the test
split lie outside anything seen in training.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fraudctl.config import SchemaParams

ULB_FEATURES = tuple(f"V{i}" for i in range(1, 29))
ULB_COLUMNS = ("Time", *ULB_FEATURES, "Amount", "Class")


@dataclass(frozen=True)
class Schema:
    """Resolved column roles for one table."""

    time: str
    amount: str
    target: str
    features: tuple[str, ...]
    group: str | None = None

    @property
    def required(self) -> tuple[str, ...]:
        """Every column the table must have, in output order, without repeats."""
        ordered = [self.time, *self.features, self.amount, self.target]
        if self.group:
            ordered.append(self.group)
        return tuple(dict.fromkeys(ordered))

    @property
    def numeric(self) -> tuple[str, ...]:
        """Columns that must hold finite numbers (the group may be a label)."""
        return tuple(c for c in self.required if c != self.group)


def resolve_schema(params: SchemaParams, columns: Iterable[str]) -> Schema:
    """Turn the declared roles into a concrete schema for a table with these columns.

    With ``features: all`` every column without another role is a feature and must be
    numeric: a stray text column is reported, not silently dropped.
    """
    roles = {params.time, params.target} | ({params.group} if params.group else set())
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
    )
