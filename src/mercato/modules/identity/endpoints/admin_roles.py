"""/admin/roles and /admin/permissions: staff roles and the permission catalogue (`staff:manage`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import roles
from mercato.modules.identity.endpoints.admin_staff import STAFF_MANAGE, actor_of
from mercato.modules.identity.endpoints.common import client_info
from mercato.modules.identity.models import Role
from mercato.modules.identity.permissions import ALL, PERMISSIONS
from mercato.modules.identity.schemas import (
    PermissionList,
    PermissionOut,
    RoleCreateIn,
    RoleList,
    RoleOut,
    RoleUpdateIn,
)

router = APIRouter(prefix="/admin/roles", tags=["admin: staff"], route_class=MercatoRoute)
catalogue = APIRouter(prefix="/admin/permissions", tags=["admin: staff"], route_class=MercatoRoute)


def role_out(role: Role) -> RoleOut:
    return RoleOut(id=str(role.id), name=role.name, description=role.description,
                   permissions=sorted(role.permissions), is_builtin=role.is_builtin, created_at=role.created_at,
                   updated_at=role.updated_at)


def _etag(out: RoleOut) -> str:
    return etag_for(out.model_dump_json(exclude={"updated_at"}))


@catalogue.get("", response_model=PermissionList, responses=problem_responses(401, 403))
async def list_permissions(_: Principal = Depends(require_permission(STAFF_MANAGE))) -> PermissionList:
    """Every permission a role, a staff user or an API key can hold (`*` means all of them)."""
    items = [PermissionOut(name=ALL, description="Every permission, including those added later")]
    items += [PermissionOut(name=name, description=description) for name, description in PERMISSIONS.items()]
    return PermissionList(items=items)


@router.get("", response_model=RoleList, responses=problem_responses(401, 403, 422))
async def list_roles(
    page: PageParams = Depends(page_params),
    _: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> RoleList:
    result = await roles.list_roles(session, limit=page.limit, cursor=page.cursor)
    return RoleList(items=[role_out(role) for role in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=RoleOut, responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_role(
    body: RoleCreateIn, request: Request, response: Response,
    principal: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> RoleOut:
    """A role can only grant permissions you hold (403 `role.permission_escalation`)."""
    role = await roles.create(session, name=body.name, description=body.description, permissions=body.permissions,
                              actor=actor_of(principal), actor_permissions=principal.permissions,
                              client=client_info(request))
    out = role_out(role)
    response.headers["ETag"] = _etag(out)
    response.headers["Location"] = f"/admin/roles/{out.id}"
    return out


@router.get("/{role_id}", response_model=RoleOut, responses=problem_responses(401, 403, 404))
async def get_role(
    role_id: str, response: Response,
    _: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> RoleOut:
    out = role_out(await roles.get(session, role_id))
    response.headers["ETag"] = _etag(out)
    return out


@router.patch("/{role_id}", response_model=RoleOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_role(
    role_id: str, body: RoleUpdateIn, request: Request, response: Response,
    if_match: str | None = Header(default=None, description="ETag of the version you edited (412 if stale)"),
    principal: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> RoleOut:
    """Change the name (not of built-in roles: 409 `role.builtin`), description or permissions.
    Changing the permissions signs every holder out, so the change applies at once."""
    role = await roles.get(session, role_id, lock=True)
    check_if_match(if_match, _etag(role_out(role)))
    role = await roles.update(
        session, request.app.state.cache, role,
        roles.RoleChanges(name=body.name, description=body.description, permissions=body.permissions),
        actor=actor_of(principal), actor_permissions=principal.permissions, client=client_info(request),
    )
    out = role_out(role)
    response.headers["ETag"] = _etag(out)
    return out


@router.delete("/{role_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 409))
async def delete_role(
    role_id: str, request: Request,
    principal: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Delete a custom role (built-in ones: 409 `role.builtin`); its holders are signed out."""
    role = await roles.get(session, role_id, lock=True)
    await roles.delete(session, request.app.state.cache, role, actor=actor_of(principal),
                       actor_permissions=principal.permissions, client=client_info(request))
    return Response(status_code=204)
