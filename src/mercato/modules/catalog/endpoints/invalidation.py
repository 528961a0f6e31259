"""Route dependencies for admin writes that change what storefront filters resolve to."""

from __future__ import annotations

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.routing import get_session
from mercato.modules.catalog import storefront


async def _filters_changed(request: Request, session: AsyncSession = Depends(get_session)) -> None:
    # Registered up front; it only runs if the request's transaction commits.
    storefront.invalidate_filters_after_commit(session, request.app.state.cache)


CHANGES_FILTERS = [Depends(_filters_changed)]
