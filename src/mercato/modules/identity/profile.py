"""Profile and preferences of a customer."""

from __future__ import annotations

from typing import Any

from babel import Locale, UnknownLocaleError

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError, InvalidInput
from mercato.kit.money import is_currency
from mercato.modules.identity.models import Customer


def _locale(value: str) -> str:
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        raise InvalidInput("Unknown locale.", errors=[FieldError("locale", "invalid", "Use e.g. en_GB or de.")]) \
            from None


def update(customer: Customer, changes: dict[str, Any]) -> None:
    if "first_name" in changes and changes["first_name"] is not None:
        customer.first_name = changes["first_name"].strip()
    if "last_name" in changes and changes["last_name"] is not None:
        customer.last_name = changes["last_name"].strip()
    if "phone" in changes:
        customer.phone = (changes["phone"] or "").strip() or None
    if changes.get("marketing_consent") is not None and changes["marketing_consent"] != customer.marketing_consent:
        customer.marketing_consent = changes["marketing_consent"]
        customer.marketing_consent_at = utcnow()
    if "locale" in changes:
        customer.locale = _locale(changes["locale"]) if changes["locale"] else None
    if "currency" in changes:
        currency = changes["currency"]
        if currency is not None and not is_currency(currency):
            raise InvalidInput("Unknown currency.",
                               errors=[FieldError("currency", "invalid", "Use an ISO 4217 code such as EUR.")])
        customer.currency = currency
