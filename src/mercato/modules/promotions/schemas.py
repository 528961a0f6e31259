"""Request and response shapes of /admin/promotions.

Amounts are integer minor units of the promotion's `currency`; rates are parts per million
(10 % = 100000). The benefit and the conditions are stored as given here (JSON), so these models
are also the documentation of what the database holds.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from mercato.kit.clock import UtcDatetime
from mercato.modules.promotions.models import Promotion, PromotionCode
from mercato.modules.promotions.rules import ALPHABET, CODE_MAX_LENGTH, PPM, normalize_code
from mercato.modules.promotions.service import MAX_CODES_PER_REQUEST, MAX_GENERATED, MAX_IDS, PromotionStats

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Amount = Annotated[int, Field(ge=0, le=10**15, strict=True, description="Integer minor units of `currency`")]
RatePpm = Annotated[int, Field(ge=1, le=PPM, strict=True, description="Parts per million: 10 % = 100000")]
Count = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000, strict=True,
                                description="Higher goes first; equal priorities: the older promotion first")]
Ids = Annotated[list[Id], Field(max_length=MAX_IDS)]


def _upper(value: str) -> str:
    return value.upper()


def _code(value: str) -> str:
    code = normalize_code(value)
    if code is None:
        raise ValueError("a code is 1 to 64 letters, digits, '-' or '_' (case does not matter)")
    return code


Currency = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$"),
                     AfterValidator(_upper)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=CODE_MAX_LENGTH + 10), AfterValidator(_code)]


# ---------------------------------------------------------------------------------------------
# benefits


class PercentageIn(BaseModel):
    """rate_ppm off the targeted items."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["percentage"]
    rate_ppm: RatePpm


class FixedAmountIn(BaseModel):
    """`amount` off each targeted unit, each targeted line, or the order (spread over the targeted lines)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fixed_amount"]
    amount: Amount
    per: Literal["unit", "line", "order"] = "order"


class FixedPriceIn(BaseModel):
    """Each targeted unit costs `amount`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fixed_price"]
    amount: Amount


class BuyXGetYIn(BaseModel):
    """For every `buy` + `get` targeted units, the `get` cheapest get rate_ppm off (default: free)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["buy_x_get_y"]
    buy: int = Field(ge=1, le=1000, strict=True)
    get: int = Field(ge=1, le=1000, strict=True)
    rate_ppm: RatePpm = PPM
    max_applications: int | None = Field(default=None, ge=1, le=1_000_000, strict=True)


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: Amount = Field(description="Subtotal of the targeted items from which the tier applies")
    amount: Amount = Field(description="Taken off the order (spread over the targeted lines)")


class TieredIn(BaseModel):
    """Spend thresholds: the highest tier reached applies."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["tiered"]
    tiers: list[TierIn] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _increasing(self) -> TieredIn:
        thresholds = [tier.threshold for tier in self.tiers]
        if any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ValueError("tier thresholds must increase strictly")
        return self


class FreeShippingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["free_shipping"]


class BundleItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Id
    quantity: int = Field(default=1, ge=1, le=100, strict=True)


class BundleIn(BaseModel):
    """These products together (each `quantity` units) cost `price` per complete set."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["bundle"]
    items: list[BundleItemIn] = Field(min_length=1, max_length=20)
    price: Amount

    @model_validator(mode="after")
    def _a_real_bundle(self) -> BundleIn:
        if len({item.product_id for item in self.items}) != len(self.items):
            raise ValueError("each product appears once in a bundle (use its quantity)")
        if sum(item.quantity for item in self.items) < 2:
            raise ValueError("a bundle holds at least two units")
        return self


BenefitIn = Annotated[PercentageIn | FixedAmountIn | FixedPriceIn | BuyXGetYIn | TieredIn | FreeShippingIn | BundleIn,
                      Field(discriminator="kind")]


# ---------------------------------------------------------------------------------------------
# conditions


class TargetsIn(BaseModel):
    """Which items the promotion is about. Includes are OR-ed (none: every item); categories
    include their descendants; any exclusion wins."""

    model_config = ConfigDict(extra="forbid")

    product_ids: Ids = []
    category_ids: Ids = []
    collection_ids: Ids = []
    brand_ids: Ids = []
    excluded_product_ids: Ids = []
    excluded_category_ids: Ids = []
    excluded_collection_ids: Ids = []
    excluded_brand_ids: Ids = []


class ConditionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: TargetsIn = TargetsIn()
    min_subtotal: Amount | None = Field(default=None, description="Of the targeted items, before discounts")
    min_quantity: Count | None = Field(default=None, description="Targeted units in the cart")
    customer_group_ids: Ids = Field(default=[], description="Members of any of these groups (none: everyone)")
    first_order_only: bool = False


# ---------------------------------------------------------------------------------------------
# promotions


class PromotionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = Field(default="", max_length=5000)
    trigger: Literal["automatic", "coupon"] = Field(description="automatic: applies by itself; coupon: needs a code")
    is_active: bool = True
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    channel_ids: Ids = Field(default=[], description="Empty: every channel")
    currency: Currency | None = Field(default=None, description="Of the amounts; required when there are any "
                                      "(defaults to the listed channels' currency when they share one)")
    priority: Priority = 0
    exclusive: bool = Field(default=False, description="Applies only alone; when it applies nothing after it does")
    stackable: bool = Field(default=True, description="false: at most one non-stackable promotion per order")
    benefit: BenefitIn
    conditions: ConditionsIn = ConditionsIn()
    per_customer_limit: Count | None = Field(default=None, description="Uses per signed-in customer")
    usage_limit: Count | None = Field(default=None, description="Orders that may use it, in all")
    budget: Amount | None = Field(default=None, description="Most it may grant in all (lines and shipping)")
    max_discount_amount: Amount | None = Field(default=None, description="Most it takes off one order")
    max_discount_ppm: RatePpm | None = Field(default=None,
                                             description="Most it takes off one order, of the cart subtotal")
    codes: list[Code] = Field(default=[], max_length=MAX_CODES_PER_REQUEST,
                              description="Codes to create with a coupon promotion (unlimited uses each)")


class PromotionUpdateIn(BaseModel):
    """Fields left out keep their value; `null` clears the nullable ones. `benefit` and
    `conditions` are replaced as a whole when given."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: str | None = Field(default=None, max_length=5000)
    trigger: Literal["automatic", "coupon"] | None = None
    is_active: bool | None = None
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    channel_ids: Ids | None = None
    currency: Currency | None = None
    priority: Priority | None = None
    exclusive: bool | None = None
    stackable: bool | None = None
    benefit: BenefitIn | None = None
    conditions: ConditionsIn | None = None
    per_customer_limit: Count | None = None
    usage_limit: Count | None = None
    budget: Amount | None = None
    max_discount_amount: Amount | None = None
    max_discount_ppm: RatePpm | None = None


Status = Literal["inactive", "scheduled", "running", "ended"]


class PromotionOut(BaseModel):
    id: str
    name: str
    description: str
    trigger: Literal["automatic", "coupon"]
    is_active: bool
    status: Status
    starts_at: datetime | None
    ends_at: datetime | None
    channel_ids: list[str]
    currency: str | None
    priority: int
    exclusive: bool
    stackable: bool
    benefit: BenefitIn
    conditions: ConditionsIn
    per_customer_limit: int | None
    usage_limit: int | None
    uses: int
    budget: int | None
    spent: int
    max_discount_amount: int | None
    max_discount_ppm: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class PromotionList(BaseModel):
    items: list[PromotionOut]
    next_cursor: str | None


# ---------------------------------------------------------------------------------------------
# codes


class CodesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[Code] = Field(min_length=1, max_length=MAX_CODES_PER_REQUEST)
    max_uses: Count | None = Field(default=None, description="Per code; null: as often as the promotion allows")


class CodesAdded(BaseModel):
    added: int


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=MAX_GENERATED, strict=True)
    prefix: str = Field(default="", max_length=20, pattern=r"^[A-Za-z0-9_-]*$")
    length: int = Field(default=10, ge=6, le=32, strict=True,
                        description=f"Random characters after the prefix, from {ALPHABET}")
    max_uses: Count | None = Field(default=1, description="Per code; 1: single use")


class GeneratedOut(BaseModel):
    batch_id: str
    count: int
    export_url: str


class CodeOut(BaseModel):
    id: str
    code: str
    max_uses: int | None
    uses: int
    batch_id: str | None
    last_used_at: datetime | None
    created_at: datetime


class CodeList(BaseModel):
    items: list[CodeOut]
    next_cursor: str | None


class StatsOut(BaseModel):
    promotion_id: str
    currency: str | None
    uses: int
    usage_limit: int | None
    spent: int
    budget: int | None
    orders: int = Field(description="Orders that used it (redemptions)")
    discount_total: int = Field(description="Granted in all, per the redemptions")
    customers: int = Field(description="Distinct signed-in customers among them")
    last_redeemed_at: datetime | None
    codes: int
    codes_used: int = Field(description="Codes used at least once")
    codes_used_up: int = Field(description="Codes that reached their max_uses")


def status_of(promotion: Promotion, now: datetime) -> Status:
    if not promotion.is_active:
        return "inactive"
    if promotion.starts_at is not None and now < promotion.starts_at:
        return "scheduled"
    if promotion.ends_at is not None and now >= promotion.ends_at:
        return "ended"
    return "running"


def promotion_out(promotion: Promotion, now: datetime) -> PromotionOut:
    return PromotionOut.model_validate({
        "id": str(promotion.id), "name": promotion.name, "description": promotion.description,
        "trigger": promotion.trigger, "is_active": promotion.is_active, "status": status_of(promotion, now),
        "starts_at": promotion.starts_at, "ends_at": promotion.ends_at,
        "channel_ids": [str(c) for c in promotion.channel_ids], "currency": promotion.currency,
        "priority": promotion.priority, "exclusive": promotion.exclusive, "stackable": promotion.stackable,
        "benefit": promotion.benefit, "conditions": promotion.conditions,
        "per_customer_limit": promotion.per_customer_limit, "usage_limit": promotion.usage_limit,
        "uses": promotion.uses, "budget": promotion.budget, "spent": promotion.spent,
        "max_discount_amount": promotion.max_discount_amount, "max_discount_ppm": promotion.max_discount_ppm,
        "version": promotion.version, "created_at": promotion.created_at, "updated_at": promotion.updated_at,
    })


def code_out(code: PromotionCode) -> CodeOut:
    return CodeOut(id=str(code.id), code=code.code, max_uses=code.max_uses, uses=code.uses,
                   batch_id=str(code.batch_id) if code.batch_id else None, last_used_at=code.last_used_at,
                   created_at=code.created_at)


def stats_out(stats: PromotionStats) -> StatsOut:
    return StatsOut(
        promotion_id=str(stats.promotion.id), currency=stats.promotion.currency, uses=stats.promotion.uses,
        usage_limit=stats.promotion.usage_limit, spent=stats.promotion.spent, budget=stats.promotion.budget,
        orders=stats.orders, discount_total=stats.discount_total, customers=stats.customers,
        last_redeemed_at=stats.last_redeemed_at, codes=stats.codes, codes_used=stats.codes_used,
        codes_used_up=stats.codes_used_up,
    )
