"""The one token bucket and the one idempotency cache every emulator uses."""

from __future__ import annotations

from emulators._base import Reply
from emulators.admission import IdempotencyCache, TokenBucket


def test_a_bucket_is_full_at_first_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=2)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.5]  # empty: 0.5 s to a token
    assert bucket.take(0.5) == 0.0  # refilled one
    assert bucket.take(10.0) == 0.0 and bucket.take(10.0) == 0.0  # never more than burst
    assert bucket.take(10.0) > 0.0


def test_a_key_per_operation_replays_the_first_reply_whatever_the_body() -> None:
    cache = IdempotencyCache(per_operation=True)
    first = cache.remember("receipt", "k", Reply(201, {"n": 1}), {"qty": 1})
    assert cache.replay("receipt", "k", {"qty": 2}) is first
    assert cache.replay("invoice", "k") is None  # another operation: another request
    assert cache.replay("receipt", None) is None and len(cache) == 1


def test_a_fingerprinted_key_refuses_another_request_and_keeps_a_copy() -> None:
    cache = IdempotencyCache(per_operation=False, fingerprint=True, copies=True)
    body = {"lines": [1]}
    reply = Reply(200, body)
    cache.remember("post_receipt", "k", reply, "PO1", body)
    body["lines"].append(2)  # the document changes later; the kept reply does not
    kept = cache.replay("post_receipt", "k", "PO1", {"lines": [1]})
    assert kept is not None and kept.body == {"lines": [1]}
    reused = cache.replay("post_invoice", "k", "PO1", {"lines": [1]})
    assert reused is not None and reused.status == 422
    assert reused.body["field"] == "Idempotency-Key"
