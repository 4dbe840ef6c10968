"""The sender: pending deliveries posted, signed, retried, settled.

At-least-once: a delivery is marked delivered only after its receiver said
2xx, so a sender killed in between posts it again, with the same `webhook-id`.
In order per deal and subscription: the outbox hands out only the first
pending delivery of each, and at most one of each is in flight here, until
its attempt is settled.

The pool's threads only post; the loop settles what they ended in one
transaction a round (`Outbox.settle_all`), then takes what is due.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import httpx
from standardwebhooks import Webhook

from api.webhooks.safety import url_refusal
from domain.webhooks import next_delay, retry_after
from projections.webhooks.outbox import Delivery, Outbox, Outcome

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from projections.webhooks.subscriptions import Subscription, Subscriptions

logger = logging.getLogger(__name__)
# An attempt that ended: what was posted, to whom, and what came of it.
Ended: TypeAlias = "tuple[Delivery, Subscription, Outcome]"
POLL = 0.5  # at most this long between looks at the outbox
USER_AGENT = "phaselog-webhooks/1"
# Deliveries in flight per posting thread (the rest queue for the pool): a
# round settles and takes many at once, so its queries are paid per round.
QUEUED = 16


def signature(
    secrets: Sequence[str], message_id: str, at: dt.datetime, body: str
) -> str:
    """`webhook-signature`: one `v1,...` per secret, space-separated."""
    return " ".join(Webhook(s).sign(message_id, at, body) for s in secrets)


@dataclass(frozen=True)
class Policy:
    """How deliveries are sent: the settings' part."""

    schedule: tuple[float, ...]
    timeout: float
    allow_private: bool
    senders: int


class Sender:
    """Posts what the outbox says is due, while `leading()` is true."""

    def __init__(
        self,
        outbox: Outbox,
        subscriptions: Subscriptions,
        policy: Policy,
        clock: Callable[[], dt.datetime],
        leading: Callable[[], bool],
    ) -> None:
        self.outbox = outbox
        self.subscriptions = subscriptions
        self.policy = policy
        self.clock = clock
        self.leading = leading
        # The transport alone, not a Client: a Client's layers (cookies, auth,
        # redirects, event hooks, environment proxies) are nothing a webhook
        # uses, and cost a third of a post's CPU (bench/HISTORY.md, 2026-12-05).
        # Never following a redirect is the sender's own rule (a 3xx fails).
        self.transport = httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=policy.senders * 2)
        )
        self.timeout = httpx.Timeout(policy.timeout).as_dict()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(policy.senders, "webhook-send")
        self._inflight: dict[tuple[str, str], Future[Ended | None]] = {}
        self.sent = 0  # attempts made by this process (the bench reads it)

    def hurry(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name="webhook-sender", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._pool.shutdown(wait=True)
        try:
            self.settle_ended()  # what was posted meanwhile is not posted again
        except Exception:
            logger.exception("webhook sender: the last attempts were not settled")
        self.transport.close()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if self.leading():
                    self.send_due()
                else:
                    self.settle_ended()  # posted while it led
            except Exception:
                logger.exception("webhook sender: a round failed")
            self._wait()

    def _wait(self) -> None:
        """Until a delivery ends, the worker records one, or one falls due."""
        pause = POLL
        running = list(self._inflight.values())
        if running:
            # The first to end wakes the loop, which then looks at what is due.
            wait(running, timeout=pause, return_when=FIRST_COMPLETED)
            return
        if self.leading():
            try:
                due = self.outbox.next_due()
            except Exception:
                due = None
            if due is not None:
                pause = min(pause, max((due - self.clock()).total_seconds(), 0.005))
        self._wake.wait(pause)

    def send_due(self) -> int:
        """Settle the attempts that ended, then start every due delivery not
        already in flight; how many started."""
        self.settle_ended()
        inflight = self._inflight
        room = self.policy.senders * QUEUED - len(inflight)
        if room <= 0:
            return 0
        started = 0
        due = self.outbox.due(self.clock(), room + len(inflight))
        if not due:
            return 0
        # Read once a round, not once a delivery; `due` took active ones only.
        subscriptions = {s.id: s for s in self.subscriptions.all()}
        for delivery in due:
            key = (delivery.subscription_id, delivery.deal_id)
            subscription = subscriptions.get(delivery.subscription_id)
            if key in inflight or subscription is None:
                continue
            inflight[key] = self._pool.submit(self._attempt, delivery, subscription)
            started += 1
            if started >= room:
                break
        return started

    def settle_ended(self) -> None:
        """The ended attempts settled together; their deals' next deliveries
        may go once this has committed (not before: they would overtake)."""
        done = [key for key, future in self._inflight.items() if future.done()]
        if not done:
            return
        ended: list[Ended] = []
        for key in done:
            try:
                result = self._inflight[key].result()
            except Exception:
                # Not settled: still pending, so it goes again (same webhook-id).
                logger.exception("webhook delivery to %s failed unexpectedly", key)
                continue
            if result is not None:
                ended.append(result)
        try:
            self.outbox.settle_all([(d, outcome) for d, _, outcome in ended])
            self.sent += len(ended)
            for _, subscription, outcome in ended:
                if outcome.response_code == 410:
                    self.subscriptions.set_status(
                        subscription.id,
                        "disabled",
                        outcome.at,
                        f"the receiver answered 410 Gone at {outcome.at.isoformat()}",
                    )
        finally:
            # Settled or not (then still pending, due again): free to go.
            for key in done:
                del self._inflight[key]

    def drain(self, timeout: float) -> None:
        """Send until nothing is due (tests and the bench)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.send_due() and not self._inflight:
                return
            wait(list(self._inflight.values()))

    # -- one attempt -------------------------------------------------------------

    def _attempt(self, delivery: Delivery, subscription: Subscription) -> Ended | None:
        try:
            if subscription.status != "active":
                return None  # paused or disabled meanwhile: not sent
            return delivery, subscription, self._post(subscription, delivery)
        finally:
            self._wake.set()

    def _send(
        self, url: str, body: str, headers: dict[str, str]
    ) -> tuple[int, str | None]:
        """POST once: the answer's code and its Retry-After (httpx's errors)."""
        request = httpx.Request(
            "POST",
            url,
            content=body.encode(),
            headers=headers,
            extensions={"timeout": self.timeout},
        )
        response = self.transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response.status_code, response.headers.get("retry-after")

    def _post(self, subscription: Subscription, delivery: Delivery) -> Outcome:
        at = self.clock()
        began = time.monotonic()
        code: int | None = None
        error: str | None = None
        wait_asked: float | None = None
        refusal = url_refusal(subscription.url, allow_private=self.policy.allow_private)
        if refusal is not None:
            error = f"url: {refusal}"
        else:
            headers = {
                "user-agent": USER_AGENT,
                "content-type": "application/json",
                "webhook-id": delivery.message_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": signature(
                    subscription.secrets(at), delivery.message_id, at, delivery.body
                ),
            }
            try:
                code, asked = self._send(subscription.url, delivery.body, headers)
                if 300 <= code < 400:
                    error = "a redirect, not followed"
                elif not 200 <= code < 300:
                    error = f"answered {code}"
                if code in (429, 503):
                    wait_asked = retry_after(asked, at)
            except httpx.TimeoutException:
                error = f"no answer within {self.policy.timeout:g} s"
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__}: {failure}"[:500]
        seconds = time.monotonic() - began
        if error is None:
            return Outcome(at, seconds, code, None, "delivered")
        if code == 410:
            return Outcome(at, seconds, code, error, "failed")
        delay = next_delay(delivery.attempts + 1, self.policy.schedule, random.random())
        if delay is None:
            return Outcome(at, seconds, code, error, "failed")
        if wait_asked is not None:
            delay = wait_asked
        retry_at = self.clock() + dt.timedelta(seconds=delay)
        return Outcome(at, seconds, code, error, "pending", retry_at)
