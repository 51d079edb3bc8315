"""Domain errors. Each has a stable machine-readable ``code``; the API maps them to HTTP."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """Return the error envelope of the API: ``{"error": {"code", "message", "details"}}``."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


class ApplicationError(Exception):
    """Base of domain errors: a message for people, a code and details for machines."""

    code = "invalid"
    status = 400

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class NotFoundError(ApplicationError):
    """Not found, or not yours: the two look the same."""

    code = "not_found"
    status = 404


class PermissionDeniedError(ApplicationError):
    """Yours to see, not yours to do (e.g. a node-scoped admin changing the whole tenant)."""

    code = "permission_denied"
    status = 403


class ConflictError(ApplicationError):
    code = "conflict"
    status = 409


class ValidationFailedError(ApplicationError):
    code = "validation_failed"
    status = 400
