"""Every kind of problem the API answers with: its `type` URI, title and status,
and what /problems/{name} tells a reader (what it means, when, what to do)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Kind:
    name: str
    status: int
    title: str
    means: str
    when: tuple[str, ...]
    remedy: str
    detail: str  # of the example
    example_field: str | None = None
    example_errors: tuple[dict[str, str], ...] = field(default=())

    @property
    def type(self) -> str:
        """Relative to the server (RFC 9457 allows it): GET it for the page."""
        return f"/problems/{self.name}"

    def example(self) -> dict[str, Any]:
        """A body of this kind, as the API answers it."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.example_field is not None:
            body["field"] = self.example_field
        if self.example_errors:
            body["errors"] = list(self.example_errors)
        return body


RETRY = (
    "Send the same request again after the seconds the `Retry-After` header "
    "says; with the same `action_id` a command is never stored twice."
)

KINDS = (
    Kind(
        "invalid-input",
        422,
        "Invalid input",
        "A value in the request breaks a rule; nothing was stored. `field` names "
        "the first offending input, `errors` lists each one with its reason.",
        (
            "a body that is not JSON, not UTF-8 or not sent as `application/json`",
            "a missing or malformed field: an empty `contact_id`, a time without a "
            "timezone, a text past its length",
            "a pipeline's rule: a phase entered without the fields it requires "
            "(`fields.lost_reason` for lost), a skip of phases without a reason",
            "an unknown pipeline or phase in a filter; `after=` beyond the log's head",
        ),
        "Correct the named field and send the request again.",
        "contact_id: String should have at least 1 character; occurred_at: "
        "'yesterday' is not an ISO 8601 time",
        "contact_id",
        (
            {
                "field": "contact_id",
                "reason": "String should have at least 1 character",
            },
            {"field": "occurred_at", "reason": "'yesterday' is not an ISO 8601 time"},
        ),
    ),
    Kind(
        "not-found",
        404,
        "Not found",
        "What the request names does not exist: a deal, an action, a pipeline, "
        "a checkpoint, or the URL itself.",
        (
            "a `deal_id`, `action_id` or pipeline id that was never stored",
            "an auditor's proof before any checkpoint was signed",
        ),
        "Check the id (`field` names it). A deal's id comes from the answer to "
        "the action that opened it, or from `GET /v1/deals`.",
        "no deal 5d1f3c2e-8a4b-4c1e-9f0a-2b7c6d5e4f3a",
        "deal_id",
    ),
    Kind(
        "conflict",
        409,
        "Conflict",
        "The request contradicts what is already stored; nothing was stored.",
        (
            "an `action_id` used before for a different action",
            "a void of an action already voided for another reason",
            "a correction that would take away the step that opened a chained "
            "deal with activity of its own since",
            "a rebuild of the projections while one is running",
        ),
        "Use a new `action_id` for a new action; read the deal's timeline to see "
        "what is stored; for a rebuild, wait for the running one.",
        "action_id 'crm-1' was already used for a different action",
        "action_id",
    ),
    Kind(
        "unauthorized",
        401,
        "Unauthorized",
        "The request carries no API key the server knows.",
        (
            "no `Authorization` header, while the server has keys",
            "a header that is not `Bearer <key>`",
            "an unknown or revoked key",
        ),
        "Send `Authorization: Bearer <key>` with a key from `phaselog keys "
        "create` (in /docs: the Authorize button).",
        "unknown API key",
    ),
    Kind(
        "forbidden",
        403,
        "Forbidden",
        "The key is valid, but its role may not do this.",
        ("an agent's key asking for a report, an auditor's key logging an action",),
        "Use a key of one of the roles the detail names (each operation in /docs "
        "lists its roles).",
        "role 'agent' may not do this (needs manager or auditor or admin)",
    ),
    Kind(
        "bad-request",
        400,
        "Bad request",
        "The request could not be read at all.",
        ("a request the server cannot parse as HTTP meant for this API",),
        "Check the request against the API's documentation at /docs.",
        "the request could not be read",
    ),
    Kind(
        "method-not-allowed",
        405,
        "Method not allowed",
        "The URL exists, but not with this HTTP method.",
        ("a DELETE, PUT or PATCH: the API's history is only ever added to",),
        "Use a method the URL documents; to undo an action, void it "
        "(`POST /v1/actions/{action_id}/void`).",
        "Method Not Allowed",
    ),
    Kind(
        "request-body-too-large",
        413,
        "Request body too large",
        "The body is larger than the server accepts (`PHASELOG_MAX_BODY_BYTES`); "
        "nothing was read or stored.",
        ("a batch of many actions with long notes",),
        "Send fewer actions per batch.",
        "the request body is larger than 5000000 bytes",
        "body",
    ),
    Kind(
        "deal-rejected",
        424,
        "Not stored: another action of the same deal was rejected",
        "In a batch, a deal's actions are stored all together or not at all: "
        "this one is fine, but another action of its deal was rejected.",
        ("one item of a `POST /v1/actions:batch` whose deal has a rejected item",),
        "Correct the rejected action (its own item says why) and send the "
        "deal's actions again.",
        "another action of this deal was rejected: fields.lost_reason: required "
        "by entering 'lost'",
        "actions[0]",
    ),
    Kind(
        "internal-error",
        500,
        "Internal server error",
        "The server failed to answer; the server's log has the cause.",
        ("a fault in phaselog",),
        "Report it, with the request and the time it was sent.",
        "an unexpected error; the server's log has it",
    ),
    Kind(
        "not-stored",
        500,
        "Not stored: an unexpected error",
        "This command failed in a way nobody foresaw (say, a value the database "
        "refuses) and was not stored; the commands sent or coalesced with it "
        "were stored as if it had not been there.",
        ("a value that passes every check but the database refuses",),
        "Sending it again will fail again: report it with the request. The "
        "server's log has the cause.",
        "not stored: an unexpected error (in the server's log); the other "
        "commands sent with it were not affected",
    ),
    Kind(
        "not-yet-projected",
        503,
        "Not yet projected",
        "The read models (deal list, reports) have not caught up with the "
        "position asked for by `after=` within `PHASELOG_REPORT_WAIT_SECONDS`.",
        ("a report or deal list asked with `after=` right after a large import",),
        RETRY,
        "the projections have not reached position 1042 after 5 s; try again",
    ),
    Kind(
        "busy",
        503,
        "Deal busy",
        "The deal kept changing under this command (other requests wrote to it "
        "at the same time); nothing was stored.",
        ("many clients logging actions on one deal at the same moment",),
        RETRY,
        "deal 2a0702ea-79a3-5da7-979d-a338ccdc000f kept changing; try again",
    ),
    Kind(
        "database-unreachable",
        503,
        "Database unreachable",
        "The server cannot reach its database just now; nothing was stored.",
        ("the database restarting, or the network to it down",),
        RETRY,
        "the database cannot be reached just now; try again",
    ),
)

BY_NAME = {kind.name: kind for kind in KINDS}


def of_status(status: int) -> tuple[Kind, ...]:
    return tuple(kind for kind in KINDS if kind.status == status)
