"""/admin/audit-log: the security audit log, newest first (permission `audit:read`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import UtcDatetime
from mercato.kit.web.auth import Principal, require_permission
from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import audit
from mercato.modules.identity.models import AuditEntry
from mercato.modules.identity.schemas import AuditEntryList, AuditEntryOut, AuditParty

router = APIRouter(prefix="/admin/audit-log", tags=["admin: operations"], route_class=MercatoRoute)


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=str(entry.id), occurred_at=entry.occurred_at, event=entry.event,
        actor=AuditParty(kind=entry.actor_kind, id=entry.actor_id) if entry.actor_kind else None,
        subject=AuditParty(kind=entry.subject_kind, id=entry.subject_id) if entry.subject_kind else None,
        ip=str(entry.ip) if entry.ip else None, user_agent=entry.user_agent, request_id=entry.request_id,
        details=entry.details,
    )


@router.get("", response_model=AuditEntryList, responses=problem_responses(401, 403, 422))
async def search_audit_log(
    event: str | None = Query(default=None, max_length=60, description="e.g. login.failed"),
    actor_kind: str | None = Query(default=None, max_length=10, description="staff, customer, api_key, ..."),
    actor_id: str | None = Query(default=None, max_length=64, description="Needs actor_kind"),
    subject_kind: str | None = Query(default=None, max_length=20, description="staff, customer, role, api_key"),
    subject_id: str | None = Query(default=None, max_length=64, description="Needs subject_kind"),
    since: UtcDatetime | None = Query(default=None, description="Inclusive, RFC 3339 with offset"),
    until: UtcDatetime | None = Query(default=None, description="Exclusive, RFC 3339 with offset"),
    page: PageParams = Depends(page_params),
    _: Principal = Depends(require_permission("audit:read")),
    session: AsyncSession = Depends(get_session),
) -> AuditEntryList:
    result = await audit.search(
        session, event=event, actor_kind=actor_kind, actor_id=actor_id, subject_kind=subject_kind,
        subject_id=subject_id, since=since, until=until, limit=page.limit, cursor=page.cursor,
    )
    return AuditEntryList(items=[entry_out(entry) for entry in result.items], next_cursor=result.next_cursor)
