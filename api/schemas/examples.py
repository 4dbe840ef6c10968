"""Request bodies as /docs shows them: realistic ones on the nl-tesoro preset,
each a step of one deal (contact c-1042 about flat amstel-12-3), in order."""

from __future__ import annotations

from typing import Any

DEAL = {"pipeline": "nl-tesoro", "contact_id": "c-1042", "object_id": "amstel-12-3"}
CAPTURED = {
    "action_id": "crm-10231",
    **DEAL,
    "type": "contact_captured",
    "occurred_at": "2024-03-04T09:15:00+01:00",
    "actor": "Sanne de Vries",
    "note": "Called about the flat on the Amstel; wants to see it this week",
}
VIEWING = {
    "action_id": "crm-10245",
    **DEAL,
    "type": "viewing",
    "occurred_at": "2024-03-07T14:00:00+01:00",
    "actor": "Sanne de Vries",
    # From lead, a viewing skips qualification: nl-tesoro asks why.
    "fields": {"skip_reason": "budget confirmed by the bank at the first call"},
}
LOST = {
    "action_id": "crm-10302",
    **DEAL,
    "type": "deal_lost",
    "occurred_at": "2024-03-21T10:30:00+01:00",
    "actor": "Sanne de Vries",
    "fields": {"lost_reason": "financing"},
    "note": "Mortgage refused",
}


def examples(**named: tuple[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """OpenAPI examples: name -> (summary, value)."""
    return {name: {"summary": s, "value": value} for name, (s, value) in named.items()}


ACTION = examples(
    contact_captured=("An inquiry: opens the deal in phase lead", CAPTURED),
    viewing=("A viewing, skipping qualification with a reason", VIEWING),
    deal_lost=("The deal lost, with the reason nl-tesoro requires", LOST),
)
BATCH = examples(
    history=(
        "A deal's history in one request, stored together",
        {"actions": [CAPTURED, VIEWING]},
    ),
)
MOVE = examples(
    negotiation=(
        "A move by hand, past phases, so with a reason",
        {
            "phase": "negotiation",
            "reason": "returning client: made an offer on the phone",
            "actor": "Sanne de Vries",
            "occurred_at": "2024-03-08T11:00:00+01:00",
        },
    ),
)
VOID = examples(
    wrong_contact=(
        "An action logged on the wrong contact",
        {"reason": "logged on the wrong contact", "actor": "Sanne de Vries"},
    ),
)
WEBHOOK = examples(
    won=(
        "Every nl-tesoro deal that is won, to open an onboarding ticket",
        {
            "url": "https://crm.example.com/hooks/phaselog",
            "pipelines": ["nl-tesoro"],
            "kinds": ["won"],
        },
    ),
)
REDELIVER = examples(
    after=("Everything after log position 1200, sent again", {"after": 1200}),
)
