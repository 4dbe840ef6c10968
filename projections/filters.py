"""The filters the aggregate reports share: a period, a pipeline, an owner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable, Identifier

from projections.dialect import where

if TYPE_CHECKING:
    import datetime as dt

    from domain.pipeline import Pipeline


def period(
    column: str, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[list[Composable], list[Any]]:
    """`column` within [since, until), each bound where given: (conditions, params)."""
    conditions: list[Composable] = []
    params: list[Any] = []
    for value, operator in ((since, ">="), (until, "<")):
        if value is not None:
            conditions.append(SQL("{} {} %s").format(Identifier(column), SQL(operator)))
            params.append(value)
    return conditions, params


def deal_conditions(
    pipeline: Pipeline,
    since: dt.datetime | None,
    until: dt.datetime | None,
    owner: str | None,
) -> tuple[list[Composable], list[Any]]:
    """A pipeline's deals opened in the period, of the owner where given:
    (conditions, params)."""
    conditions, params = period("opened_at", since, until)
    conditions.insert(0, SQL("pipeline = %s"))
    params.insert(0, pipeline.id)
    if owner is not None:
        conditions.append(SQL("owner = %s"))
        params.append(owner)
    return conditions, params


def deal_filters(
    pipeline: Pipeline,
    since: dt.datetime | None,
    until: dt.datetime | None,
    owner: str | None,
) -> tuple[Composable, list[Any]]:
    """`deal_conditions` as a WHERE clause, and its params."""
    conditions, params = deal_conditions(pipeline, since, until, owner)
    return where(conditions), params
