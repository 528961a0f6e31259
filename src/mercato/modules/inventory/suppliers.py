"""Suppliers: who purchase orders go to.

A supplier that purchase orders name cannot be deleted (the orders keep their history); deactivate
it instead, which stops new purchase orders to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.errors import Conflict
from mercato.kit.ids import parse_id
from mercato.kit.pagination import Page, SortKey, keyset_page
from mercato.modules.inventory.errors import DocumentNotFound, SupplierCodeTaken
from mercato.modules.inventory.models import PurchaseOrder, Supplier


class SupplierInUse(Conflict):
    code = "inventory.supplier_in_use"
    title = "Supplier in use"

    def __init__(self) -> None:
        super().__init__("Purchase orders name this supplier; deactivate it instead.")


@dataclass(frozen=True)
class SupplierData:
    code: str
    name: str
    email: str | None
    phone: str | None
    address: dict[str, Any]
    lead_time_days: int
    is_active: bool


async def list_suppliers(
    session: AsyncSession, *, is_active: bool | None, limit: int, cursor: str | None
) -> Page[Supplier]:
    stmt = select(Supplier)
    if is_active is not None:
        stmt = stmt.where(Supplier.is_active.is_(is_active))
    return await keyset_page(session, stmt, [SortKey(Supplier.code), SortKey(Supplier.id)], limit=limit,
                             cursor=cursor)


async def get_supplier(session: AsyncSession, supplier_id: str, *, lock: bool = False) -> Supplier:
    parsed = parse_id(supplier_id)
    if parsed is None:
        raise DocumentNotFound("supplier")
    stmt = select(Supplier).where(Supplier.id == parsed)
    supplier = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if supplier is None:
        raise DocumentNotFound("supplier")
    return supplier


async def create_supplier(session: AsyncSession, data: SupplierData) -> Supplier:
    """A code another supplier has → 409 `inventory.supplier_code_taken` (also under a race)."""
    supplier = (await session.execute(
        insert(Supplier).values(
            code=data.code, name=data.name, email=data.email, phone=data.phone, address=data.address,
            lead_time_days=data.lead_time_days, is_active=data.is_active, version=1,
        ).on_conflict_do_nothing(index_elements=["code"]).returning(Supplier)
    )).scalar_one_or_none()
    if supplier is None:
        raise SupplierCodeTaken(data.code)
    return supplier


async def update_supplier(session: AsyncSession, supplier: Supplier, changes: dict[str, Any]) -> Supplier:
    """Apply `changes` (field → value) to a locked supplier; a code another supplier has → 409."""
    code = changes.get("code")
    if code is not None and code != supplier.code:
        taken = await session.scalar(select(exists().where(Supplier.code == code, Supplier.id != supplier.id)))
        if taken:
            raise SupplierCodeTaken(code)
    for field, value in changes.items():
        setattr(supplier, field, value)
    supplier.version += 1
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent rename took the code between the check and the write
        raise SupplierCodeTaken(code or supplier.code) from exc
    await session.refresh(supplier)
    return supplier


async def delete_supplier(session: AsyncSession, supplier: Supplier) -> None:
    """Delete a locked supplier; one that purchase orders name → 409 `inventory.supplier_in_use`."""
    if await session.scalar(select(exists().where(PurchaseOrder.supplier_id == supplier.id))):
        raise SupplierInUse()
    try:
        async with session.begin_nested():
            await session.delete(supplier)
            await session.flush()
    except IntegrityError as exc:  # a purchase order was created for it meanwhile (FK RESTRICT)
        raise SupplierInUse() from exc
