"""/admin/channels: sales channels. Reads: `settings:read` or `catalog:read` (catalogue staff price
products per channel); writes: `settings:manage`. Updates carry an ETag; stale `If-Match` → 412."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.channels import service
from mercato.modules.channels.models import Channel
from mercato.modules.channels.schemas import ChannelCreateIn, ChannelList, ChannelOut, ChannelUpdateIn

admin = APIRouter(prefix="/admin/channels", tags=["admin: channels"], route_class=MercatoRoute)
# Catalogue staff read channels too: prices are set per channel.
READ = require_permission("settings:read", "catalog:read")
MANAGE = require_permission("settings:manage")
IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")


def _out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=str(channel.id), code=channel.code, name=channel.name, currency=channel.currency,
        default_country=channel.default_country, countries=list(channel.countries),
        prices_include_tax=channel.prices_include_tax, is_active=channel.is_active,
        reservation_ttl_s=channel.reservation_ttl_s,
    )


def _etag(channel: Channel) -> str:
    return etag_for(channel.id, channel.updated_at.isoformat())


@admin.get("", response_model=ChannelList, responses=problem_responses(401, 403, 422))
async def list_channels(
    page: PageParams = Depends(page_params),
    _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> ChannelList:
    result = await service.list_channels(session, limit=page.limit, cursor=page.cursor)
    return ChannelList(items=[_out(c) for c in result.items], next_cursor=result.next_cursor)


@admin.post("", status_code=201, response_model=ChannelOut, responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_channel(
    body: ChannelCreateIn, request: Request, response: Response, _: Principal = Depends(MANAGE),
    session: AsyncSession = Depends(get_session),
) -> ChannelOut:
    """Code taken → 409 `channel.code_taken`; currency not ISO 4217, countries not ISO 3166 or
    `reservation_ttl_s` outside 60..86400 → 422."""
    channel = await service.create_channel(
        session, request.app.state.cache, code=body.code, currency=body.currency, default_country=body.default_country,
        fields=service.ChannelFields(name=body.name, countries=body.countries,
                                     prices_include_tax=body.prices_include_tax, is_active=body.is_active,
                                     reservation_ttl_s=body.reservation_ttl_s),
    )
    response.headers["ETag"] = _etag(channel)
    response.headers["Location"] = f"/admin/channels/{channel.id}"
    return _out(channel)


@admin.get("/{channel_id}", response_model=ChannelOut, responses=problem_responses(401, 403, 404))
async def get_channel(
    channel_id: str, response: Response, _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> ChannelOut:
    channel = await service.get_channel(session, channel_id)
    response.headers["ETag"] = _etag(channel)
    return _out(channel)


@admin.patch("/{channel_id}", response_model=ChannelOut,
             responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_channel(
    channel_id: str, body: ChannelUpdateIn, request: Request, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(MANAGE), session: AsyncSession = Depends(get_session),
) -> ChannelOut:
    """Deactivating a channel hides its storefront at once (its code answers 422
    `catalog.unknown_channel`)."""
    channel = await service.get_channel(session, channel_id, lock=True)
    check_if_match(if_match, _etag(channel))
    channel = await service.update_channel(
        session, request.app.state.cache, channel, currency=body.currency,
        fields=service.ChannelFields(name=body.name, default_country=body.default_country, countries=body.countries,
                                     prices_include_tax=body.prices_include_tax, is_active=body.is_active,
                                     reservation_ttl_s=body.reservation_ttl_s),
    )
    response.headers["ETag"] = _etag(channel)
    return _out(channel)


routers = [admin]
