"""Identity: customers, staff, roles, sessions, MFA, API keys, audit log and privacy requests."""

from mercato.modules.identity.addresses import PostalAddress, validate_address, validate_address_async
from mercato.modules.identity.authenticator import TokenAuthenticator
from mercato.modules.identity.customers import public_name
from mercato.modules.identity.staff import create_superuser, seed_builtin_roles
from mercato.modules.identity.tokens import KeyRing

__all__ = ["KeyRing", "TokenAuthenticator", "create_superuser", "seed_builtin_roles"]
__all__ += ["PostalAddress", "validate_address", "validate_address_async"]
__all__ += ["public_name"]
