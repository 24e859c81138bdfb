"""Canary routing: one customer meets one model, and the share holds over many keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fraudctl.serve.canary import in_canary, routing_key

rows = st.fixed_dictionaries(
    {"amount": st.floats(0, 1e6, allow_nan=False), "merchant": st.text(max_size=8)}
)


@given(customer=st.text(min_size=1, max_size=20), first=rows, second=rows, share=st.floats(0, 1))
def test_a_customer_meets_the_same_model_whatever_the_transaction(customer, first, second, share):
    one = routing_key({**first, "customer_id": customer}, ["customer_id"])
    other = routing_key({**second, "customer_id": customer}, ["customer_id"])
    assert in_canary(one, share) == in_canary(other, share)


@given(share=st.floats(0.05, 0.95))
def test_the_canary_takes_its_share_of_customers(share):
    keys = [routing_key({"customer_id": f"c{i}"}, ["customer_id"]) for i in range(4000)]
    taken = sum(in_canary(key, share) for key in keys) / len(keys)
    assert abs(taken - share) < 0.04


def test_without_ids_a_transaction_is_routed_by_its_content():
    row = {"V1": 0.5, "Amount": 12.0}
    assert routing_key(row, []) == routing_key(dict(reversed(row.items())), [])
    assert routing_key({"transaction_id": "t1", "Amount": 1.0}, []) == routing_key(
        {"transaction_id": "t1", "Amount": 2.0}, []
    )
    assert not in_canary(routing_key(row, []), 0.0)
    assert in_canary(routing_key(row, []), 1.0)
