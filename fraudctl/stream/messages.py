"""Reading messages: a transaction or a label as JSON in one field, checked by the contract.

A transaction message carries the object ``POST /predict`` takes in its ``transaction``
field, validated by the same validator the API builds from the model's contract
(:func:`fraudctl.serve.schemas.request_fields`), with one difference: the transaction id is
required, because a decision is idempotent by it. A label message carries what
``POST /labels`` takes for one transaction in its ``label`` field. Anything else becomes a
reason for the dead-letter stream, naming the field and what was expected.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from fraudctl.serve.schemas import (
    EntityId,
    Label,
    build_schemas,
    describe_errors,
    is_json_error,
    request_fields,
)
from fraudctl.stream.transport import Message

TRANSACTION_FIELD = b"transaction"
LABEL_FIELD = b"label"
_LABEL = TypeAdapter(Label)


class Unreadable(ValueError):
    """A message that cannot be scored or applied; its text is the dead letter's reason."""


class TransactionReader:
    """Validates transaction messages against one model's contract."""

    def __init__(self, transform: Any, limits: dict[str, float]):
        fields = request_fields(transform, limits)
        fields["transaction_id"] = EntityId  # required here: decisions are idempotent by it
        self.adapter = build_schemas(fields, max_batch_size=1).transaction

    def row(self, message: Message) -> dict[str, Any]:
        """The validated transaction, or :class:`Unreadable` saying why not."""
        body = _field(message, TRANSACTION_FIELD, "the transaction as a JSON object")
        return _validate(self.adapter, body)


def read_label(message: Message) -> tuple[str, int]:
    """(transaction id, 0 or 1), or :class:`Unreadable`."""
    body = _field(message, LABEL_FIELD, 'a JSON object {"transaction_id": ..., "is_fraud": 0|1}')
    label = _validate(_LABEL, body)
    return str(label["transaction_id"]), int(label["is_fraud"])


def _field(message: Message, name: bytes, expected: str) -> bytes:
    if message.fields is None:
        raise Unreadable("the entry was deleted from the stream before it was read")
    body = message.fields.get(name)
    if body is None:
        present = ", ".join(sorted(k.decode("utf-8", "replace") for k in message.fields))[:200]
        raise Unreadable(
            f"no {name.decode()!r} field (expected {expected} in it); fields: {present or 'none'}"
        )
    return body


def _validate(adapter: TypeAdapter[Any], body: bytes) -> Any:
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        problems = describe_errors(exc, limit=5)
        kind = "not valid JSON" if is_json_error(exc) else "fails the model's contract"
        detail = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise Unreadable(f"{kind}: {detail}") from None
