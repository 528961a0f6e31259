"""/store/availability: public stock availability of variants, per channel and destination country."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.settings import Settings
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.inventory import storefront
from mercato.modules.inventory.schemas.storefront import MAX_VARIANTS, AvailabilityList

router = APIRouter(prefix="/store/availability", tags=["store: inventory"], route_class=MercatoRoute)
routers = [router]

# Stock moves with every sale: no shared cache may keep it, and the buyer's own only for a moment
# (enough to absorb a page that asks twice).
CACHE_CONTROL = "private, max-age=5"


@router.get("", response_model=AvailabilityList, responses=problem_responses(404, 422))
async def get_availability(
    request: Request,
    response: Response,
    variant_id: list[uuid.UUID] = Query(min_length=1, max_length=MAX_VARIANTS,
                                        description=f"Variant ids, repeated (1 to {MAX_VARIANTS})"),
    channel: str | None = Query(default=None, min_length=1, max_length=50,
                                description="Channel code (default: the store's default channel); "
                                            "unknown → 404 `channel.not_found`"),
    country: str | None = Query(default=None, min_length=2, max_length=2,
                                description="Destination country (ISO 3166-1 alpha-2): only warehouses shipping "
                                            "there count; one the channel does not sell to → 422"),
    session: AsyncSession = Depends(get_session),
) -> AvailabilityList:
    """Whether each variant can be bought now, units on the shelf (at most 99; null when the
    variant does not track inventory), backorder and preorder state, and click-and-collect points.
    Ids of variants not for sale in the channel are listed under `unknown`."""
    settings: Settings = request.app.state.settings
    result = await storefront.availability(session, channel=channel or settings.default_channel,
                                           variant_ids=variant_id, country=country)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return result
