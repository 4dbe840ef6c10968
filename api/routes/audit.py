"""The auditor's proof: the latest signed checkpoint, a deal's proof against it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import Auditor, DealId, Tracker
from api.errors import problem_responses
from api.schemas.audit import CheckpointOut, ProofOut
from storage.audit import NotIntact, deal_proof, latest
from storage.eventstore import event_store
from storage.ledger import Event

router = APIRouter(prefix="/v1", tags=["audit"])

NO_CHECKPOINT = "no checkpoint yet: phaselog audit checkpoint --key FILE makes one"


@router.get("/audit/checkpoint", responses=problem_responses(404))
def get_checkpoint(tracker: Tracker, _: Auditor) -> CheckpointOut:
    """The latest signed checkpoint of the log."""
    made = latest(event_store(tracker).keys.ledger)
    if made is None:
        raise HTTPException(404, NO_CHECKPOINT)
    return CheckpointOut.model_validate(made.to_json())


@router.get("/deals/{deal_id}/proof", responses=problem_responses(404, 409))
def get_proof(deal_id: DealId, tracker: Tracker, _: Auditor) -> ProofOut:
    """The deal's events with what proves each against the latest checkpoint
    without the rest of the log: `phaselog audit check-proof FILE` checks it
    offline (the README says how, step by step)."""
    store = event_store(tracker)
    tracker.get_deal(deal_id)  # 404 for a deal that is not there
    made = latest(store.keys.ledger)
    if made is None:
        raise HTTPException(404, NO_CHECKPOINT)
    events = []
    for stored in store.recorder.select_events(deal_id):
        position = store.keys.position_of(deal_id, stored.originator_version)
        assert position is not None
        events.append(
            Event(
                position, deal_id, stored.originator_version, stored.topic, stored.state
            )
        )
    try:
        proof = deal_proof(store.keys.ledger, deal_id, events, made)
    except NotIntact as error:
        raise HTTPException(409, str(error)) from None
    return ProofOut.model_validate(proof)
