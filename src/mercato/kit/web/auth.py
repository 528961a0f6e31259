"""Who is calling: bearer-token parsing and permission checks, independent of how tokens are issued.

The identity module installs an `Authenticator` on `app.state.authenticator` at start-up, so kit
never imports a module and every module's endpoints can still say what permission they need.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from fastapi import Request

from mercato.kit.errors import PermissionDenied, Unauthenticated

PrincipalKind = Literal["staff", "customer", "api_key"]


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None
    # Why the principal is limited (a problem code), e.g. staff who must enrol in MFA first.
    restriction: str | None = None

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.id}"

    def can(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions


class Authenticator(Protocol):
    async def __call__(self, request: Request, token: str) -> Principal: ...


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Expected 'Authorization: Bearer <token>'.", code="auth.invalid_header")
    return token.strip()


async def optional_principal(request: Request) -> Principal | None:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = bearer_token(request)
    if token is None:
        return None
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        raise Unauthenticated("No authenticator is configured.")
    principal = await authenticator(request, token)
    request.state.principal = principal
    return principal


async def require_customer(request: Request) -> Principal:
    """FastAPI dependency: a signed-in customer, else 401."""
    principal = await optional_principal(request)
    if principal is None or principal.kind != "customer":
        raise Unauthenticated("Sign in as a customer.")
    return principal


async def require_staff(request: Request) -> Principal:
    """FastAPI dependency: a signed-in staff user (any permissions), else 401/403."""
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthenticated()
    if principal.kind != "staff":
        raise PermissionDenied("Only staff users may do this.")
    return principal


def require_permission(permission: str, *alternatives: str) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency: a staff user or API key holding `permission` (or any of the
    `alternatives`, for reads several roles need), else 401/403."""
    accepted = (permission, *alternatives)

    async def dependency(request: Request) -> Principal:
        principal = await optional_principal(request)
        if principal is None:
            raise Unauthenticated()
        if principal.kind == "customer" or not any(principal.can(p) for p in accepted):
            if principal.restriction is not None:
                raise PermissionDenied("This account must finish a required step first.", code=principal.restriction)
            needed = " or ".join(repr(p) for p in accepted)
            raise PermissionDenied(f"This needs the permission {needed}.")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(p.replace(':', '_') for p in accepted)}"
    dependency.required_permission = permission  # type: ignore[attr-defined]
    dependency.accepted_permissions = accepted  # type: ignore[attr-defined]
    return dependency
