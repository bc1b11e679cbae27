"""Domain errors: raised by services, rendered by every interface in one shape."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the action. `code` is stable, `message` is for people."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, **details):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.details = details

    def as_dict(self) -> dict:
        data = {"code": self.code, "message": str(self.message)}
        if self.field:
            data["field"] = self.field
        if self.details:
            data["details"] = self.details
        return data


class NotFound(DomainError):
    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """Someone else changed the object since it was read (optimistic locking)."""

    status = 409
    code = "conflict"


class IllegalTransition(DomainError):
    status = 409
    code = "illegal_transition"
