"""What the HTTP benchmarks send: the pages they read, and the synthetic
history's actions in the order a day of agents would send them, split among
clients."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from api.synthetic.generator import history
from bench import wire
from domain.commands import LogAction

TIMELINE_EVENTS = 50  # the deal the timeline and deal page benches read

if TYPE_CHECKING:
    import datetime as dt

    from bench.load import Request


def arrival_requests(seed: int, count: int) -> list[Request]:
    actions = [c for c in history(count, seed=seed) if isinstance(c, LogAction)]
    return [
        ("POST", "/v1/actions", wire.action_body(c)) for c in in_arrival_order(actions)
    ]


def in_arrival_order(actions: list[LogAction]) -> list[LogAction]:
    """The actions as a day of agents would send them: interleaved across deals.

    The generator yields deal after deal; sent in that order, every deal's
    actions would arrive a millisecond apart, which no agent does. An action
    arrives when it happened, or, if back-dated, when the contact's latest action
    so far did; each contact keeps its order, back-dated entries stay late.
    """
    latest: dict[str, dt.datetime] = {}
    arrival: list[dt.datetime] = []
    for action in actions:
        assert action.occurred_at is not None
        at = max(latest.get(action.contact_id, action.occurred_at), action.occurred_at)
        latest[action.contact_id] = at
        arrival.append(at)
    order = sorted(range(len(actions)), key=arrival.__getitem__)  # stable
    return [actions[i] for i in order]


def online_requests(seed: int, count: int, clients: int) -> list[list[Request]]:
    """Split so that one contact's actions stay with one client, in order."""
    per_client: list[list[Request]] = [[] for _ in range(clients)]
    for request in arrival_requests(seed, count):
        contact = request[2]["contact_id"]
        per_client[zlib.crc32(contact.encode()) % clients].append(request)
    return per_client


def page_reads(pipeline: str, owner: str) -> list[tuple[str, str, str]]:
    """The pages people look at, signed in by the cookie (`wire.AUTH`)."""
    return [
        ("board page", f"/pipelines/{pipeline}/board", "<= 50"),
        ("board page, one owner", f"/pipelines/{pipeline}/board?{owner}", ""),
        ("funnel page", f"/pipelines/{pipeline}/funnel", "<= 50"),
        ("time-in-stage page", f"/pipelines/{pipeline}/time-in-stage", ""),
        ("stale page", f"/pipelines/{pipeline}/stale", ""),
        ("lost reasons page", f"/pipelines/{pipeline}/lost-reasons", ""),
    ]


def deal_page(deal_id: str) -> list[tuple[str, str, str]]:
    return [(f"deal page ({TIMELINE_EVENTS} events)", f"/deals/{deal_id}", "")]
