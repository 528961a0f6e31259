"""Request and response shapes of suppliers, purchase orders, transfers and cycle counts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mercato.kit.money import Money
from mercato.modules.inventory.counts import MAX_COUNT_LINES, CountDocument, VarianceReport
from mercato.modules.inventory.models import PurchaseOrder, StockCount, Supplier, Transfer
from mercato.modules.inventory.purchase_orders import MAX_LINES, OrderDocument
from mercato.modules.inventory.transfers import TransferDocument

Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50,
                                        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Notes = Annotated[str, StringConstraints(max_length=5000)]
LotNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Counted = Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)]
UnitCost = Annotated[int, Field(ge=0, le=10**12, strict=True, description="Minor units of the order's currency")]
LeadTime = Annotated[int, Field(ge=0, le=3650, strict=True, description="Days from order to arrival")]


def _upper(value: str) -> str:
    return value.upper()


Currency = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$"),
                     AfterValidator(_upper)]
Country = Annotated[str, StringConstraints(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$"),
                    AfterValidator(_upper)]

PurchaseOrderStatus = Literal["draft", "sent", "partially_received", "received", "closed", "cancelled"]
TransferStatus = Literal["draft", "in_transit", "partially_received", "received", "cancelled"]
CountStatus = Literal["open", "applied", "cancelled"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyOut(BaseModel):
    amount: int = Field(description="Integer minor units")
    currency: str


def _money(amount: int, currency: str) -> MoneyOut:
    return MoneyOut(**Money(amount, currency).as_dict())


# ---------------------------------------------------------------------------------------------
# suppliers


class SupplierAddress(Body):
    company: Short | None = None
    line1: Short | None = None
    line2: Short | None = None
    city: Short | None = None
    region: Short | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None
    country_code: Country | None = None


class SupplierIn(Body):
    code: Code = Field(description="Letters, digits, '.', '-' and '_'; unique")
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    address: SupplierAddress = Field(default_factory=SupplierAddress)
    lead_time_days: LeadTime = 7
    is_active: bool = True


class SupplierUpdateIn(Body):
    """Fields left out keep their value; `null` clears email and phone."""

    code: Code | None = None
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    address: SupplierAddress | None = None
    lead_time_days: LeadTime | None = None
    is_active: bool | None = None


class SupplierOut(BaseModel):
    id: str
    code: str
    name: str
    email: str | None
    phone: str | None
    address: dict[str, Any]
    lead_time_days: int
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class SupplierList(BaseModel):
    items: list[SupplierOut]
    next_cursor: str | None


def supplier_out(supplier: Supplier) -> SupplierOut:
    return SupplierOut(
        id=str(supplier.id), code=supplier.code, name=supplier.name, email=supplier.email, phone=supplier.phone,
        address=supplier.address, lead_time_days=supplier.lead_time_days, is_active=supplier.is_active,
        version=supplier.version, created_at=supplier.created_at, updated_at=supplier.updated_at,
    )


# ---------------------------------------------------------------------------------------------
# purchase orders


class OrderLineIn(Body):
    variant_id: Id
    quantity_ordered: Quantity
    unit_cost: UnitCost


class PurchaseOrderIn(Body):
    supplier_id: Id
    warehouse_id: Id = Field(description="Where the goods arrive")
    currency: Currency = Field(description="ISO 4217")
    expected_at: date | None = None
    notes: Notes | None = None
    lines: list[OrderLineIn] = Field(default_factory=list, max_length=MAX_LINES,
                                     description="One line per variant; may stay empty while a draft")


class PurchaseOrderUpdateIn(Body):
    """Drafts take any field (`lines` replaces every line); a sent or partially received order
    takes only `expected_at` and `notes` (`null` clears them)."""

    supplier_id: Id | None = None
    warehouse_id: Id | None = None
    currency: Currency | None = None
    expected_at: date | None = None
    notes: Notes | None = None
    lines: list[OrderLineIn] | None = Field(default=None, max_length=MAX_LINES)


class ReceiptLineIn(Body):
    line_id: Id | None = Field(default=None, description="The order line; or name it by variant_id")
    variant_id: Id | None = None
    quantity: Quantity
    lot_number: LotNumber | None = Field(default=None, description="Required for lot-tracked variants")
    expires_on: date | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> ReceiptLineIn:
        if (self.line_id is None) == (self.variant_id is None):
            raise ValueError("give exactly one of line_id and variant_id")
        return self


class ReceiptIn(Body):
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=MAX_LINES)


class OrderLineOut(BaseModel):
    id: str
    variant_id: str
    sku: str
    quantity_ordered: int
    quantity_received: int
    quantity_outstanding: int
    unit_cost: MoneyOut
    total: MoneyOut = Field(description="quantity_ordered × unit_cost")


class PurchaseOrderSummary(BaseModel):
    id: str
    number: str
    supplier_id: str
    warehouse_id: str
    status: PurchaseOrderStatus
    currency: str
    expected_at: date | None
    total: MoneyOut
    version: int
    created_at: datetime
    updated_at: datetime


class PurchaseOrderOut(PurchaseOrderSummary):
    notes: str | None
    sent_at: datetime | None
    closed_at: datetime | None
    received_total: MoneyOut = Field(description="Value of what arrived")
    lines: list[OrderLineOut]


class PurchaseOrderList(BaseModel):
    items: list[PurchaseOrderSummary]
    next_cursor: str | None


def _order_fields(order: PurchaseOrder, total: int) -> dict[str, Any]:
    return {"id": str(order.id), "number": order.number, "supplier_id": str(order.supplier_id),
            "warehouse_id": str(order.warehouse_id), "status": order.status, "currency": order.currency,
            "expected_at": order.expected_at, "total": _money(total, order.currency), "version": order.version,
            "created_at": order.created_at, "updated_at": order.updated_at}


def order_summary(order: PurchaseOrder, total: int) -> PurchaseOrderSummary:
    return PurchaseOrderSummary(**_order_fields(order, total))


def order_out(doc: OrderDocument) -> PurchaseOrderOut:
    order, currency = doc.order, doc.order.currency
    lines = [OrderLineOut(
        id=str(v.line.id), variant_id=str(v.line.variant_id), sku=v.sku, quantity_ordered=v.line.quantity_ordered,
        quantity_received=v.line.quantity_received,
        quantity_outstanding=max(v.line.quantity_ordered - v.line.quantity_received, 0),
        unit_cost=_money(v.line.unit_cost, currency),
        total=_money(v.line.quantity_ordered * v.line.unit_cost, currency),
    ) for v in doc.lines]
    total = sum(v.line.quantity_ordered * v.line.unit_cost for v in doc.lines)
    received = sum(v.line.quantity_received * v.line.unit_cost for v in doc.lines)
    return PurchaseOrderOut(**_order_fields(order, total), notes=order.notes, sent_at=order.sent_at,
                            closed_at=order.closed_at, received_total=_money(received, currency), lines=lines)


# ---------------------------------------------------------------------------------------------
# transfers


class TransferLineIn(Body):
    variant_id: Id
    quantity: Quantity


class TransferIn(Body):
    from_warehouse_id: Id
    to_warehouse_id: Id = Field(description="Another warehouse than the source")
    lines: list[TransferLineIn] = Field(min_length=1, max_length=MAX_LINES)


class TransferReceiptLineIn(Body):
    variant_id: Id
    quantity: Quantity
    lot_number: LotNumber | None = Field(default=None, description="Required for lot-tracked variants")
    expires_on: date | None = None


class TransferReceiptIn(Body):
    lines: list[TransferReceiptLineIn] = Field(min_length=1, max_length=MAX_LINES)


class TransferLineOut(BaseModel):
    id: str
    variant_id: str
    sku: str
    quantity: int
    quantity_received: int
    quantity_in_transit: int = Field(description="Shipped, not yet received")


class TransferSummary(BaseModel):
    id: str
    number: str
    from_warehouse_id: str
    to_warehouse_id: str
    status: TransferStatus
    shipped_at: datetime | None
    received_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class TransferOut(TransferSummary):
    lines: list[TransferLineOut]


class TransferList(BaseModel):
    items: list[TransferSummary]
    next_cursor: str | None


def transfer_summary(transfer: Transfer) -> TransferSummary:
    return TransferSummary(
        id=str(transfer.id), number=transfer.number, from_warehouse_id=str(transfer.from_warehouse_id),
        to_warehouse_id=str(transfer.to_warehouse_id), status=transfer.status,
        shipped_at=transfer.shipped_at, received_at=transfer.received_at, version=transfer.version,
        created_at=transfer.created_at, updated_at=transfer.updated_at,
    )


def transfer_out(doc: TransferDocument) -> TransferOut:
    return TransferOut(**transfer_summary(doc.transfer).model_dump(), lines=[TransferLineOut(
        id=str(v.line.id), variant_id=str(v.line.variant_id), sku=v.sku, quantity=v.line.quantity,
        quantity_received=v.line.quantity_received, quantity_in_transit=v.in_transit,
    ) for v in doc.lines])


# ---------------------------------------------------------------------------------------------
# cycle counts


class CountLineIn(Body):
    variant_id: Id
    counted: Counted


class CountIn(Body):
    warehouse_id: Id
    lines: list[CountLineIn] = Field(default_factory=list, max_length=MAX_COUNT_LINES)


class CountLinesIn(Body):
    lines: list[CountLineIn] = Field(min_length=1, max_length=MAX_COUNT_LINES)


class CountLineOut(BaseModel):
    id: str
    variant_id: str
    sku: str
    counted: int
    expected: int | None = Field(description="On hand when the count was applied (null until then)")


class CountSummary(BaseModel):
    id: str
    number: str
    warehouse_id: str
    status: CountStatus
    applied_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class CountOut(CountSummary):
    lines: list[CountLineOut]


class CountList(BaseModel):
    items: list[CountSummary]
    next_cursor: str | None


class VarianceLineOut(BaseModel):
    variant_id: str
    sku: str
    expected: int
    counted: int
    variance: int = Field(description="counted − expected")


class VarianceTotals(BaseModel):
    lines: int
    lines_with_variance: int
    expected: int
    counted: int
    variance: int = Field(description="Net: surplus − shortage")
    surplus: int = Field(description="Sum of positive variances")
    shortage: int = Field(description="Sum of negative variances, as a positive number")


class VarianceOut(BaseModel):
    count_id: str
    number: str
    warehouse_id: str
    status: CountStatus
    basis: Literal["current", "applied"] = Field(
        description="`current`: compared with on hand now; `applied`: with on hand when applied")
    lines: list[VarianceLineOut]
    totals: VarianceTotals


def count_summary(count: StockCount) -> CountSummary:
    return CountSummary(
        id=str(count.id), number=count.number, warehouse_id=str(count.warehouse_id),
        status=count.status, applied_at=count.applied_at, version=count.version,
        created_at=count.created_at, updated_at=count.updated_at,
    )


def count_out(doc: CountDocument) -> CountOut:
    return CountOut(**count_summary(doc.count).model_dump(), lines=[CountLineOut(
        id=str(v.line.id), variant_id=str(v.line.variant_id), sku=v.sku, counted=v.line.counted,
        expected=v.line.expected,
    ) for v in doc.lines])


def variance_out(report: VarianceReport) -> VarianceOut:
    variances = [line.variance for line in report.lines]
    count = report.count
    return VarianceOut(
        count_id=str(count.id), number=count.number, warehouse_id=str(count.warehouse_id),
        status=count.status, basis="applied" if count.status == "applied" else "current",
        lines=[VarianceLineOut(variant_id=str(line.variant_id), sku=line.sku, expected=line.expected,
                               counted=line.counted, variance=line.variance) for line in report.lines],
        totals=VarianceTotals(
            lines=len(report.lines), lines_with_variance=sum(1 for v in variances if v),
            expected=sum(line.expected for line in report.lines), counted=sum(line.counted for line in report.lines),
            variance=sum(variances), surplus=sum(v for v in variances if v > 0),
            shortage=-sum(v for v in variances if v < 0),
        ),
    )
