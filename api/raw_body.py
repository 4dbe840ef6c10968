"""A JSON body validated straight from its bytes, for routes that skip FastAPI's
body handling (see `post_action`): the same checks and the same 422 problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.errors import wrong_media_type

if TYPE_CHECKING:
    from fastapi import Request

Model = TypeVar("Model", bound=BaseModel)


async def json_body(request: Request, model: type[Model]) -> Model:
    """`model` from the request's JSON body; a 422 naming the field if it is not."""
    wrong = wrong_media_type(request.headers.get("content-type"))
    if wrong is not None:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": wrong, "type": "content_type"}]
        )
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None


def request_body(
    model: type[BaseModel], examples: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The OpenAPI `requestBody` FastAPI would have written for a `model` parameter."""
    ref = f"#/components/schemas/{model.__name__}"
    body = {"schema": {"$ref": ref}, "examples": examples}
    return {"requestBody": {"required": True, "content": {"application/json": body}}}
