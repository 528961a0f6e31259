"""Errors of the admin product API (products, variants, prices, workflow, revisions) with stable codes."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class SlugTaken(Conflict):
    code = "catalog.slug_taken"
    title = "Slug taken"

    def __init__(self, slug: str) -> None:
        super().__init__(f"Another product already uses the slug {slug!r}.",
                         errors=[FieldError("slug", "taken", "Choose another slug.")])


class SkuTaken(Conflict):
    code = "catalog.sku_taken"
    title = "SKU taken"

    def __init__(self, sku: str, field: str = "sku") -> None:
        super().__init__(f"Another variant already uses the SKU {sku!r}.",
                         errors=[FieldError(field, "taken", "SKUs are unique across the catalogue.")])


class InvalidTransition(Conflict):
    code = "catalog.invalid_transition"
    title = "Invalid workflow transition"

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"A product in status {status!r} cannot be {action!r}-ed.")


class NotPublishable(Conflict):
    code = "catalog.not_publishable"
    title = "Product not publishable"

    def __init__(self) -> None:
        super().__init__("A product needs at least one variant with a price before it can be published.")


class ProductNotDeletable(Conflict):
    code = "catalog.product_not_deletable"
    title = "Product cannot be deleted"

    def __init__(self, status: str) -> None:
        super().__init__(f"Only draft or archived products can be deleted; this one is {status!r}. Archive it first.")


class HasHistory(Conflict):
    """Stock movements, allocations or purchase orders refer to it: those records must stay."""

    code = "catalog.has_stock_history"
    title = "Has stock history"

    def __init__(self, what: str) -> None:
        super().__init__(f"This {what} has stock history or purchase orders, which must be kept. Archive it instead.")


class VariantNotFound(NotFound):
    code = "catalog.variant_not_found"
    title = "Variant not found"

    def __init__(self) -> None:
        super().__init__("No such variant.")


class RevisionNotFound(NotFound):
    code = "catalog.revision_not_found"
    title = "Revision not found"

    def __init__(self, version: int) -> None:
        super().__init__(f"The product has no revision {version}.")


class CommentRequired(InvalidInput):
    code = "catalog.comment_required"
    title = "Comment required"

    def __init__(self) -> None:
        super().__init__("Rejecting a product needs a comment that tells the editor why.",
                         errors=[FieldError("comment", "required", "Say why the product is rejected.")])


def invalid(code: str, field: str, error: str, message: str) -> InvalidInput:
    """A 422 with a stable top-level `code` naming the one field at fault."""
    return InvalidInput(message, code=code, errors=[FieldError(field, error, message)])
