"""/admin/customer-groups and /admin/price-lists: the price data checkout applies.

Reads need `catalog:read`, changes `catalog:write`; who belongs to a group is customer data
(`customers:read` to list, `customers:write` to change).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.ids import parse_id
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.pricing import service
from mercato.modules.pricing.models import CustomerGroup, PriceList
from mercato.modules.pricing.schemas import (
    EntriesIn,
    EntriesWritten,
    EntryKeysIn,
    EntryList,
    GroupIn,
    GroupList,
    GroupOut,
    GroupUpdateIn,
    MemberList,
    MembersAdded,
    MembersIn,
    PriceListIn,
    PriceListList,
    PriceListOut,
    PriceListUpdateIn,
    entry_out,
    group_out,
    member_out,
    price_list_out,
)

groups = APIRouter(prefix="/admin/customer-groups", tags=["admin: pricing"], route_class=MercatoRoute)
price_lists = APIRouter(prefix="/admin/price-lists", tags=["admin: pricing"], route_class=MercatoRoute)

READ = require_permission("catalog:read")
WRITE = require_permission("catalog:write")
MEMBERS_READ = require_permission("customers:read")
MEMBERS_WRITE = require_permission("customers:write")

IfMatch = Header(default=None, description="ETag of the version you edited (412 if stale)")


def _group_etag(group: CustomerGroup) -> str:
    return etag_for(group.id, group.version)


def _list_etag(price_list: PriceList) -> str:
    return etag_for(price_list.id, price_list.version)


# ---------------------------------------------------------------------------------------------
# customer groups


@groups.get("", response_model=GroupList, responses=problem_responses(401, 403, 422))
async def list_groups(
    page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> GroupList:
    result = await service.list_groups(session, limit=page.limit, cursor=page.cursor)
    return GroupList(items=[group_out(g) for g in result.items], next_cursor=result.next_cursor)


@groups.post("", status_code=201, response_model=GroupOut, responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_group(
    body: GroupIn, response: Response, _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> GroupOut:
    """A code another group has → 409 `pricing.customer_group_code_taken`."""
    group = await service.create_group(session, code=body.code, name=body.name, tax_exempt=body.tax_exempt)
    response.headers["ETag"] = _group_etag(group)
    response.headers["Location"] = f"/admin/customer-groups/{group.id}"
    return group_out(group)


@groups.get("/{group_id}", response_model=GroupOut, responses=problem_responses(401, 403, 404))
async def get_group(
    group_id: str, response: Response, _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> GroupOut:
    group = await service.get_group(session, group_id)
    response.headers["ETag"] = _group_etag(group)
    return group_out(group)


@groups.patch("/{group_id}", response_model=GroupOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_group(
    group_id: str, body: GroupUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> GroupOut:
    group = await service.get_group(session, group_id, lock=True)
    check_if_match(if_match, _group_etag(group))
    group = await service.update_group(session, group, code=body.code, name=body.name, tax_exempt=body.tax_exempt)
    response.headers["ETag"] = _group_etag(group)
    return group_out(group)


@groups.delete("/{group_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409, 412))
async def delete_group(
    group_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    """A group a price list uses → 409 `pricing.customer_group_in_use`."""
    group = await service.get_group(session, group_id, lock=True)
    check_if_match(if_match, _group_etag(group))
    await service.delete_group(session, group)
    return Response(status_code=204)


@groups.get("/{group_id}/members", response_model=MemberList, responses=problem_responses(401, 403, 404, 422))
async def list_members(
    group_id: str, page: PageParams = Depends(page_params), _: Principal = Depends(MEMBERS_READ),
    session: AsyncSession = Depends(get_session),
) -> MemberList:
    group = await service.get_group(session, group_id)
    result = await service.list_members(session, group, limit=page.limit, cursor=page.cursor)
    return MemberList(items=[member_out(m) for m in result.items], next_cursor=result.next_cursor)


@groups.post("/{group_id}/members", response_model=MembersAdded,
             responses=problem_responses(400, 401, 403, 404, 415, 422))
async def add_members(
    group_id: str, body: MembersIn, _: Principal = Depends(MEMBERS_WRITE),
    session: AsyncSession = Depends(get_session),
) -> MembersAdded:
    """Add customers (members already in are left alone); unknown ids → 422 `pricing.invalid`."""
    group = await service.get_group(session, group_id)
    return MembersAdded(added=await service.add_members(session, group, body.customer_ids))


@groups.delete("/{group_id}/members/{customer_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404))
async def remove_member(
    group_id: str, customer_id: str, _: Principal = Depends(MEMBERS_WRITE),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Remove a customer from the group (removing a non-member changes nothing)."""
    group = await service.get_group(session, group_id)
    await service.remove_member(session, group, customer_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# price lists


@price_lists.get("", response_model=PriceListList, responses=problem_responses(401, 403, 422))
async def list_price_lists(
    page: PageParams = Depends(page_params),
    channel_id: str | None = Query(default=None, max_length=36, description="Only this channel's lists"),
    _: Principal = Depends(READ), session: AsyncSession = Depends(get_session),
) -> PriceListList:
    parsed = parse_id(channel_id) if channel_id is not None else None
    if channel_id is not None and parsed is None:
        return PriceListList(items=[], next_cursor=None)
    result = await service.list_price_lists(session, channel_id=parsed, limit=page.limit, cursor=page.cursor)
    return PriceListList(items=[price_list_out(p) for p in result.items], next_cursor=result.next_cursor)


@price_lists.post("", status_code=201, response_model=PriceListOut,
                  responses=problem_responses(400, 401, 403, 415, 422))
async def create_price_list(
    body: PriceListIn, response: Response, _: Principal = Depends(WRITE),
    session: AsyncSession = Depends(get_session),
) -> PriceListOut:
    """Unknown channel or group, a currency other than the channel's, or an empty window → 422
    `pricing.invalid` naming the field."""
    price_list = await service.create_price_list(session, service.PriceListData(**body.model_dump()))
    response.headers["ETag"] = _list_etag(price_list)
    response.headers["Location"] = f"/admin/price-lists/{price_list.id}"
    return price_list_out(price_list)


@price_lists.get("/{price_list_id}", response_model=PriceListOut, responses=problem_responses(401, 403, 404))
async def get_price_list(
    price_list_id: str, response: Response, _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> PriceListOut:
    price_list = await service.get_price_list(session, price_list_id)
    response.headers["ETag"] = _list_etag(price_list)
    return price_list_out(price_list)


@price_lists.patch("/{price_list_id}", response_model=PriceListOut,
                   responses=problem_responses(400, 401, 403, 404, 412, 415, 422))
async def update_price_list(
    price_list_id: str, body: PriceListUpdateIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> PriceListOut:
    price_list = await service.get_price_list(session, price_list_id, lock=True)
    check_if_match(if_match, _list_etag(price_list))
    current = price_list_out(price_list).model_dump(
        include={"name", "channel_id", "currency", "customer_group_id", "priority", "valid_from", "valid_to",
                 "is_active"}
    )
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "channel_id", "currency", "priority", "is_active"):
        if changes.get(required, "") is None:
            changes.pop(required)  # null is not a value these can take: left as they are
    if "channel_id" in changes and "currency" not in changes:
        current["currency"] = None  # follows the new channel
    price_list = await service.update_price_list(session, price_list, service.PriceListData(**{**current, **changes}))
    response.headers["ETag"] = _list_etag(price_list)
    return price_list_out(price_list)


@price_lists.delete("/{price_list_id}", status_code=204, response_class=Response,
                    responses=problem_responses(401, 403, 404, 412))
async def delete_price_list(
    price_list_id: str, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> Response:
    price_list = await service.get_price_list(session, price_list_id, lock=True)
    check_if_match(if_match, _list_etag(price_list))
    await service.delete_price_list(session, price_list)
    return Response(status_code=204)


@price_lists.get("/{price_list_id}/entries", response_model=EntryList,
                 responses=problem_responses(401, 403, 404, 422))
async def list_entries(
    price_list_id: str, page: PageParams = Depends(page_params), _: Principal = Depends(READ),
    session: AsyncSession = Depends(get_session),
) -> EntryList:
    price_list = await service.get_price_list(session, price_list_id)
    result = await service.list_entries(session, price_list, limit=page.limit, cursor=page.cursor)
    return EntryList(items=[entry_out(e) for e in result.items], next_cursor=result.next_cursor)


@price_lists.put("/{price_list_id}/entries", response_model=EntriesWritten,
                 responses=problem_responses(400, 401, 403, 404, 412, 415, 422))
async def upsert_entries(
    price_list_id: str, body: EntriesIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> EntriesWritten:
    """Insert or replace up to 1000 entries at once (keyed by variant and min_quantity), all or
    none: an unknown variant or a key given twice → 422 `pricing.invalid` naming each entry."""
    price_list = await service.get_price_list(session, price_list_id, lock=True)
    check_if_match(if_match, _list_etag(price_list))
    count = await service.upsert_entries(
        session, price_list, [service.EntryData(e.variant_id, e.min_quantity, e.amount) for e in body.entries]
    )
    response.headers["ETag"] = _list_etag(price_list)
    return EntriesWritten(count=count, version=price_list.version)


@price_lists.post("/{price_list_id}/entries/delete", response_model=EntriesWritten,
                  responses=problem_responses(400, 401, 403, 404, 412, 415, 422))
async def delete_entries(
    price_list_id: str, body: EntryKeysIn, response: Response, if_match: str | None = IfMatch,
    _: Principal = Depends(WRITE), session: AsyncSession = Depends(get_session),
) -> EntriesWritten:
    """Delete entries by variant and min_quantity; `count` says how many existed."""
    price_list = await service.get_price_list(session, price_list_id, lock=True)
    check_if_match(if_match, _list_etag(price_list))
    count = await service.delete_entries(
        session, price_list, [service.EntryData(e.variant_id, e.min_quantity) for e in body.entries]
    )
    response.headers["ETag"] = _list_etag(price_list)
    return EntriesWritten(count=count, version=price_list.version)


routers = [groups, price_lists]
