from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TTL_DESCRIPTION = "Seconds checkout holds a buyer's stock, refreshed while they are active (60 to 86400)"


class ChannelOut(BaseModel):
    id: str
    code: str
    name: str
    currency: str
    default_country: str
    countries: list[str]
    prices_include_tax: bool
    is_active: bool
    reservation_ttl_s: int = Field(description="Seconds checkout holds stock for a buyer (refreshed while active)")


class ChannelList(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelCreateIn(_Body):
    code: str = Field(min_length=1, max_length=50, description="Lower-case letters, digits and dashes; unique")
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217; fixed once created")
    default_country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    countries: list[str] | None = Field(default=None, max_length=300,
                                        description="Countries sold to (default: the default country)")
    prices_include_tax: bool = True
    is_active: bool = True
    reservation_ttl_s: int = Field(default=900, ge=60, le=86400, description=TTL_DESCRIPTION)


class ChannelUpdateIn(_Body):
    """Only the fields sent change. Sending another currency → 409 `channel.currency_fixed`."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    default_country: str | None = Field(default=None, min_length=2, max_length=2)
    countries: list[str] | None = Field(default=None, max_length=300)
    prices_include_tax: bool | None = None
    is_active: bool | None = None
    reservation_ttl_s: int | None = Field(default=None, ge=60, le=86400, description=TTL_DESCRIPTION)
