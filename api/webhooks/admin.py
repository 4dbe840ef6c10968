"""What an admin does with webhooks, for the API's routes and the CLI alike:
subscriptions made (their URL checked, a secret drawn), paused, resumed,
rotated, deleted; the delivery log read; deliveries sent again."""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from api.webhooks.safety import url_refusal
from domain.errors import InvalidCommand, PhaselogError
from domain.webhooks import SECRET_BYTES, Filter, Status, new_secret
from projections.source import source_of
from projections.store import store_for
from projections.webhooks.outbox import Delivery, Outbox
from projections.webhooks.subscriptions import Subscription, Subscriptions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from api.settings import Settings
    from domain.service import PhaseTracker


class WebhookNotFound(PhaselogError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no {what}")


class WebhookAdmin:
    def __init__(self, tracker: PhaseTracker, settings: Settings) -> None:
        store = store_for(source_of(tracker))
        self.subscriptions = Subscriptions(store)
        self.outbox = Outbox(store)
        self.clock = tracker.clock
        self.allow_private = settings.webhooks_allow_private

    def create(
        self,
        url: str,
        pipelines: Sequence[str] = (),
        phases: Sequence[str] = (),
        kinds: Sequence[str] = (),
    ) -> Subscription:
        """A new subscription, or InvalidCommand naming `url`; nothing stored then."""
        refusal = url_refusal(url, allow_private=self.allow_private)
        if refusal is not None:
            raise InvalidCommand("url", refusal)
        wanted = Filter(
            tuple(dict.fromkeys(pipelines)),
            tuple(dict.fromkeys(phases)),
            tuple(dict.fromkeys(kinds)),
        )
        return self.subscriptions.create(
            f"wh_{uuid.uuid4().hex}",
            url,
            new_secret(secrets.token_bytes(SECRET_BYTES)),
            wanted,
            self.clock(),
        )

    def all(self) -> list[Subscription]:
        return self.subscriptions.all()

    def get(self, id: str) -> Subscription:
        found = self.subscriptions.get(id)
        if found is None:
            raise WebhookNotFound(f"webhook {id!r}")
        return found

    def set_status(self, id: str, status: Status) -> Subscription:
        self.get(id)
        found = self.subscriptions.set_status(id, status, self.clock())
        assert found is not None
        return found

    def rotate(self, id: str) -> Subscription:
        self.get(id)
        secret = new_secret(secrets.token_bytes(SECRET_BYTES))
        found = self.subscriptions.rotate(id, secret, self.clock())
        assert found is not None
        return found

    def delete(self, id: str) -> None:
        if not self.subscriptions.delete(id):
            raise WebhookNotFound(f"webhook {id!r}")

    def deliveries(self, id: str, after: int, limit: int) -> list[Delivery]:
        self.get(id)
        return self.outbox.log(id, after, limit)

    def redeliver(self, id: str, delivery_id: int) -> Delivery:
        self.get(id)
        if not self.outbox.redeliver(id, self.clock(), delivery_id=delivery_id):
            raise WebhookNotFound(f"delivery {delivery_id} of webhook {id!r}")
        found = self.outbox.get(id, delivery_id)
        assert found is not None
        return found

    def redeliver_after(self, id: str, position: int) -> int:
        self.get(id)
        return self.outbox.redeliver(id, self.clock(), after=position)
