"""Catalogue: products, variants, categories, brands, prices per channel, media; the storefront read model."""
