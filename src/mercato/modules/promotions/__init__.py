"""Promotions: automatic and coupon promotions, their codes, and their usage.

What the cart and checkout use (nothing else of this module is public):

  cart: `PromoCart` / `PromoLine` (its lines after price lists), then
        `promotions = await active_promotions(session, channel_id=, codes=, now=, customer_id=)` (one
        statement; none for a guest without codes when given `version=`, the cart's reading of
        `AUTOMATIC_VERSION_SQL`, and this process holds the promotions of that version) and
        `result = evaluate(cart, promotions, codes=, now=)` (pure) — per-line and order adjustments,
        free shipping, applied promotions, and per code why it does not apply
        (`result.rejections[code].reason`: promotion.not_found, .expired, .not_started, .inactive,
        .not_eligible, .minimum_not_met, .usage_limit_reached, .already_used, .not_combinable,
        .duplicate). See `rules` for the stacking, allocation and cap semantics.
  coupon endpoint: `check_code_guarded(session, limiter, code, client_key=, rule=settings.rate_limit_coupon,
        cart=, now=, codes=)` — CouponRejected (422, code = the reason) when the code does not apply,
        CouponRateLimited (429 `promotion.rate_limited`, Retry-After) after too many failures per
        client; or `guard_coupon` / `check_code` / `count_coupon_failure` separately.
  checkout: re-evaluate in the checkout transaction, then `redeem(session, result, order_id=,
        customer_id=, currency=)` as late as possible before commit — UsageLimitReached (409
        `promotion.usage_limit_reached`) when a limit was reached meanwhile, FirstOrderTaken (409
        `promotion.not_eligible`) when a first-order promotion applied and another order of the
        customer's was placed meanwhile: roll back.
  demo: `seed_demo(session)`.
"""

from mercato.modules.promotions.errors import CouponRateLimited as CouponRateLimited
from mercato.modules.promotions.errors import CouponRejected as CouponRejected
from mercato.modules.promotions.errors import FirstOrderTaken as FirstOrderTaken
from mercato.modules.promotions.errors import UsageLimitReached as UsageLimitReached
from mercato.modules.promotions.redemption import redeem as redeem
from mercato.modules.promotions.rules import Adjustment as Adjustment
from mercato.modules.promotions.rules import Applied as Applied
from mercato.modules.promotions.rules import DiscountCap as DiscountCap
from mercato.modules.promotions.rules import PromoCart as PromoCart
from mercato.modules.promotions.rules import PromoLine as PromoLine
from mercato.modules.promotions.rules import PromoResult as PromoResult
from mercato.modules.promotions.rules import Promotion as Promotion
from mercato.modules.promotions.rules import Rejection as Rejection
from mercato.modules.promotions.rules import evaluate as evaluate
from mercato.modules.promotions.rules import normalize_code as normalize_code
from mercato.modules.promotions.seed import seed_demo as seed_demo
from mercato.modules.promotions.storefront import AUTOMATIC_VERSION_SQL as AUTOMATIC_VERSION_SQL
from mercato.modules.promotions.storefront import active_promotions as active_promotions
from mercato.modules.promotions.storefront import check_code as check_code
from mercato.modules.promotions.storefront import check_code_guarded as check_code_guarded
from mercato.modules.promotions.storefront import count_coupon_failure as count_coupon_failure
from mercato.modules.promotions.storefront import guard_coupon as guard_coupon
from mercato.modules.promotions.storefront import normalized_codes as normalized_codes
