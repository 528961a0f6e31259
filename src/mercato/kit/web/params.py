"""Common query parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from mercato.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit, cursor)
