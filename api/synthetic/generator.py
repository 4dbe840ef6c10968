"""A synthetic, deterministic sales history over every preset pipeline.

`history(actions=N, seed=S)` streams commands deal after deal: each deal walks its
pipeline's journey (`api.synthetic.journeys`) with realistic drop-offs and
durations, some deals pause and resume, a won Spanish lead or German sale
continues in its chained pipeline, offers and quotes set the deal's amount (in
EUR; HubSpot's deals in USD), a few actions are back-dated (logged after a
later one), and a few are voided afterwards. Nothing is held in memory beyond one
deal, so a million actions stream in constant memory. The same seed and `now` give
the same commands.

Used by `phaselog demo` and by the benchmarks (bench/ may import api/, never
the other way round).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from api.synthetic.journeys import JOURNEYS, Journey, Step
from domain.commands import LogAction, VoidAction

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Command = LogAction | VoidAction

BACKDATE_RATE = 0.03  # deals with one action logged after a later one
VOID_RATE = 0.01  # deals with one action voided afterwards
SPAN_DAYS = 730  # deals start within this many days before `now`
ACTORS = tuple(f"agent-{n:02d}" for n in range(1, 25))


def default_now() -> dt.datetime:
    """Today at midnight UTC: histories end before it, deterministic for a day."""
    today = dt.datetime.now(dt.UTC).date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)


@dataclass
class _Planned:
    pipeline: str
    step: Step
    at: dt.datetime
    fields: dict[str, object]


def history(
    actions: int,
    *,
    seed: int = 7,
    now: dt.datetime | None = None,
    span_days: int = SPAN_DAYS,
) -> Iterator[Command]:
    """Exactly `actions` LogActions (plus the voids), deal after deal."""
    rng = random.Random(seed)
    end = now or default_now()
    starters = [j for j in JOURNEYS.values() if j.weight > 0]
    weights = [j.weight for j in starters]
    emitted = 0
    for number in itertools.count(1):
        journey = rng.choices(starters, weights)[0]
        contact = f"c{seed}-{number:07d}"
        obj = f"o{seed}-{number:07d}" if journey.real_estate else None
        start = end - dt.timedelta(days=rng.uniform(1, span_days))
        # Prices come from a generator of their own: the rest of the history
        # stays what the same seed gave before deals had amounts.
        pricing = random.Random(f"{seed}-{number}")
        planned = _walk(rng, journey, start, end, pricing)
        commands = _commands(rng, planned, contact, obj, f"{seed}-{number}")
        for command in commands:
            if isinstance(command, LogAction):
                if emitted == actions:
                    return
                emitted += 1
            yield command
        if emitted == actions:
            return


def _walk(
    rng: random.Random,
    journey: Journey,
    start: dt.datetime,
    end: dt.datetime,
    pricing: random.Random,
) -> list[_Planned]:
    """One deal's path (and its chained continuation), stopping at `end`."""
    planned: list[_Planned] = []
    price = round(pricing.uniform(*journey.prices), -2)
    at = start
    pause_at = (
        rng.randrange(1, len(journey.steps))
        if journey.pause and rng.random() < journey.pause.rate
        else None
    )
    for index, step in enumerate(journey.steps):
        if index == pause_at and journey.pause is not None:
            for detour in (journey.pause.hold, journey.pause.resume):
                at = _after(rng, at, detour)
                if at > end:
                    return planned
                planned.append(
                    _Planned(journey.pipeline, detour, at, dict(detour.fields))
                )
        at = _after(rng, at, step)
        if at > end:
            return planned
        fields = dict(step.fields)
        if step.price:
            fields["amount"] = f"{price * step.price:.2f}"
            fields["currency"] = journey.currency
        last = index == len(journey.steps) - 1
        chained = last and journey.then is not None
        if chained and journey.chain_field is not None:
            chained = rng.random() < journey.chain_rate
            if chained:
                fields[journey.chain_field] = True
        planned.append(_Planned(journey.pipeline, step, at, fields))
        if last:
            if chained and journey.then is not None:
                # The chain logged the first step there; go on from the second.
                follow = JOURNEYS[journey.then]
                rest = replace(
                    follow, weight=0, steps=follow.steps[1:], pause=None, then=None
                )
                planned += _walk(rng, rest, at, end, pricing)
            return planned
        if rng.random() >= step.go_on:
            if journey.losses and rng.random() < journey.lose:
                loss = rng.choice(journey.losses)
                at = _after(rng, at, loss)
                if at <= end:
                    planned.append(
                        _Planned(journey.pipeline, loss, at, dict(loss.fields))
                    )
            return planned
    return planned


def _after(rng: random.Random, at: dt.datetime, step: Step) -> dt.datetime:
    days = rng.expovariate(1 / step.days) if step.days > 0 else 0.0
    return at + dt.timedelta(days=days, minutes=rng.randint(5, 600))


def _commands(
    rng: random.Random,
    planned: list[_Planned],
    contact: str,
    obj: str | None,
    prefix: str,
) -> list[Command]:
    actor = rng.choice(ACTORS)
    commands: list[Command] = [
        LogAction(
            pipeline=p.pipeline,
            contact_id=contact,
            object_id=obj,
            type=p.step.action,
            occurred_at=p.at.replace(microsecond=0),
            outcome=p.step.outcome,
            fields=p.fields,
            actor=actor if rng.random() < 0.9 else rng.choice(ACTORS),
            action_id=f"a{prefix}-{n}",
        )
        for n, p in enumerate(planned)
    ]
    # Back-dated: the later of two actions of the same deal is logged first. Logged
    # so, it skips the stage of the other, and says why where a pipeline asks.
    if len(commands) >= 3 and rng.random() < BACKDATE_RATE:
        i = rng.randrange(1, len(commands) - 1)
        first, second = commands[i], commands[i + 1]
        if _same_deal(first, second):
            assert isinstance(second, LogAction)
            fields = {**second.fields, "skip_reason": "the step before is logged late"}
            commands[i], commands[i + 1] = replace(second, fields=fields), first
    if len(commands) >= 2 and rng.random() < VOID_RATE:
        # The action logged last, as a wrong-deal log is noticed: voiding one in
        # the middle re-derives the steps after it, which the rules may rightly
        # refuse (a Tesoro step then skipped without its reason; a conversion
        # whose opportunity has been worked on since).
        target = commands[-1]
        assert isinstance(target, LogAction) and target.action_id is not None
        commands.append(
            VoidAction(target.action_id, reason="logged on the wrong deal", actor=actor)
        )
    return commands


def _same_deal(a: Command, b: Command) -> bool:
    return (
        isinstance(a, LogAction)
        and isinstance(b, LogAction)
        and a.pipeline == b.pipeline
    )


def batches(commands: Iterable[Command], size: int) -> Iterator[list[Command]]:
    """The stream cut into lists of at most `size`, for `log_actions`."""
    iterator = iter(commands)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
