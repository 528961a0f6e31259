"""The catalogue's tables, one file per area; import them from here."""

from mercato.modules.catalog.models.attributes import ATTRIBUTE_TYPES as ATTRIBUTE_TYPES
from mercato.modules.catalog.models.attributes import Attribute as Attribute
from mercato.modules.catalog.models.collections import COLLECTION_KINDS as COLLECTION_KINDS
from mercato.modules.catalog.models.collections import Collection as Collection
from mercato.modules.catalog.models.collections import CollectionProduct as CollectionProduct
from mercato.modules.catalog.models.core import PRODUCT_STATUSES as PRODUCT_STATUSES
from mercato.modules.catalog.models.core import Brand as Brand
from mercato.modules.catalog.models.core import Category as Category
from mercato.modules.catalog.models.core import Product as Product
from mercato.modules.catalog.models.core import ProductListing as ProductListing
from mercato.modules.catalog.models.core import ProductType as ProductType
from mercato.modules.catalog.models.core import Variant as Variant
from mercato.modules.catalog.models.core import VariantPrice as VariantPrice
from mercato.modules.catalog.models.jobs import JOB_KINDS as JOB_KINDS
from mercato.modules.catalog.models.jobs import JOB_STATUSES as JOB_STATUSES
from mercato.modules.catalog.models.jobs import CatalogJob as CatalogJob
from mercato.modules.catalog.models.jobs import CatalogJobError as CatalogJobError
from mercato.modules.catalog.models.media import MEDIA_STATUSES as MEDIA_STATUSES
from mercato.modules.catalog.models.media import ProductMedia as ProductMedia
from mercato.modules.catalog.models.reviews import REVIEW_STATUSES as REVIEW_STATUSES
from mercato.modules.catalog.models.reviews import Review as Review
from mercato.modules.catalog.models.reviews import ReviewVote as ReviewVote
from mercato.modules.catalog.models.revisions import ProductRevision as ProductRevision
