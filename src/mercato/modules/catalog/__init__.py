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
from mercato.modules.catalog.seed import DemoDataMissing as DemoDataMissing
from mercato.modules.catalog.seed import demo_data_available as demo_data_available
from mercato.modules.catalog.seed import demo_data_dir as demo_data_dir
from mercato.modules.catalog.seed import seed_demo as seed_demo
