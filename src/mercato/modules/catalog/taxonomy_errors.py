"""Errors of the taxonomy admin (attributes, product types, categories, brands) and collections."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class AttributeNotFound(NotFound):
    code = "catalog.attribute_not_found"
    title = "Attribute not found"


class ProductTypeNotFound(NotFound):
    code = "catalog.product_type_not_found"
    title = "Product type not found"


class CollectionNotFound(NotFound):
    code = "catalog.collection_not_found"
    title = "Collection not found"


class CodeTaken(Conflict):
    """A unique code, slug or name is already used by another row."""

    code = "catalog.taken"
    title = "Already taken"

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{value!r} is already used.", errors=[FieldError(field, "taken", f"{value!r} is taken.")])


class AttributeInUse(Conflict):
    code = "catalog.attribute_in_use"
    title = "Attribute in use"


class CategoryCycle(Conflict):
    code = "catalog.category_cycle"
    title = "A category cannot move below itself"


class CategoryNotEmpty(Conflict):
    code = "catalog.category_not_empty"
    title = "Category not empty"


class BrandInUse(Conflict):
    code = "catalog.brand_in_use"
    title = "Brand in use"


class ProductTypeInUse(Conflict):
    code = "catalog.product_type_in_use"
    title = "Product type in use"


class UnknownAttribute(InvalidInput):
    code = "catalog.unknown_attribute"
    title = "Unknown attribute"


class InvalidTaxonomy(InvalidInput):
    """Input that is well-formed but refers to rows that do not exist or do not fit."""

    code = "validation.invalid"
