"""Who is asking and from where: passed from endpoints to services for auditing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None
    request_id: str | None = None


@dataclass(frozen=True)
class Actor:
    kind: str  # customer | staff | api_key | system | anonymous
    id: str | None = None
