"""Attribute definitions: loading a product type's definitions for value validation, and admin CRUD."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.ids import parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.catalog import listing
from mercato.modules.catalog.attribute_rules import AttributeDef
from mercato.modules.catalog.models import Attribute, Product, ProductType
from mercato.modules.catalog.taxonomy_errors import AttributeInUse, AttributeNotFound, CodeTaken, InvalidTaxonomy


async def definitions_for(session: AsyncSession, product_type_id: uuid.UUID | None) -> list[AttributeDef]:
    """The attribute definitions of a product type, in the type's order (None or unknown type → [])."""
    if product_type_id is None:
        return []
    entries = (
        await session.execute(select(ProductType.attributes).where(ProductType.id == product_type_id))
    ).scalar_one_or_none()
    if not entries:
        return []
    required = {str(e["code"]): bool(e.get("required", False)) for e in entries}
    rows = (await session.execute(select(Attribute).where(Attribute.code.in_(list(required))))).scalars().all()
    by_code = {a.code: a for a in rows}
    return [_definition(by_code[code], required[code]) for code in required if code in by_code]


def _definition(a: Attribute, required: bool) -> AttributeDef:
    return AttributeDef(
        code=a.code, type=a.type, required=required, options=option_values(a.options), unit=a.unit
    )


def option_values(options: list[dict[str, Any]]) -> frozenset[str]:
    return frozenset(str(o["value"]) for o in options if "value" in o)


# ---------------------------------------------------------------------------------------------
# admin CRUD

OPTION_TYPES = frozenset({"select", "multiselect", "swatch"})


async def get_attribute(session: AsyncSession, ref: str, *, lock: bool = False) -> Attribute:
    attribute_id = parse_id(ref)
    if attribute_id is None:
        raise AttributeNotFound("No such attribute.")
    stmt = select(Attribute).where(Attribute.id == attribute_id)
    if lock:
        stmt = stmt.with_for_update()
    attribute = (await session.execute(stmt)).scalar_one_or_none()
    if attribute is None:
        raise AttributeNotFound("No such attribute.")
    return attribute


async def list_attributes(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[Attribute]:
    return await keyset_page(session, select(Attribute), [SortKey(Attribute.code)], limit=limit, cursor=cursor)


def _check_shape(type_: str, unit: str | None, options: list[dict[str, Any]]) -> None:
    errors: list[FieldError] = []
    if type_ in OPTION_TYPES:
        values = [str(o["value"]) for o in options]
        if not values:
            errors.append(FieldError("options", "required", f"A {type_} attribute needs at least one option."))
        for i, value in enumerate(values):
            if values.index(value) != i:
                errors.append(FieldError(f"options[{i}].value", "duplicate", f"{value!r} is listed twice."))
        if type_ != "swatch":
            errors += [FieldError(f"options[{i}].hex", "invalid", "Only swatch options carry a colour.")
                       for i, o in enumerate(options) if o.get("hex") is not None]
    elif options:
        errors.append(FieldError("options", "invalid", f"A {type_} attribute has no options."))
    if unit is not None and type_ != "number":
        errors.append(FieldError("unit", "invalid", "Only number attributes have a unit."))
    if errors:
        raise InvalidTaxonomy("The attribute definition is not valid.", errors=errors)


async def _used_by_product_type(session: AsyncSession, code: str) -> bool:
    contains = ProductType.attributes.contains([{"code": code}]) | ProductType.variant_options.contains([code])
    return bool((await session.execute(select(exists().where(contains)))).scalar())


async def create_attribute(
    session: AsyncSession, *, code: str, name: str, type_: str, unit: str | None, options: list[dict[str, Any]],
    filterable: bool,
) -> Attribute:
    _check_shape(type_, unit, options)
    if (await session.execute(select(exists().where(Attribute.code == code)))).scalar():
        raise CodeTaken("code", code)
    now = utcnow()
    attribute = Attribute(id=uuid.uuid4(), code=code, name=name, type=type_, unit=unit, options=options,
                          filterable=filterable, created_at=now, updated_at=now)
    session.add(attribute)
    try:
        await session.flush()
    except IntegrityError:
        raise CodeTaken("code", code) from None
    return attribute


@dataclass(frozen=True)
class AttributeChanges:
    name: str | None = None
    type: str | None = None
    unit: str | None = None
    options: list[dict[str, Any]] | None = None
    filterable: bool | None = None


async def update_attribute(session: AsyncSession, attribute: Attribute, changes: AttributeChanges) -> Attribute:
    """Edit the fields sent. The type is fixed once a product type uses the attribute (values stored
    under it would stop matching). A change of `filterable` re-lists the products holding a value."""
    type_ = changes.type or attribute.type
    if type_ != attribute.type and await _used_by_product_type(session, attribute.code):
        raise AttributeInUse("The type cannot change while a product type uses the attribute.",
                             errors=[FieldError("type", "immutable", "Used by a product type.")])
    unit = changes.unit if changes.unit is not None else (attribute.unit if type_ == "number" else None)
    options = changes.options if changes.options is not None else (
        list(attribute.options) if type_ in OPTION_TYPES else [])
    _check_shape(type_, unit, options)
    relist = changes.filterable is not None and changes.filterable != attribute.filterable
    attribute.type, attribute.unit, attribute.options = type_, unit, options
    if changes.name is not None:
        attribute.name = changes.name
    if changes.filterable is not None:
        attribute.filterable = changes.filterable
    attribute.updated_at = utcnow()
    await session.flush()
    if relist:
        ids = (await session.execute(select(Product.id).where(Product.attributes.has_key(attribute.code)))).scalars()
        await listing.refresh(session, list(ids))
    return attribute


async def delete_attribute(session: AsyncSession, attribute: Attribute) -> None:
    if await _used_by_product_type(session, attribute.code):
        raise AttributeInUse("A product type still uses this attribute; remove it there first.")
    await session.execute(delete(Attribute).where(Attribute.id == attribute.id))
