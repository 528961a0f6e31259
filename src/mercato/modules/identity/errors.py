from __future__ import annotations

from mercato.kit.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated


class InvalidCredentials(Unauthenticated):
    code = "auth.invalid_credentials"
    title = "Invalid credentials"


class InvalidToken(Unauthenticated):
    code = "auth.invalid_token"
    title = "Invalid or expired token"


class MfaRequired(Unauthenticated):
    code = "auth.mfa_required"
    title = "Second factor required"


class MfaEnrollmentRequired(PermissionDenied):
    code = "auth.mfa_enrollment_required"


class StaffEmailTaken(Conflict):
    code = "identity.email_taken"


class WeakPassword(InvalidInput):
    code = "identity.weak_password"


class InvalidOneTimeToken(InvalidInput):
    code = "identity.invalid_token"


class AddressInvalid(InvalidInput):
    code = "address.invalid"


class AddressNotFound(NotFound):
    code = "address.not_found"


class WishlistNotFound(NotFound):
    code = "wishlist.not_found"


class SessionNotFound(NotFound):
    code = "session.not_found"


class ApiKeyNotFound(NotFound):
    code = "api_key.not_found"


class StaffNotFound(NotFound):
    code = "staff.not_found"


class RoleNotFound(NotFound):
    code = "role.not_found"
