"""Catalogue errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import FieldError, InvalidInput, NotFound


class ProductNotFound(NotFound):
    code = "catalog.product_not_found"
    title = "Product not found"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "No such product in this channel.")


class CategoryNotFound(NotFound):
    code = "catalog.category_not_found"
    title = "Category not found"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "No such category.")


class BrandNotFound(NotFound):
    code = "catalog.brand_not_found"
    title = "Brand not found"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "No such brand.")


class UnknownChannel(InvalidInput):
    code = "catalog.unknown_channel"
    title = "Unknown channel"

    def __init__(self, channel: str) -> None:
        super().__init__(
            f"There is no active channel {channel!r}.",
            errors=[FieldError("query.channel", "unknown", "Use the code of an active sales channel.")],
        )
