"""The one rule for which raw columns a door takes, read from the model's own transform.

Every door (``fraudctl score`` on either engine, ``serve`` as rows, columnar JSON or
Arrow, the web app) takes the same record the same way:

- **inputs** (the raw columns the transform reads: the time column when a feature needs
  it, the ids of the entities with history windows, the numeric and categorical columns,
  the amount when a window sums it) are required, and one missing is refused with the
  same words everywhere (:meth:`DoorColumns.missing_message`);
- **optional** columns are read when present: the label and the analysts' label (the
  history's labels, for a model with history features) and ``transaction_id``;
- **anything else** is ignored, role columns of the table the model never reads (a time
  column no feature uses, the group, excluded columns) included: MLflow's pyfunc does the
  same with columns beyond its signature, so a record one door scores is never refused
  by another for a column the model does not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

TRANSACTION_ID = "transaction_id"
# a missing input as a field-by-field answer (serving) names it
MISSING_PROBLEM = "missing: required here (a field the model does not read is ignored)"


@dataclass(frozen=True)
class DoorColumns:
    required: tuple[str, ...]
    optional: tuple[str, ...]

    def missing(self, names: Iterable[str]) -> list[str]:
        present = set(names)
        return [name for name in self.required if name not in present]

    def ignored(self, names: Iterable[str]) -> list[str]:
        """Columns no door reads (kept untouched where a door passes rows through)."""
        read = set(self.required) | set(self.optional)
        return [name for name in names if name not in read]

    def missing_message(self, missing: list[str]) -> str:
        """The one refusal of a record without an input, at every door."""
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        inputs = ", ".join(self.required[:40]) + (" …" if len(self.required) > 40 else "")
        optional = f"; read when present: {', '.join(self.optional)}" if self.optional else ""
        return (
            f"missing column(s) {shown}: the model's inputs are {inputs}{optional}; "
            "any other column is ignored"
        )


def door_columns(transform: Any) -> DoorColumns:
    """The rule for a model's transform (:class:`~fraudctl.features.transform.FeatureTransform`)."""
    required: list[str] = [transform.time] if transform.needs_time else []
    required += [transform.entities[spec.role] for spec in transform.specs]
    required += list(transform.numeric)
    required += list(transform.categorical)
    if transform.amount and transform.specs:
        required.append(transform.amount)  # read by the history windows
    optional: list[str] = []
    if transform.needs_history:
        optional.append(transform.target)
        if transform.analyst:
            optional.append(transform.analyst)
    optional.append(TRANSACTION_ID)
    required = list(dict.fromkeys(required))
    return DoorColumns(tuple(required), tuple(c for c in optional if c not in required))
