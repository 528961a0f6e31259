"""The permission catalogue and the built-in staff roles.

Every admin endpoint declares one of these (`require_permission`); a role is a named set of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from mercato.kit.errors import FieldError
from mercato.modules.identity.errors import UnknownPermission

ALL = "*"
# Not grantable: the only permission of a staff user who must enrol in MFA before anything else
# (MERCATO_STAFF_REQUIRE_MFA); it opens no admin route, only /admin/me and /admin/me/mfa.
MFA_ENROLMENT_ONLY = "self:mfa_enrolment"

PERMISSIONS: dict[str, str] = {
    "catalog:read": "Read products, categories, collections and prices",
    "catalog:write": "Create and edit products, categories, collections and prices",
    "catalog:publish": "Approve, publish and archive products",
    "orders:read": "Read orders, returns and invoices",
    "orders:write": "Edit, fulfil and cancel orders",
    "orders:refund": "Refund payments",
    "inventory:read": "Read stock, warehouses and movements",
    "inventory:write": "Adjust stock, receive purchase orders, transfer between warehouses",
    "customers:read": "Read customer accounts",
    "customers:write": "Edit customer accounts",
    "promotions:write": "Manage promotions and coupons",
    "staff:manage": "Manage staff users, roles and API keys",
    "settings:read": "Read channels, tax and shipping settings",
    "settings:manage": "Change channels, tax and shipping settings",
    "audit:read": "Read the security audit log",
    "system:read": "Read operational state (outbox, jobs)",
    "system:manage": "Re-drive dead-lettered events and jobs",
}

BUILTIN_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "owner": ("Everything, including staff and settings", frozenset({ALL})),
    "catalog_manager": (
        "Runs the catalogue",
        frozenset({"catalog:read", "catalog:write", "catalog:publish", "inventory:read", "promotions:write"}),
    ),
    "catalog_editor": ("Edits products; a manager publishes them", frozenset({"catalog:read", "catalog:write"})),
    "order_manager": (
        "Handles orders, refunds and customers",
        frozenset({"orders:read", "orders:write", "orders:refund", "customers:read", "customers:write",
                   "inventory:read", "catalog:read"}),
    ),
    "support": (
        "Answers customers",
        frozenset({"orders:read", "customers:read", "customers:write", "catalog:read"}),
    ),
    "warehouse": (
        "Receives, counts and ships stock",
        frozenset({"inventory:read", "inventory:write", "orders:read", "orders:write", "catalog:read"}),
    ),
}


def unknown_permissions(requested: set[str] | frozenset[str]) -> set[str]:
    return {p for p in requested if p != ALL and p not in PERMISSIONS}


def holds_all(granted: frozenset[str], requested: set[str] | frozenset[str]) -> bool:
    """True when `granted` covers every permission in `requested` (a subset check for API keys)."""
    return ALL in granted or requested <= granted


def not_held(granted: Iterable[str], requested: Iterable[str]) -> set[str]:
    """The permissions in `requested` that `granted` does not cover (empty when granted has `*`)."""
    held = frozenset(granted)
    if ALL in held:
        return set()
    return set(requested) - held


def validated(requested: Iterable[str], *, field: str = "permissions") -> list[str]:
    """`requested`, de-duplicated and sorted, or UnknownPermission (422) naming the unknown ones."""
    wanted = set(requested)
    unknown = unknown_permissions(wanted)
    if unknown:
        raise UnknownPermission(
            "Unknown permissions: " + ", ".join(sorted(unknown)) + ".",
            errors=[FieldError(field, "unknown", f"Unknown permission {name!r}.") for name in sorted(unknown)],
        )
    return sorted(wanted)
