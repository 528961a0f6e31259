from __future__ import annotations

from mercato.kit.errors import Conflict, Unauthenticated


class InvalidCredentials(Unauthenticated):
    code = "auth.invalid_credentials"
    title = "Invalid credentials"


class InvalidToken(Unauthenticated):
    code = "auth.invalid_token"
    title = "Invalid or expired token"


class StaffEmailTaken(Conflict):
    code = "identity.email_taken"
