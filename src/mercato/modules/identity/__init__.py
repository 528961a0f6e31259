"""Identity: staff users and sign-in (customers, roles, API keys and MFA arrive in step 2)."""

from mercato.modules.identity.authenticator import TokenAuthenticator
from mercato.modules.identity.service import create_superuser, staff_login

__all__ = ["TokenAuthenticator", "create_superuser", "staff_login"]
