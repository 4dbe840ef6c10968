"""Domain errors. Each names what is wrong so the API and CLI can say it plainly."""

from __future__ import annotations

import traceback


class PhaselogError(Exception):
    """Base of every error phaselog raises on purpose."""


class InvalidCommand(PhaselogError):
    """A command breaks a rule; `field` names the offending input, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownPipeline(InvalidCommand):
    def __init__(self, pipeline: str) -> None:
        super().__init__("pipeline", f"unknown pipeline {pipeline!r}")


class DealNotFound(PhaselogError):
    def __init__(self, deal_id: object) -> None:
        super().__init__(f"no deal {deal_id}")
        self.deal_id = deal_id


class ActionNotFound(PhaselogError):
    def __init__(self, action_id: str) -> None:
        super().__init__(f"no action {action_id!r}")
        self.action_id = action_id


class ActionConflict(PhaselogError):
    """The same action_id was used before with different content."""

    def __init__(self, action_id: str) -> None:
        super().__init__(
            f"action_id {action_id!r} was already used for a different action"
        )
        self.action_id = action_id


class NotStored(PhaselogError):
    """A command that failed in a way nobody expected, alone: the commands
    coalesced or batched with it were stored without it. The server's log has
    the cause; the client may report it, retrying will not help."""

    def __init__(self) -> None:
        super().__init__(
            "not stored: an unexpected error (in the server's log); the other "
            "commands sent with it were not affected"
        )


class AlreadyVoid(ActionConflict):
    """An action voided before, for another reason: the void stands as it is."""

    def __init__(self, action_id: str) -> None:
        PhaselogError.__init__(
            self,
            f"action {action_id!r} is already void, for another reason; a void "
            "is not changed (the timeline shows its reason)",
        )
        self.action_id = action_id


class ChainedDealActive(PhaselogError):
    """A correction would take away the step that opened a deal in another
    pipeline, and that deal has had activity of its own since."""

    def __init__(self, deal_id: object, pipeline: str, action_id: str) -> None:
        super().__init__(
            f"this correction takes away the step that opened {pipeline} deal "
            f"{deal_id}, which has had its own activity since ({action_id!r}); "
            "close or void that deal's activity first"
        )
        self.deal_id = deal_id
        self.action_id = action_id


class ConcurrencyExhausted(PhaselogError):
    """A deal kept changing under us; the client may simply try again."""


class DefinitionError(PhaselogError):
    """A pipeline definition file is broken; the message names file and path."""


def release(error: BaseException) -> None:
    """Let go of what a caught error keeps alive through its traceback.

    The storage library keeps an error it re-raises in a local of the frame that
    raised it (frame -> error -> traceback -> frame): a cycle that holds a whole
    batch (deals, decisions, futures) until the cyclic collector finds it. Under
    conflicts between two server processes that was ~20,000 objects per
    collection and pauses of 35-88 ms. Clearing the frames' locals breaks it.
    """
    traceback.clear_frames(error.__traceback__)
