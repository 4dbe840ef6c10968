"""The comparison: the same work done the stock eventsourcing way.

`StockTracker` is the library's "get, change, save" (one aggregate per deal, one
save per action, retry on a lost race) on our own Deal aggregate, so the engine work
is the same and only the persistence path differs.
`StockPhases` is a stock `Projection` run by the stock `ProjectionRunner`, which
commits the view row and the tracking record once per event.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
import uuid
from typing import TYPE_CHECKING, Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic
from fastapi import FastAPI
from psycopg.sql import SQL, Identifier

from api.bootstrap import presets, startup_lock
from api.schemas.actions import ActionIn  # noqa: TC001 - FastAPI reads it at runtime
from api.settings import Settings, eventsourcing_env
from domain.deal import DEAL_EVENTS, Deal, deal_id_for, entry_from_event
from domain.engine import replay
from domain.history import Entry

if TYPE_CHECKING:
    from domain.pipeline import Pipeline

MAX_ATTEMPTS = 12
DEAL_TOPICS = (get_topic(Deal.Opened), *(get_topic(e) for e in DEAL_EVENTS))


class StockTracker(Application[uuid.UUID]):
    """Get, change, save: one transaction per action."""

    name = "stock"

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.pipelines = presets()

    def log_action(self, body: ActionIn) -> dict[str, Any]:
        pipeline = self.pipelines[body.pipeline]
        deal_id = deal_id_for(body.pipeline, body.contact_id, body.object_id)
        entry = Entry(
            "action",
            body.action_id or uuid.uuid4().hex,
            body.occurred_at or dt.datetime.now(dt.UTC),
            seq=0,
            type=body.type,
            outcome=body.outcome,
            fields=body.fields,
            actor=body.actor,
            note=body.note,
        )
        for attempt in range(MAX_ATTEMPTS):
            try:
                deal: Deal = self.repository.get(deal_id)
            except AggregateNotFoundError:
                deal = Deal(
                    pipeline=body.pipeline,
                    pipeline_version=pipeline.version,
                    contact_id=body.contact_id,
                    object_id=body.object_id,
                )
            phase = deal.record(pipeline, entry).after.phase
            try:
                self.save(deal)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return {"deal_id": str(deal_id), "phase": phase}
        raise RuntimeError("concurrency exhausted")


def stock_env(url: str, pool_size: int = 8) -> dict[str, str]:
    """The library's own recorders (ours are replaced by the stock ones)."""
    env = eventsourcing_env(Settings(database_url=url, pool_size=pool_size))
    env.pop("APPLICATION_RECORDER_TOPIC")
    return env


def stock_app() -> FastAPI:
    """`uvicorn --factory bench.stock:stock_app`; the URL in BENCH_DATABASE_URL.

    Its two workers create the tables one after the other, as ours do: at once,
    one of them failed on the catalog and the stock ran on one worker till its
    restart."""
    url = os.environ["BENCH_DATABASE_URL"]
    with startup_lock(Settings(database_url=url)):
        tracker = StockTracker(stock_env(url))
    app = FastAPI()

    @app.post("/v1/actions", status_code=201)
    def post_action(body: ActionIn) -> dict[str, Any]:
        return tracker.log_action(body)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


# -- the stock projection ---------------------------------------------------------


class StockPhasesView(PostgresTrackingRecorder):
    """A view table written with the tracking record, one transaction per event."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._table = SQL("{}.{}").format(
            Identifier(datastore.schema), Identifier("stock_deal_phases")
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (deal_id uuid PRIMARY KEY, "
                "pipeline text NOT NULL, phase text)"
            ).format(self._table)
        )
        self._upsert = SQL(
            "INSERT INTO {} (deal_id, pipeline, phase) VALUES (%s, %s, %s) "
            "ON CONFLICT (deal_id) DO UPDATE SET phase = EXCLUDED.phase"
        ).format(self._table)

    def upsert(
        self, deal_id: uuid.UUID, pipeline: str, phase: str | None, tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self._upsert, (deal_id, pipeline, phase))


class StockPhases(Projection[StockPhasesView]):
    """Current phase per deal; deals' entries kept in memory as the stock way would."""

    name = "stock_phases"
    topics = DEAL_TOPICS

    def __init__(self, view: StockPhasesView) -> None:
        super().__init__(view)
        self.pipelines = {(p.id, p.version): p for p in presets().values()}
        self.deals: dict[uuid.UUID, tuple[Pipeline, list[Entry]]] = {}
        self.processed = 0
        self.first_at = self.last_at = 0.0

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self._project(domain_event, tracking)
        self.last_at = time.perf_counter()
        if not self.processed:
            self.first_at = self.last_at
        self.processed += 1

    def _project(self, domain_event: Any, tracking: Tracking) -> None:
        deal_id = domain_event.originator_id
        if not isinstance(domain_event, DEAL_EVENTS):  # Opened: topics filter the rest
            key = (domain_event.pipeline, domain_event.pipeline_version)
            self.deals[deal_id] = (self.pipelines[key], [])
            self.view.upsert(deal_id, key[0], None, tracking)
            return
        pipeline, entries = self.deals[deal_id]
        entries.append(entry_from_event(domain_event))
        state = replay(pipeline, entries)
        self.view.upsert(deal_id, pipeline.id, state.phase, tracking)
