"""Pipeline definitions: the data the rule engine interprets.

A pipeline is ordered phases, the actions it knows and the rules that map an action
(with its outcome, its occurrence number and the deal's current phase) to a phase.
Definitions are frozen pydantic models loaded from YAML; `check_*` validators reject
a broken definition with the path inside it and what is wrong.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    model_serializer,
    model_validator,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pydantic import SerializerFunctionWrapHandler

PhaseKind = Literal["open", "won", "lost", "paused"]
TERMINAL_KINDS: frozenset[str] = frozenset({"won", "lost"})
KEY_PATTERN = r"^[a-z][a-z0-9_-]*$"

Labels = dict[str, str]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Settings added after definitions were first stored. A dump leaves them out
    # while they hold their default, so a definition that does not use them keeps
    # its digest, and a database that stored it adds no new version on upgrade.
    ADDED_LATER: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _leave_out_unused(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in self.ADDED_LATER:
                if getattr(self, name) == type(self).model_fields[name].default:
                    data.pop(name, None)
        return data


class FieldSpec(Frozen):
    """A field an action or a phase requires.

    `values` makes it an enumeration; `detail_for` names values that need a free-text
    detail field as well (HubSpot's "other" with "closed lost details"). `default`
    is the value when none is given: a phase that stands for one reason (lost to a
    competitor) records it without the user typing it, and asks for its detail.
    """

    ADDED_LATER = ("default",)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["text", "enum", "date", "number", "boolean"] = "text"
    values: tuple[str, ...] = ()
    detail_field: str | None = None
    detail_for: tuple[str, ...] = ()
    default: str | None = None
    label: Labels = {}

    @model_validator(mode="after")
    def check_enum(self) -> FieldSpec:
        if self.type == "enum" and not self.values:
            raise ValueError(f"field {self.name!r}: an enum needs 'values'")
        if self.values and self.type != "enum":
            raise ValueError(f"field {self.name!r}: 'values' only fit type 'enum'")
        unknown = set(self.detail_for) - set(self.values)
        if unknown:
            raise ValueError(
                f"field {self.name!r}: detail_for names unknown values "
                f"{sorted(unknown)}"
            )
        if self.detail_for and not self.detail_field:
            raise ValueError(f"field {self.name!r}: detail_for needs detail_field")
        if self.default is not None and self.values and self.default not in self.values:
            raise ValueError(
                f"field {self.name!r}: default {self.default!r} is not one of its "
                "values"
            )
        return self


class Chain(Frozen):
    """Entering a phase opens a deal in another pipeline by logging `action` there.

    With `when_field` the chain is optional: it fires only when the action that
    entered the phase carries that field with a true value.
    """

    pipeline: str
    action: str
    when_field: str | None = None


class Phase(Frozen):
    """A step of the pipeline. A `final` phase is never left: no rule moves a deal
    out of it and a manual move out of it is refused (a lost Tesoro deal). A
    `permanent` one is final for the contact too: no next sales process opens
    after it for the same contact and object (a lead found unsuitable for good).
    """

    ADDED_LATER = ("final", "permanent")

    key: str = Field(pattern=KEY_PATTERN)
    label: Labels
    kind: PhaseKind = "open"
    probability: int | None = Field(default=None, ge=0, le=100)
    stale_after_days: int | None = Field(default=None, gt=0)
    requires: tuple[FieldSpec, ...] = ()
    chain: Chain | None = None
    final: bool = False
    permanent: bool = False

    @model_validator(mode="after")
    def check_final(self) -> Phase:
        if self.final and not self.terminal:
            raise ValueError(f"phase {self.key!r}: only a won or lost phase is final")
        if self.permanent and not self.final:
            raise ValueError(f"phase {self.key!r}: a permanent phase is final too")
        return self

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS


class Rule(Frozen):
    """One way an action moves a deal; the first rule that matches wins.

    A rule without `to` and without `resume` records the action and keeps the phase
    (an outcome like `postponed`). `from` limits the rule to those current phases and
    is the only way to move back under `forward` progression or out of a terminal
    phase. `nth` matches only that occurrence of the action (1 = the first).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: str | None = None
    outcome: str | None = None
    from_: tuple[str, ...] | None = Field(default=None, alias="from")
    nth: int | None = Field(default=None, ge=1)
    resume: bool = False

    @model_validator(mode="after")
    def check_target(self) -> Rule:
        if self.resume and self.to is not None:
            raise ValueError("a rule either resumes or names 'to', not both")
        return self


class ActionDef(Frozen):
    """An action type. `to` is shorthand for a single unconditional rule."""

    key: str = Field(pattern=KEY_PATTERN)
    label: Labels
    outcomes: tuple[str, ...] = ()
    outcome_required: bool = False
    requires: tuple[FieldSpec, ...] = ()
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def expand_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "to" in data:
            data = dict(data)
            if data.get("rules"):
                raise ValueError("give either 'to' or 'rules', not both")
            data["rules"] = [{"to": data.pop("to")}]
        return data

    @model_validator(mode="after")
    def check_outcomes(self) -> ActionDef:
        for i, rule in enumerate(self.rules):
            if rule.outcome is not None and rule.outcome not in self.outcomes:
                raise ValueError(
                    f"rules[{i}]: outcome {rule.outcome!r} is not one of this "
                    f"action's outcomes {list(self.outcomes)}"
                )
        if self.outcome_required and not self.outcomes:
            raise ValueError("outcome_required needs 'outcomes'")
        return self


class Expiry(Frozen):
    """When a sweeper closes an open deal into `to`, with fixed `fields`.

    Three limits (HubSpot's advice, seeds/003), each optional, at least one set:
    `without_activity_days` since the deal's last activity (spelled `after_days`
    before the other two existed, and still read so), `in_stage_days` in its
    current phase, `open_days` since it opened. It is due at the earliest.
    """

    ADDED_LATER = ("in_stage_days", "open_days")

    # Stored definitions spell it `after_days`; dumping it so keeps their digest.
    without_activity_days: int | None = Field(
        default=None,
        gt=0,
        validation_alias=AliasChoices("without_activity_days", "after_days"),
        serialization_alias="after_days",
    )
    in_stage_days: int | None = Field(default=None, gt=0)
    open_days: int | None = Field(default=None, gt=0)
    to: str
    fields: dict[str, str] = {}

    @model_validator(mode="after")
    def check_limit(self) -> Expiry:
        if not (self.without_activity_days or self.in_stage_days or self.open_days):
            raise ValueError(
                "expiry needs without_activity_days (after_days), in_stage_days "
                "or open_days"
            )
        return self

    def due_at(
        self,
        opened_at: dt.datetime | None,
        phase_since: dt.datetime | None,
        last_activity_at: dt.datetime | None,
    ) -> dt.datetime | None:
        """The earliest time one of the limits is reached, or None."""
        limits = (
            (last_activity_at, self.without_activity_days),
            (phase_since, self.in_stage_days),
            (opened_at, self.open_days),
        )
        due = [
            since + dt.timedelta(days=days)
            for since, days in limits
            if since is not None and days is not None
        ]
        return min(due, default=None)


class Pipeline(Frozen):
    """A versioned pipeline definition; `version` is stamped by the registry."""

    ADDED_LATER = ("action_skip_policy",)

    id: str = Field(pattern=KEY_PATTERN)
    version: int = Field(default=1, ge=1)
    label: Labels
    default_language: str = "en"
    progression: Literal["forward", "free"] = "forward"
    skip_policy: Literal["allow", "reason", "forbid"] = "allow"
    # The same policy for a phase skipped by an action's rule rather than a manual
    # move (Tesoro: "documenteer altijd de reason"); its reason is the action's
    # `fields.skip_reason`.
    action_skip_policy: Literal["allow", "reason", "forbid"] = "allow"
    phases: tuple[Phase, ...] = Field(min_length=1)
    actions: tuple[ActionDef, ...] = Field(min_length=1)
    expiry: Expiry | None = None

    @model_validator(mode="after")
    def check_references(self) -> Pipeline:
        _check_unique("phases", [p.key for p in self.phases])
        _check_unique("actions", [a.key for a in self.actions])
        phases = {p.key for p in self.phases}
        if not any(p.terminal for p in self.phases):
            raise ValueError("phases: a pipeline needs at least one won or lost phase")
        for a_index, action in enumerate(self.actions):
            for r_index, rule in enumerate(action.rules):
                where = f"actions[{a_index}] ({action.key}).rules[{r_index}]"
                for name in [rule.to, *(rule.from_ or ())]:
                    if name is not None and name not in phases:
                        raise ValueError(f"{where}: unknown phase {name!r}")
                leaves = rule.resume or rule.to is not None
                for name in rule.from_ or ():
                    if leaves and rule.to != name and self.phase(name).final:
                        raise ValueError(f"{where}: {name!r} is final, never left")
        if self.expiry and self.expiry.to not in phases:
            raise ValueError(f"expiry.to: unknown phase {self.expiry.to!r}")
        reached = {r.to for a in self.actions for r in a.rules if r.to}
        unreachable = [p.key for p in self.phases if p.key not in reached]
        if unreachable:
            raise ValueError(
                f"phases: no action leads to {unreachable} (unreachable phase)"
            )
        return self

    # -- lookups (indexed once: the engine asks them for every entry) ----------

    @cached_property
    def _phase_index(self) -> dict[str, tuple[int, Phase]]:
        return {p.key: (i, p) for i, p in enumerate(self.phases)}

    @cached_property
    def _action_index(self) -> dict[str, ActionDef]:
        return {a.key: a for a in self.actions}

    def phase(self, key: str) -> Phase:
        return self._phase_index[key][1]

    def action(self, key: str) -> ActionDef:
        return self._action_index[key]

    def has_phase(self, key: str) -> bool:
        return key in self._phase_index

    def has_action(self, key: str) -> bool:
        return key in self._action_index

    def index(self, key: str) -> int:
        return self._phase_index[key][0]

    def open_phases_between(self, start: str | None, end: str) -> list[str]:
        """Open phases strictly between `start` and `end` in pipeline order."""
        low = -1 if start is None else self.index(start)
        return [
            p.key for p in self.phases[low + 1 : self.index(end)] if p.kind == "open"
        ]

    def label_of(self, key: str, language: str | None = None) -> str:
        labels = self.phase(key).label
        return (
            labels.get(language or self.default_language)
            or labels.get("en")
            or next(iter(labels.values()), key)
        )

    def chains(self) -> Iterator[tuple[Phase, Chain]]:
        for phase in self.phases:
            if phase.chain is not None:
                yield phase, phase.chain


def _check_unique(where: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{where}: duplicate key {key!r}")
        seen.add(key)
