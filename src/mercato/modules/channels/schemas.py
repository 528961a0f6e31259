from __future__ import annotations

from pydantic import BaseModel


class ChannelOut(BaseModel):
    id: str
    code: str
    name: str
    currency: str
    default_country: str
    countries: list[str]
    prices_include_tax: bool
    is_active: bool


class ChannelList(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None
