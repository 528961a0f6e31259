"""/admin/staff: staff users, their roles and direct permissions (permission `staff:manage`)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.etag import check_if_match, etag_for
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import roles, staff
from mercato.modules.identity.context import Actor
from mercato.modules.identity.endpoints.common import client_info
from mercato.modules.identity.models import Role, StaffUser
from mercato.modules.identity.schemas import RoleRef, StaffCreateIn, StaffList, StaffOut, StaffUpdateIn

STAFF_MANAGE = "staff:manage"

router = APIRouter(prefix="/admin/staff", tags=["admin: staff"], route_class=MercatoRoute)


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.kind, principal.id)


def staff_out(user: StaffUser, user_roles: Sequence[Role]) -> StaffOut:
    return StaffOut(
        id=str(user.id), email=user.email, first_name=user.first_name, last_name=user.last_name,
        is_active=user.is_active, is_superuser=user.is_superuser,
        roles=[RoleRef(id=str(role.id), name=role.name) for role in user_roles],
        permissions=sorted(user.permissions), effective_permissions=staff.grants_of(user, user_roles),
        mfa_enabled=user.mfa_enabled_at is not None, created_at=user.created_at, updated_at=user.updated_at,
    )


def _etag(out: StaffOut) -> str:
    # From the representation itself: timestamps alone can repeat within one transaction.
    return etag_for(out.model_dump_json(exclude={"updated_at"}))


@router.get("", response_model=StaffList, responses=problem_responses(401, 403, 422))
async def list_staff(
    page: PageParams = Depends(page_params),
    q: str | None = Query(default=None, max_length=100, description="Part of the email or name"),
    is_active: bool | None = Query(default=None),
    _: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> StaffList:
    result = await staff.list_staff(session, limit=page.limit, cursor=page.cursor, q=q, is_active=is_active)
    by_user = await roles.roles_of(session, [user.id for user in result.items])
    return StaffList(items=[staff_out(user, by_user[user.id]) for user in result.items],
                     next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=StaffOut,
             responses=problem_responses(400, 401, 403, 409, 415, 422))
async def create_staff(
    body: StaffCreateIn, request: Request, response: Response,
    principal: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> StaffOut:
    """Create a staff user. You can only grant (through roles or directly) permissions you hold:
    403 `staff.permission_escalation` otherwise."""
    user, user_roles = await staff.create(
        session,
        staff.StaffDraft(email=body.email, password=body.password, first_name=body.first_name,
                         last_name=body.last_name, roles=body.roles, permissions=body.permissions),
        actor=actor_of(principal), actor_permissions=principal.permissions, client=client_info(request),
    )
    out = staff_out(user, user_roles)
    response.headers["ETag"] = _etag(out)
    response.headers["Location"] = f"/admin/staff/{out.id}"
    return out


@router.get("/{staff_id}", response_model=StaffOut, responses=problem_responses(401, 403, 404))
async def get_staff(
    staff_id: str, response: Response,
    _: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> StaffOut:
    user = await staff.get(session, staff_id)
    out = staff_out(user, (await roles.roles_of(session, [user.id]))[user.id])
    response.headers["ETag"] = _etag(out)
    return out


@router.patch("/{staff_id}", response_model=StaffOut,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422))
async def update_staff(
    staff_id: str, body: StaffUpdateIn, request: Request, response: Response,
    if_match: str | None = Header(default=None, description="ETag of the version you edited (412 if stale)"),
    principal: Principal = Depends(require_permission(STAFF_MANAGE)),
    session: AsyncSession = Depends(get_session),
) -> StaffOut:
    """Change names, `is_active`, roles or direct permissions. Deactivating, or changing roles or
    permissions, signs the user out everywhere at once. You may only manage staff users whose
    permissions you all hold (403 `staff.outranked`) and grant only what you hold (403
    `staff.permission_escalation`); you cannot deactivate yourself (409)."""
    user = await staff.get(session, staff_id, lock=True)
    if if_match is not None:
        current = staff_out(user, (await roles.roles_of(session, [user.id]))[user.id])
        check_if_match(if_match, _etag(current))
    user, user_roles = await staff.update(
        session, request.app.state.cache, user,
        staff.StaffChanges(first_name=body.first_name, last_name=body.last_name, is_active=body.is_active,
                           roles=body.roles, permissions=body.permissions),
        actor=actor_of(principal), actor_permissions=principal.permissions, client=client_info(request),
    )
    out = staff_out(user, user_roles)
    response.headers["ETag"] = _etag(out)
    return out
