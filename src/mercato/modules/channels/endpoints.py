from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.channels import service
from mercato.modules.channels.models import Channel
from mercato.modules.channels.schemas import ChannelList, ChannelOut

admin = APIRouter(prefix="/admin/channels", tags=["admin: channels"], route_class=MercatoRoute)


def _out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=str(channel.id), code=channel.code, name=channel.name, currency=channel.currency,
        default_country=channel.default_country, countries=list(channel.countries),
        prices_include_tax=channel.prices_include_tax, is_active=channel.is_active,
    )


@admin.get("", response_model=ChannelList, responses=problem_responses(401, 403, 422))
async def list_channels(
    page: PageParams = Depends(page_params),
    _: Principal = Depends(require_permission("settings:read")),
    session: AsyncSession = Depends(get_session),
) -> ChannelList:
    result = await service.list_channels(session, limit=page.limit, cursor=page.cursor)
    return ChannelList(items=[_out(c) for c in result.items], next_cursor=result.next_cursor)


routers = [admin]
