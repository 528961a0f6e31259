"""HTTP routes of the identity module."""

from mercato.modules.identity.endpoints.admin_auth import router as admin_auth
from mercato.modules.identity.endpoints.store_auth import router as store_auth
from mercato.modules.identity.endpoints.store_me import router as store_me

routers = [store_auth, store_me, admin_auth]
