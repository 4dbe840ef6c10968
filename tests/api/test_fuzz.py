"""The API fuzzed from its own OpenAPI: no input answers 5xx or breaks the schema.

Schemathesis generates requests for every operation, valid and invalid alike
(positive and negative data),
on each database; every answer must be a documented status with the documented
content type and body. Bounded: EXAMPLES requests an operation, derandomized
so a failure comes back the same on the next run.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode

from api.app import create_app
from tests.api.conftest import ADMIN_KEY, bearer

if TYPE_CHECKING:
    from schemathesis import Case
    from schemathesis.schemas import APIOperation

    from api.settings import Settings

EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _operations(api_settings: Settings) -> list[APIOperation]:
    # Reports wait for `after=` at most this long: a generated position is
    # mostly beyond the head (422) or not projected yet (503), both answers.
    fast = api_settings.model_copy(update={"report_wait_seconds": 0.2})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fast))
    return [result.ok() for result in schema.get_all_operations()]


def test_no_request_answers_5xx_or_breaks_the_documented_schema(
    api_settings: Settings,
) -> None:
    operations = _operations(api_settings)
    assert len(operations) >= 15  # every route is in the schema, and fuzzed

    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: Case) -> None:
            case.call_and_validate(headers=bearer(ADMIN_KEY), checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:
            # Nothing to get wrong: an operation without parameters or body.
            assert mode == GenerationMode.NEGATIVE, operation.label
        except Exception as error:
            pytest.fail(f"{operation.label} ({mode} data): {error}")
