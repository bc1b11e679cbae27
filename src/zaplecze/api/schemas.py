"""Schemas shared by every router: the error shapes, id types and bounded strings."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints

# Ids fit every integer column we use on SQLite and PostgreSQL (bigint); anything larger is a 422, not a 500.
MAX_ID = 2**53
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def text(max_length: int, min_length: int = 0):
    """A stripped string with bounds (longer input is a 422 naming the field)."""
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)
    ]


class In(Schema):
    """Base of every input schema: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorOut(Schema):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, conflict, forbidden")
    message: str = Field(description="What went wrong, for people")
    field: str | None = Field(None, description="The input field the error is about, when there is one")
    details: dict[str, Any] | None = None


class FieldErrorOut(Schema):
    field: str = Field(description="Path of the field, e.g. lines[0].quantity")
    message: str
    type: str = ""


class ValidationErrorOut(Schema):
    code: str = Field(description="Always validation_error")
    message: str
    errors: list[FieldErrorOut]


def errors(*codes: int) -> dict[int, type[Schema]]:
    """Response schemas of the error statuses an operation may answer (401 and 403 always)."""
    out: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut}
    for code in codes:
        out[code] = ValidationErrorOut if code == 422 else ErrorOut
    return out


# An action that takes no input (run a check now, refresh): every write operation documents its body, and
# this one's is an optional empty object; whatever is sent is not read.
NO_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": False}}},
    }
}
