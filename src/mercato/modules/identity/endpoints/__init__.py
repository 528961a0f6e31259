"""HTTP routes of the identity module."""

from mercato.modules.identity.endpoints.admin_api_keys import router as admin_api_keys
from mercato.modules.identity.endpoints.admin_audit import router as admin_audit
from mercato.modules.identity.endpoints.admin_auth import router as admin_auth
from mercato.modules.identity.endpoints.admin_roles import catalogue as admin_permissions
from mercato.modules.identity.endpoints.admin_roles import router as admin_roles
from mercato.modules.identity.endpoints.admin_staff import router as admin_staff
from mercato.modules.identity.endpoints.mfa import admin_router as admin_mfa
from mercato.modules.identity.endpoints.mfa import store_router as store_mfa
from mercato.modules.identity.endpoints.store_addresses import router as store_addresses
from mercato.modules.identity.endpoints.store_auth import router as store_auth
from mercato.modules.identity.endpoints.store_me import router as store_me
from mercato.modules.identity.endpoints.store_privacy import router as store_privacy
from mercato.modules.identity.endpoints.store_wishlists import router as store_wishlists

routers = [store_auth, store_me, admin_auth]
routers += [store_addresses, store_wishlists, store_privacy]
routers += [store_mfa, admin_mfa, admin_staff, admin_roles, admin_permissions, admin_api_keys, admin_audit]
