"""``/dlq``: the dead letters a person works through — list, read, replay, discard.

The same operations as ``supplysync dlq`` against a store file (:mod:`sync_core.dlq`),
over HTTP while the core runs: an unknown id is 404, a letter no longer open 409.
A replay or a discard is in the store's audit trail with the actor who asked
(:data:`~sync_core.service.deps.Actor`: a verified token's subject, else ``X-Actor``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from sync_core.dlq import discard, list_letters, record_summary, show
from sync_core.service.access import requires
from sync_core.service.deps import Actor, Driver
from sync_core.service.problems import PROBLEM_DOC, problem
from sync_core.store import DeadLetterError, DeadLetterRecord

__all__ = ["Discard", "router"]

LetterId = Annotated[int, Path(ge=1, le=2**62, description="the dead letter's id")]
DlqStatus = Annotated[Literal["open", "replayed", "discarded"] | None, Query()]

# the unversioned routes, each deprecated for its /v1 successor (layers.py)
router = APIRouter(tags=["dead letters"], deprecated=True)


class Discard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


async def _answer(work: Awaitable[DeadLetterRecord]) -> Response:
    """The letter as ``work`` leaves it, or the problem it raised (404 or 409)."""
    try:
        record = await work
    except DeadLetterError as e:
        return _letter_problem(e)
    return JSONResponse(record_summary(record))


def _letter_problem(e: DeadLetterError) -> Response:
    if e.status is None:
        return problem(404, "Not Found", str(e), "letter_id")
    return problem(409, "Conflict", str(e), "letter_id")


@router.get("/dlq", dependencies=[requires("dlq:read")])
async def dlq(driver: Driver, status: DlqStatus = None) -> list[dict[str, Any]]:
    """The dead letters, oldest first (``status``: open, replayed or discarded)."""
    records = await driver.db(lambda s: list_letters(s, status=status))
    return [record_summary(r) for r in records]


@router.get("/dlq/{letter_id}", responses={404: PROBLEM_DOC}, dependencies=[requires("dlq:read")])
async def dlq_letter(letter_id: LetterId, driver: Driver) -> Response:
    return await _answer(driver.db(lambda s: show(s, letter_id)))


@router.post(
    "/dlq/{letter_id}/replay",
    responses={404: PROBLEM_DOC, 409: PROBLEM_DOC},
    dependencies=[requires("dlq:replay")],
)
async def dlq_replay(letter_id: LetterId, driver: Driver, actor: Actor) -> Response:
    """Queue an open letter again (a request keeps its idempotency key) and carry it out."""
    return await _answer(driver.replay(letter_id, actor=actor))


@router.post(
    "/dlq/{letter_id}/discard",
    responses={404: PROBLEM_DOC, 409: PROBLEM_DOC, 422: PROBLEM_DOC},
    dependencies=[requires("dlq:discard")],
)
async def dlq_discard(letter_id: LetterId, body: Discard, driver: Driver, actor: Actor) -> Response:
    """Give an open letter up, with the reason a person gives."""
    return await _answer(driver.db(lambda s: discard(s, letter_id, body.reason, actor=actor)))
