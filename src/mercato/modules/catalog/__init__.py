"""Catalogue: products, variants, categories, brands, prices per channel, media; the storefront read model."""

# Demo store and benchmark catalogues (`mercato seed --demo [--products N]`).
from mercato.modules.catalog.bulk import BulkResult as BulkResult
from mercato.modules.catalog.bulk import DemoNotSeeded as DemoNotSeeded
from mercato.modules.catalog.bulk import seed_bulk as seed_bulk

# The product-page cache: writers call the invalidators after their transaction commits; the app's
# fast path reads it for unchanged product pages.
from mercato.modules.catalog.detail_cache import Lookup as Lookup
from mercato.modules.catalog.detail_cache import invalidate_catalog as invalidate_catalog
from mercato.modules.catalog.detail_cache import invalidate_product as invalidate_product
from mercato.modules.catalog.detail_cache import lookup_detail as lookup_detail

# Storefront reads, for the app's fast paths (the routes in endpoints/ use the same services).
from mercato.modules.catalog.product_page import product_detail_json as product_detail_json
from mercato.modules.catalog.seed import DemoDataMissing as DemoDataMissing
from mercato.modules.catalog.seed import demo_data_available as demo_data_available
from mercato.modules.catalog.seed import demo_data_dir as demo_data_dir
from mercato.modules.catalog.seed import seed_demo as seed_demo
from mercato.modules.catalog.stock_hooks import stock_changed as stock_changed
from mercato.modules.catalog.storefront import SORTS as SORTS
from mercato.modules.catalog.storefront import ProductQuery as ProductQuery
from mercato.modules.catalog.storefront import list_products_json as list_products_json
