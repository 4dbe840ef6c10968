"""The worker and the sender together: what a server (or `phaselog webhooks
run`) starts. Only the process elected to run the worker sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.webhooks.sender import Policy, Sender
from projections.webhooks.worker import WebhookWorker

if TYPE_CHECKING:
    from api.settings import Settings
    from domain.service import PhaseTracker


class Webhooks:
    """The webhook worker and its sender, started and stopped as one."""

    def __init__(self, tracker: PhaseTracker, settings: Settings) -> None:
        self.worker = WebhookWorker(tracker)
        policy = Policy(
            schedule=settings.webhook_retry_seconds,
            timeout=settings.webhook_timeout_seconds,
            allow_private=settings.webhooks_allow_private,
            senders=settings.webhook_senders,
        )
        self.sender = Sender(
            self.worker.outbox,
            self.worker.subscriptions,
            policy,
            tracker.clock,
            lambda: self.worker.leading,
        )
        self.worker.listeners.append(self.sender.hurry)

    def start(self) -> None:
        self.worker.start()
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()
        self.worker.stop()

    def hurry(self) -> None:
        """Something changed (a redelivery, a resume): look again now."""
        self.worker.hurry()
        self.sender.hurry()
