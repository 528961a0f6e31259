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


class StaffPermissionEscalation(PermissionDenied):
    code = "staff.permission_escalation"


class StaffOutranked(PermissionDenied):
    """The target staff user (or role) holds permissions the acting user does not."""

    code = "staff.outranked"


class CannotDeactivateSelf(Conflict):
    code = "staff.cannot_deactivate_self"


class UnknownRole(InvalidInput):
    code = "staff.unknown_role"


class UnknownPermission(InvalidInput):
    code = "identity.unknown_permission"


class RoleNameTaken(Conflict):
    code = "role.name_taken"


class BuiltinRoleProtected(Conflict):
    code = "role.builtin"


class RolePermissionEscalation(PermissionDenied):
    code = "role.permission_escalation"


class MfaNotEnabled(Conflict):
    code = "mfa.not_enabled"


class MfaRequiredByPolicy(Conflict):
    code = "mfa.required_by_policy"


class InvalidAuditFilter(InvalidInput):
    code = "audit.invalid_filter"


class RoleNameInvalid(InvalidInput):
    code = "role.invalid_name"


class AddressLimitReached(Conflict):
    code = "address.limit_reached"


class WishlistNameTaken(Conflict):
    code = "wishlist.name_taken"


class WishlistLimitReached(Conflict):
    code = "wishlist.limit_reached"


class WishlistFull(Conflict):
    code = "wishlist.full"


class WishlistItemNotFound(NotFound):
    code = "wishlist.item_not_found"
