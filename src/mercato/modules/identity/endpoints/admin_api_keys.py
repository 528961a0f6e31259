"""/admin/api-keys: keys for integrations (`Authorization: Bearer mk_...`), permission `staff:manage`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import api_keys
from mercato.modules.identity.endpoints.admin_staff import STAFF_MANAGE, actor_of
from mercato.modules.identity.endpoints.common import client_info
from mercato.modules.identity.models import ApiKey
from mercato.modules.identity.schemas import ApiKeyCreatedOut, ApiKeyCreateIn, ApiKeyList, ApiKeyOut

router = APIRouter(prefix="/admin/api-keys", tags=["admin: staff"], route_class=MercatoRoute)


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=str(key.id), name=key.name, prefix=f"{api_keys.PREFIX}{key.prefix}", permissions=sorted(key.permissions),
        created_by=str(key.created_by) if key.created_by else None, created_at=key.created_at,
        last_used_at=key.last_used_at, expires_at=key.expires_at, revoked_at=key.revoked_at,
    )


@router.post("", status_code=201, response_model=ApiKeyCreatedOut,
             responses=problem_responses(400, 401, 403, 415, 422))
async def create_api_key(
    body: ApiKeyCreateIn, request: Request, response: Response,
    principal: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> ApiKeyCreatedOut:
    """Create a key holding some of your own permissions (403 `api_key.permission_escalation`
    beyond them). The whole key is in this response only; the server keeps a digest."""
    key, raw = await api_keys.create(
        session, name=body.name, permissions=set(body.permissions), expires_at=body.expires_at,
        creator=actor_of(principal), creator_permissions=principal.permissions, client=client_info(request),
    )
    response.headers["Location"] = f"/admin/api-keys/{key.id}"
    return ApiKeyCreatedOut(**key_out(key).model_dump(), key=raw)


@router.get("", response_model=ApiKeyList, responses=problem_responses(401, 403, 422))
async def list_api_keys(
    page: PageParams = Depends(page_params),
    include_revoked: bool = Query(default=True),
    _: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> ApiKeyList:
    """Newest first; never the secret."""
    result = await api_keys.list_keys(session, limit=page.limit, cursor=page.cursor,
                                      include_revoked=include_revoked)
    return ApiKeyList(items=[key_out(key) for key in result.items], next_cursor=result.next_cursor)


@router.delete("/{key_id}", status_code=204, response_class=Response, responses=problem_responses(401, 403, 404))
async def revoke_api_key(
    key_id: str, request: Request,
    principal: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Revoke a key; it stops working at once (revoking twice is harmless)."""
    await api_keys.revoke(session, request.app.state.cache, key_id, actor=actor_of(principal),
                          client=client_info(request))
    return Response(status_code=204)
