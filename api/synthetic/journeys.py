"""How deals typically travel through each preset: the generator's data.

A journey is the happy path of one pipeline as a list of steps (the action, the
mean number of days since the previous step, and the share of deals that go on
after it). Deals that stop early either stay open (they end up stale) or are
closed by one of the pipeline's ways to lose. Figures are plausible, not measured:
most deals leave early, few reach the end, and late phases take longer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    action: str
    days: float = 3.0  # mean days since the previous step
    go_on: float = 0.8  # share of deals that continue after this step
    outcome: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # Sets the deal's `fields.amount` (this share of its price) and currency:
    # an offer, a quote, a reservation at the negotiated price.
    price: float = 0.0


@dataclass(frozen=True)
class Pause:
    """A detour: the deal is paused for a while, then resumed."""

    hold: Step
    resume: Step
    rate: float = 0.05  # share of deals that pause once


@dataclass(frozen=True)
class Journey:
    pipeline: str
    weight: float  # share of newly started deals
    steps: tuple[Step, ...]
    losses: tuple[Step, ...] = ()
    lose: float = 0.6  # of the deals that stop early, the share closed as lost
    pause: Pause | None = None
    then: str | None = None  # the chained pipeline a won deal continues in
    chain_field: str | None = None  # the field that asks for the chain, if optional
    chain_rate: float = 1.0  # with `chain_field`, the share of won deals chaining
    real_estate: bool = False  # deals are about an object (a property)
    prices: tuple[int, int] = (0, 0)  # a deal's price is drawn from this range
    currency: str = "EUR"


def _lost(
    action: str, name: str, *values: str, detail: str | None = None
) -> tuple[Step, ...]:
    steps = [Step(action, 4.0, 0.0, fields={name: value}) for value in values]
    if detail is not None:
        steps.append(
            Step(action, 4.0, 0.0, fields={name: "other", detail: "moved abroad"})
        )
    return tuple(steps)


_FR_START = (
    Step("inquiry_received", 0.0, 0.9),
    Step("inquiry_answered", 0.5, 0.85),
    Step("documentation_sent", 2.0, 0.7),
    Step("viewing", 6.0, 0.55),
    Step("viewing", 7.0, 0.7),
)

JOURNEYS: dict[str, Journey] = {
    j.pipeline: j
    for j in (
        Journey(
            "fr-sale",
            0.20,
            (
                *_FR_START,
                Step("negotiation", 8.0, 0.75, price=1.0),  # the offer
                Step("reservation", 6.0, 0.85, price=0.96),  # as negotiated
                Step("purchase_confirmation", 7.0, 0.9),
                Step("financing_proof", 20.0, 0.9),
                Step("contract_draft", 14.0, 0.95),
                Step("notary", 21.0, 0.97),
                Step("notarial_certification", 25.0),
            ),
            losses=(
                Step("refusal", 5.0, 0.0, fields={"reason": "price too high"}),
                Step("refusal", 5.0, 0.0, fields={"reason": "bought elsewhere"}),
            ),
            real_estate=True,
            prices=(250_000, 1_500_000),
        ),
        Journey(
            "fr-rental",
            0.15,
            (
                *_FR_START,
                Step("application_received", 3.0, 0.8, price=1.0),  # a year's rent
                Step("solvency_check", 2.0, 0.85),
                Step("lease_draft", 4.0, 0.95),
                Step("lease_signature", 5.0),
            ),
            losses=(Step("refusal", 3.0, 0.0, fields={"reason": "insolvent"}),),
            real_estate=True,
            prices=(12_000, 48_000),
        ),
        Journey(
            "nl-tesoro",
            0.15,
            (
                Step("contact_captured", 0.0, 0.85),
                Step("budget_confirmed", 5.0, 0.8),
                Step("viewing_scheduled", 6.0, 0.9),
                Step("viewing", 4.0, 0.6),
                Step("offer_made", 10.0, 0.7, price=1.0),
                Step("offer_accepted", 7.0, 0.9, price=0.97),
                Step("contract_signed", 20.0),
            ),
            losses=_lost(
                "deal_lost",
                "lost_reason",
                "financing",
                "competition",
                "timing",
                "price",
                "property_issue",
                detail="lost_reason_detail",
            ),
            pause=Pause(Step("put_on_hold", 4.0), Step("reactivated", 30.0)),
            real_estate=True,
            prices=(200_000, 900_000),
        ),
        Journey(
            "de-deal-phasen",
            0.15,
            (
                Step(
                    "inquiry",
                    0.0,
                    0.9,
                    fields={"first_name": "Anna", "last_name": "Berg", "mobile": "+49"},
                ),
                Step("setting_call", 1.0, 0.7, outcome="qualified", price=1.0),
                Step("consultation_booked", 2.0, 0.9),
                Step("consultation_held", 5.0, 0.6, outcome="follow_up_booked"),
                Step("consultation_booked", 3.0, 0.9),
                Step("consultation_held", 6.0, outcome="sold"),
            ),
            losses=(
                Step("consultation_held", 5.0, 0.0, outcome="declined"),
                Step(
                    "setting_call",
                    1.0,
                    0.0,
                    outcome="ko",
                    fields={"disqualification_reason": "wrong_fit"},
                ),
            ),
            then="de-upsell",
            chain_field="upsell",
            chain_rate=0.3,
            prices=(3_000, 15_000),
        ),
        Journey(
            "de-upsell",
            0.0,
            (
                Step("upsell_candidate_identified", 0.0, 0.7),
                Step("upsell_offer_sent", 10.0, 0.6, price=1.0),
                Step("upsell_accepted", 14.0),
            ),
            losses=(Step("upsell_declined", 7.0, 0.0),),
            prices=(1_000, 5_000),
        ),
        Journey(
            "es-leads",
            0.15,
            (
                Step("lead_created", 0.0, 0.9),
                Step("contact_attempted", 1.0, 0.8),
                Step("contact_made", 3.0, 0.75),
                Step("interest_shown", 5.0, 0.75),
                Step("qualification_started", 7.0, 0.8),
                Step("quote_requested", 6.0),
            ),
            losses=(
                Step("marked_not_interested", 3.0, 0.0, fields={"reason": "no budget"}),
                Step("marked_spam", 0.5, 0.0),
            ),
            pause=Pause(
                Step(
                    "contact_later_requested",
                    3.0,
                    fields={"follow_up_on": "2026-03-01"},
                ),
                Step("contact_resumed", 40.0),
                rate=0.08,
            ),
            then="es-opportunities",
        ),
        Journey(
            "es-opportunities",
            0.05,
            (
                Step("quote_requested", 0.0, 0.85),
                Step("analysis_started", 3.0, 0.85),
                Step("quote_sent", 7.0, 0.7, price=1.0),
                Step("changes_requested", 10.0, 0.7, price=0.9),
                Step("proposal_accepted", 10.0),
            ),
            losses=(
                *_lost("declined", "lost_reason", "no_interest", "budget", "timing"),
                Step("chose_competitor", 8.0, 0.0, fields={"competitor": "Acme"}),
            ),
            prices=(5_000, 60_000),
        ),
        Journey(
            "hubspot-default",
            0.15,
            (
                Step("meeting_booked", 0.0, 0.8),
                Step(
                    "qualified",
                    7.0,
                    0.75,
                    fields={
                        "budget": 25000,
                        "timeline": "Q3",
                        "decision_makers": "CFO",
                    },
                    price=1.0,
                ),
                Step("presentation_booked", 10.0, 0.75),
                Step("decision_maker_approved", 14.0, 0.8),
                Step("proposal_sent", 7.0, 0.7, price=1.1),  # scope grown
                Step("proposal_signed", 14.0),
            ),
            losses=_lost(
                "deal_lost",
                "closed_lost_reason",
                "budget",
                "competition",
                "no_response",
                "status_quo",
                "decision_maker",
                detail="closed_lost_details",
            ),
            prices=(10_000, 120_000),
            currency="USD",
        ),
    )
}
