"""The OpenAPI document as served: FastAPI's, with what a reader of /docs needs
besides: problems as application/problem+json, and who may call each operation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from api.errors import PROBLEM_JSON

if TYPE_CHECKING:
    from collections.abc import Iterator


def openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI, made once."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for operation in operations(schema):
            problem_media_type(operation)
            name_roles(operation)
        app.openapi_schema = schema
    return app.openapi_schema


def operations(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in schema["paths"].values():
        yield from path.values()


def problem_media_type(operation: dict[str, Any]) -> None:
    """Error responses are documented as application/problem+json, as served."""
    for response in operation.get("responses", {}).values():
        content = response.get("content", {})
        schema_ref = content.get("application/json", {}).get("schema", {})
        if schema_ref.get("$ref", "").endswith("/Problem"):
            content[PROBLEM_JSON] = content.pop("application/json")


def name_roles(operation: dict[str, Any]) -> None:
    """End the description of an operation that takes a key with the roles its
    bearer requirement lists (`api.auth.allow`): Swagger UI shows no scopes
    of an HTTP scheme."""
    roles = [role for need in operation.get("security", []) for role in need["bearer"]]
    if roles:
        said = operation.get("description", "")
        operation["description"] = f"{said}\n\n**Roles:** {', '.join(roles)}".lstrip()
