"""`phaselog serve`: the real command, its workers and its projector.

Each worker coalesces its own writes; one of them projects, or with
`--projector-process` a process of its own does and a worker takes over should
it end. A request served by any worker sees its own writes (`?after=`).
"""

from __future__ import annotations

import contextlib
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from api.bootstrap import open_tracker, startup_lock
from projections.runner import Projector
from storage.api_keys import KeyStore
from tests.api.conftest import ADMIN_KEY, SKIP, START, action, bearer
from tests.api.serving import server
from tests.helpers.processes import children, ended

if TYPE_CHECKING:
    from collections.abc import Iterator

    from api.settings import Settings

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)


@contextlib.contextmanager
def _serving(database_url: str, workers: int) -> Iterator[str]:
    with server(database_url, workers) as (base, _):
        yield base


def test_two_workers_store_each_action_once_and_read_their_writes(
    database_url: str,
) -> None:
    bodies: list[dict[str, Any]] = [
        action(contact_id=f"contact-{n % 10}", action_id=f"a-{n}") for n in range(10)
    ] + [
        action(
            contact_id=f"contact-{n % 10}",
            type="viewing",
            occurred_at=START.replace("09:00", "10:00"),
            action_id=f"b-{n}",
            fields=SKIP,
        )
        for n in range(5)
    ]
    with (
        _serving(database_url, workers=2) as base,
        httpx.Client(base_url=base, headers=bearer(ADMIN_KEY), timeout=30) as http,
    ):

        def post(body: dict[str, Any]) -> httpx.Response:
            return http.post("/v1/actions", json=body)

        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(post, bodies[:10]))
        with ThreadPoolExecutor(8) as pool:
            # the viewings, and every first action again (replays)
            second = list(pool.map(post, bodies[10:] + bodies[:10]))

        assert [r.status_code for r in first] == [201] * 10
        assert [r.status_code for r in second] == [201] * 5 + [200] * 10
        assert [r.json() for r in second[5:]] == [r.json() for r in first]
        positions = [r.json()["position"] for r in first + second[:5]]
        assert len(set(positions)) == 15

        funnel = http.get(
            "/v1/reports/funnel",
            params={"pipeline": "nl-tesoro", "after": max(positions)},
        )
        assert funnel.status_code == 200, funnel.text
        current = {p["phase"]: p["current"] for p in funnel.json()["phases"]}
        assert (current["lead"], current["viewing"]) == (5, 5)


def test_workers_starting_together_on_a_fresh_database_all_come_up(
    settings: Settings,
) -> None:
    """Concurrent CREATE ... IF NOT EXISTS collides on PostgreSQL without the lock."""

    def start(_: int) -> int:
        with startup_lock(settings):
            tracker = open_tracker(settings)
            KeyStore(tracker)
            Projector(tracker)
        try:
            return len(tracker.pipelines())
        finally:
            tracker.close()

    with ThreadPoolExecutor(4) as pool:
        started = list(pool.map(start, range(4)))
    assert len(set(started)) == 1
    assert started[0] > 0


def test_serve_can_project_in_a_process_of_its_own_and_a_worker_takes_over(
    database_url: str,
) -> None:
    with (
        server(database_url, 1, "--projector-process") as (base, serving),
        httpx.Client(base_url=base, headers=bearer(ADMIN_KEY), timeout=30) as http,
    ):
        # Step: beside the server runs one `phaselog project`, which projects.
        (projector,) = children(serving.pid, "project")
        first = http.post("/v1/actions", json=action(contact_id="c-1"))
        assert first.status_code == 201, first.text
        assert _leads(http, first.json()["position"]) == 1

        # Step: it ends (killed); the worker's own projector takes over.
        os.kill(projector, signal.SIGKILL)
        assert ended(projector, timeout=30)
        second = http.post("/v1/actions", json=action(contact_id="c-2"))
        assert second.status_code == 201, second.text
        assert _leads(http, second.json()["position"]) == 2


def test_the_projector_process_ends_with_serve_even_when_serve_is_killed(
    database_url: str,
) -> None:
    # Step: serve stopped as a service manager stops it; its projector ends too.
    with server(database_url, 1, "--projector-process") as (_, serving):
        (projector,) = children(serving.pid, "project")
    assert ended(projector, timeout=30)

    # Step: serve killed outright, with no chance to stop it; it ends all the same.
    with server(database_url, 1, "--projector-process") as (_, serving):
        (projector,) = children(serving.pid, "project")
        serving.kill()
        assert ended(projector, timeout=30)


def _leads(http: httpx.Client, position: int) -> int:
    """The nl-tesoro deals in "lead", read once the projection has `position`."""
    funnel = http.get(
        "/v1/reports/funnel", params={"pipeline": "nl-tesoro", "after": position}
    )
    assert funnel.status_code == 200, funnel.text
    return {p["phase"]: p["current"] for p in funnel.json()["phases"]}["lead"]
