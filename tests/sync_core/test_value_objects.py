"""The engine's value objects keep their dataclass behaviour with their hand-written
``__init__``: frozen, equal by value, with the declared defaults, replaceable."""

from __future__ import annotations

import dataclasses

import pytest

from sync_core.messages import Decision, Entity, Kind, PutEntity, Request


def test_a_request_has_the_declared_defaults_and_a_dict_of_its_own() -> None:
    first, second = Request("erp", "get_purchase_order"), Request("erp", "get_purchase_order")
    assert first == second and first.params == {} and first.params is not second.params
    defaults = (first.body, first.idempotency_key, first.correlation_id, first.critical,
                first.reply_kind, first.supersedable)  # fmt: skip
    assert defaults == (None, None, None, False, None, None)
    assert first == Request(target="erp", operation="get_purchase_order", params={})


def test_the_value_objects_are_frozen_and_hash_by_value() -> None:
    entity = Entity("ack", "4500000001", 3, None)
    decision = Decision("m1", ("m1",), (PutEntity(entity),))
    for value, name in ((entity, "version"), (decision, "consumed"), (PutEntity(entity), "entity"),
                        (Request("wms", "upsert_expected_receipts"), "body")):  # fmt: skip
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, None)
    assert hash(entity) == hash(Entity("ack", "4500000001", 3, None))
    assert decision.requests == () and decision.dead_letters == () and not decision.duplicate


def test_replace_and_fields_see_every_field() -> None:
    read = Request("erp", "list_purchase_orders", {"limit": 100}, reply_kind=Kind.ERP_PO_PAGE)
    again = dataclasses.replace(read, params={"limit": 50})
    assert again.reply_kind is Kind.ERP_PO_PAGE and again.params == {"limit": 50}
    assert dataclasses.asdict(Entity("po", "1", 2, {"a": 1})) == {
        "kind": "po", "key": "1", "version": 2, "data": {"a": 1}
    }  # fmt: skip
    assert [f.name for f in dataclasses.fields(Decision)] == [
        "message_id", "consumed", "changes", "requests", "dead_letters"
    ]  # fmt: skip
