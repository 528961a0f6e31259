"""Request and response shapes of /admin/customer-groups and /admin/price-lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from mercato.modules.pricing.models import CustomerGroup, CustomerGroupMember, PriceList, PriceListEntry
from mercato.modules.pricing.service import MAX_BATCH

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50,
                                        pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Amount = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True, description="Unit price, integer minor units")]
MinQuantity = Annotated[int, Field(ge=1, le=1_000_000, strict=True, description="Tier starts at this quantity")]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000, strict=True)]


def _upper(value: str) -> str:
    return value.upper()


def _in_utc(value: datetime) -> datetime:
    """Stored in UTC: an offset that pushes the instant outside years 1..9999 cannot be stored."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the instant is outside the years 1 to 9999 in UTC") from exc


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


Currency = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$"),
                     AfterValidator(_upper)]


TAX_EXEMPT = ("Members pay no tax (B2B buyers with a VAT id): nothing is added to tax-exclusive prices, "
              "and tax-inclusive prices lose the tax they contain")


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="Lower-case letters, digits, - and _")
    name: Name
    tax_exempt: bool = Field(default=False, strict=True, description=TAX_EXEMPT)


class GroupUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Name | None = None
    tax_exempt: bool | None = Field(default=None, strict=True, description=TAX_EXEMPT)


class GroupOut(BaseModel):
    id: str
    code: str
    name: str
    tax_exempt: bool
    version: int
    created_at: datetime
    updated_at: datetime


class GroupList(BaseModel):
    items: list[GroupOut]
    next_cursor: str | None


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ids: list[Id] = Field(min_length=1, max_length=MAX_BATCH)


class MembersAdded(BaseModel):
    added: int


class MemberOut(BaseModel):
    customer_id: str
    created_at: datetime


class MemberList(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None


class PriceListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    channel_id: Id
    currency: Currency | None = Field(default=None, description="Default and only allowed: the channel's")
    customer_group_id: Id | None = Field(default=None, description="null: everyone (e.g. a sale)")
    priority: Priority = 0
    valid_from: Instant | None = None
    valid_to: Instant | None = None
    is_active: bool = True


class PriceListUpdateIn(BaseModel):
    """Fields left out keep their value; `null` clears the nullable ones."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    channel_id: Id | None = None
    currency: Currency | None = None
    customer_group_id: Id | None = None
    priority: Priority | None = None
    valid_from: Instant | None = None
    valid_to: Instant | None = None
    is_active: bool | None = None


class PriceListOut(BaseModel):
    id: str
    name: str
    channel_id: str
    currency: str
    customer_group_id: str | None
    priority: int
    valid_from: datetime | None
    valid_to: datetime | None
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class PriceListList(BaseModel):
    items: list[PriceListOut]
    next_cursor: str | None


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: Id
    min_quantity: MinQuantity = 1
    amount: Amount


class EntryKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: Id
    min_quantity: MinQuantity = 1


class EntriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[EntryIn] = Field(min_length=1, max_length=MAX_BATCH)


class EntryKeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[EntryKeyIn] = Field(min_length=1, max_length=MAX_BATCH)


class EntryOut(BaseModel):
    variant_id: str
    min_quantity: int
    amount: int


class EntryList(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class EntriesWritten(BaseModel):
    count: int
    version: int


def group_out(group: CustomerGroup) -> GroupOut:
    return GroupOut(id=str(group.id), code=group.code, name=group.name, tax_exempt=group.tax_exempt,
                    version=group.version, created_at=group.created_at, updated_at=group.updated_at)


def member_out(member: CustomerGroupMember) -> MemberOut:
    return MemberOut(customer_id=str(member.customer_id), created_at=member.created_at)


def price_list_out(price_list: PriceList) -> PriceListOut:
    return PriceListOut(
        id=str(price_list.id), name=price_list.name, channel_id=str(price_list.channel_id),
        currency=price_list.currency,
        customer_group_id=str(price_list.customer_group_id) if price_list.customer_group_id else None,
        priority=price_list.priority, valid_from=price_list.valid_from, valid_to=price_list.valid_to,
        is_active=price_list.is_active, version=price_list.version, created_at=price_list.created_at,
        updated_at=price_list.updated_at,
    )


def entry_out(entry: PriceListEntry) -> EntryOut:
    return EntryOut(variant_id=str(entry.variant_id), min_quantity=entry.min_quantity, amount=entry.amount)
