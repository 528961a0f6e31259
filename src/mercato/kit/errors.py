"""Domain errors with stable codes. No HTTP here: the app layer maps each kind to a status once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


class DomainError(Exception):
    """Base of every error a client may cause. `code` is stable API ("cart.line_not_found")."""

    code: str = "error"
    title: str = "Request failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        if code is not None:
            self.code = code
        self.errors: list[FieldError] = errors or []


class InvalidInput(DomainError):
    code = "validation.invalid"
    title = "Invalid input"


class MalformedRequest(DomainError):
    code = "request.malformed"
    title = "Malformed request"


class UnsupportedMediaType(DomainError):
    code = "request.unsupported_media_type"
    title = "Unsupported media type"


class PayloadTooLarge(DomainError):
    code = "request.too_large"
    title = "Payload too large"


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    code = "precondition.failed"
    title = "Precondition failed"


class Unauthenticated(DomainError):
    code = "auth.unauthenticated"
    title = "Authentication required"


class PermissionDenied(DomainError):
    code = "auth.forbidden"
    title = "Not allowed"


class PaymentDeclined(DomainError):
    code = "payment.declined"
    title = "Payment declined"


class RateLimited(DomainError):
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, message: str | None = None, *, code: str | None = None, retry_after_s: int = 1):
        super().__init__(message or "Too many requests; retry later.", code=code)
        self.retry_after_s = max(1, retry_after_s)


class ServiceUnavailable(DomainError):
    code = "service.unavailable"
    title = "Service unavailable"

    def __init__(self, message: str | None = None, *, code: str | None = None, retry_after_s: int = 5):
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s
