"""The demo store's catalogue, built from two open data sets.

* Categories: the Best Buy open category tree (``bestbuy-categories/categories.json.gz``, CC0 1.0).
  Every merchandise category is kept (the store-information roots such as "Customer Service",
  "Geek Squad" or test pages are left out); ancestors the export lacks are rebuilt from the
  ``path`` of their descendants, so the tree is whole. ``external_ref`` is the Best Buy id.
* Products: the UCI Machine Learning Repository "Online Retail" data set
  (``online-retail/online-retail-2010-12_2011-10.csv.gz``): D. Chen, S. L. Sain and K. Guo,
  "Data mining for the online retail industry: A case study of RFM model-based customer
  segmentation using data mining", Journal of Database Marketing & Customer Strategy Management
  19(3), 2012; https://archive.ics.uci.edu/dataset/352/online+retail, CC BY 4.0. One product per StockCode that has a
  description and a positive unit price: name = the description in title case, price = the median
  of its positive unit prices (GBP), popularity = its invoice lines, published_at = its first sale.

Everything is deterministic: the same files give the same catalogue (ids aside). Prices are
integer minor units computed with Decimal: GBP straight from the data, EUR and USD converted at the
fixed rates in ``RATES_FROM_GBP`` and rounded to the nearest ".99" price. Variants do not track
inventory yet (the inventory module adds stock), thumbnails are null, ratings are zero.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import statistics
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import nh3
from sqlalchemy import exists, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.ids import new_id
from mercato.kit.money import exponent
from mercato.kit.settings import PROJECT_ROOT
from mercato.modules import channels
from mercato.modules.catalog import listing
from mercato.modules.catalog.models import Attribute, Category, Product, ProductType, Variant

SOURCE = "uci-online-retail"  # products.attributes["source"] of every demo product
CATEGORIES_FILE = Path("bestbuy-categories") / "categories.json.gz"
RETAIL_FILE = Path("online-retail") / "online-retail-2010-12_2011-10.csv.gz"

# Fixed demo exchange rates (about the 2011 averages, when the sales in the data took place).
RATES_FROM_GBP: dict[str, Decimal] = {"GBP": Decimal(1), "EUR": Decimal("1.15"), "USD": Decimal("1.60")}

# Best Buy roots that are store information, promotions or test pages rather than merchandise.
EXCLUDED_ROOTS = frozenset({
    "AF TestingTemplate", "Best Buy", "Best Buy News", "Customer Service", "Featured Offers", "Geek Squad",
    "How It Works - Digital Library", "Laptop & Tablet Buying Guides", "Marketplace Deals", "More Categories",
    "My Best Buy Get 10", "Reviews & Ratings", "Windows Store TEST BUILD",
})

# Giftware keywords -> a Best Buy leaf category; the first rule with a matching word wins.
DEFAULT_CATEGORY = "abcat0020004"  # Gift Ideas > Unique Gifts
CATEGORY_RULES: tuple[tuple[frozenset[str], str], ...] = tuple((frozenset(words.split()), ref) for words, ref in (
    ("CHRISTMAS XMAS ADVENT SANTA REINDEER SNOWFLAKE SNOWMAN BAUBLE BAUBLES NATIVITY HOLLY WREATH",
     "pcmcat748301108075"),  # Gift Ideas > Stocking Stuffers
    ("EASTER EGG EGGS CHICK CHICKS BUNNY", "pcmcat748300579354"),  # Gift Ideas > Family Gift Ideas
    ("NECKLACE NECKL BRACELET EARRINGS PENDANT BROOCH DIAMANTE", "pcmcat84000050001"),  # Gift Ideas > Anniversaries
    ("BABY CHRISTENING BIB MOBILE", "pcmcat84000050004"),  # Gift Ideas > Baby Showers
    ("WEDDING CONFETTI", "pcmcat84000050000"),  # Gift Ideas > Weddings
    ("BIRTHDAY PARTY BUNTING BALLOON BALLOONS GARLAND", "pcmcat94300050028"),  # Gift Ideas > Birthdays
    ("CLOCK", "pcmcat253700050027"),  # Connected Home & Housewares > Furniture & Decor > Clocks
    ("MIRROR", "pcmcat748300654909"),  # ... > Bedroom > Bedroom Furniture > Bedroom Mirrors
    ("MUG MUGS CUP CUPS TEACUP TEACUPS SAUCER BEAKER FLASK", "pcmcat248800050005"),  # Coffee & Travel Mugs
    ("GLASS GLASSES GOBLET GOBLETS TUMBLER TUMBLERS WINE", "pcmcat331200050034"),  # Kitchen Gadgets > Wine Glasses
    ("HEADPHONES", "pcmcat168000050041"),  # Audio > Headphones > Kids' Headphones
    ("PHOTO ALBUM", "pcmcat151600050058"),  # Digital Imaging Tools > Share & Show > Unique Projects & Gifts
    ("CALCULATOR", "abcat0805001"),  # Office Electronics > Calculators
    ("INCENSE FRAGRANCE BURNER OILS", "pcmcat748300687570"),  # Aromatherapy Diffusers & Oils > Diffuser Oils
    ("TEDDY PLUSH SOFT", "pcmcat240400050068"),  # Toys, Games & Drones > Stuffed Animals & Plush Toys
    ("INFLATABLE", "pcmcat250300050005"),  # Housewares > Outdoor Recreation > Pool Toys
    ("T-LIGHT T-LIGHTS TLIGHT CANDLE CANDLES CANDLEHOLDER CANDLESTICK LANTERN LAMP LAMPSHADE LIGHT LIGHTS "
     "NIGHTLIGHT", "pcmcat254000050006"),  # Household Essentials > Flashlights & Portable Lights
    ("SEWING KNITTING CROCHET CRAFT FELTCRAFT ORIGAMI PAINT PAINTING", "pcmcat338300050003"),  # Art Supplies
    ("COLOURING CRAYONS CHALK DRAWING SKETCHBOOK", "pcmcat284400050021"),  # Arts & Crafts > Drawing & Coloring
    ("JIGSAW PUZZLE PUZZLES", "pcmcat274200050009"),  # Games, Puzzles & Cards > Puzzles
    ("PLAYING", "pcmcat299300050014"),  # Cards, Poker & Casino Games > Playing Cards & Games
    ("GAME GAMES DOMINOES DOMINO SNAKES LUDO", "pcmcat254300050007"),  # Games, Puzzles & Cards > Board Games
    ("PEN PENS PENCIL PENCILS ERASER ERASERS RUBBER SHARPENER SHARPENERS MARKER", "pcmcat331200050013"),  # Pencils
    ("STICKER STICKERS LABEL LABELS", "abcat0808004"),  # Paper > Labels & Stickers
    ("KEYRING KEY-RING KEY-CHAINS KEYCHAIN TAG TAGS", "pcmcat271700050001"),  # Luggage Accessories > Luggage Tags
    ("NOTEBOOK NOTEBOOKS NOTEPAD BOOK JOURNAL CALENDAR DIARY SCISSOR SCISSORS RULER STAPLER PUNCH",
     "pcmcat275600050005"),  # Desk Supplies & Fasteners
    ("CARD CARDS WRAP ENVELOPE ENVELOPES PAPER TISSUE TISSUES RIBBON RIBBONS TAPE",
     "pcmcat275600050008"),  # Office & School Supplies > Envelopes & Shipping Supplies
    ("CAKE CAKES CAKESTAND BAKING CUTLERY PLATE PLATES BOWL BOWLS JUG PAN TRAY LUNCH KITCHEN PANTRY SPOON "
     "SPOONS TEASPOONS DISH DISHES NAPKIN NAPKINS PLACEMATS COASTER COASTERS APRON BISCUIT JAM DOILY DOILIES "
     "JAR JARS TEAPOT COOKIE CUTTER CUTTERS OVEN TOWELS TEA COFFEE",
     "pcmcat226900050013"),  # Cookware, Bakeware & Cutlery > Cookware
    ("DOLL DOLLS DOLLHOUSE", "pcmcat284400050042"),  # Dolls & Dollhouses > Doll Clothes & Accessories
    ("SIGN FRAME PICTURE PRINT PRINTS PLAQUE POSTER CANVAS DECORATION DECORATIONS ORNAMENT",
     "pcmcat286300050020"),  # Furniture & Decor > Wall Art
    ("CUSHION CUSHIONS THROW BLANKET PILLOW QUILT WARMER", "pcmcat271700050009"),  # Travel Blankets & Pillows
    ("BATHROOM SOAP TOWEL WASHBAG SPONGE BATH", "pcmcat271700050006"),  # Travel Accessories > Toiletry Kits
    ("UMBRELLA PARASOL", "pcmcat207200050010"),  # Patio Furniture & Decor > Patio Umbrellas & Bases
    ("GARDEN BIRD BIRDS BIRDHOUSE PLANT PLANTER WATERING HERB FEEDER GNOME", "pcmcat207200050009"),  # Bird Baths
    ("PICNIC BEACH HAMPER", "pcmcat273800050032"),  # Sports & Outdoor Recreation > Coolers
    ("WALLET PURSE PASSPORT", "pcmcat271700050007"),  # Travel Accessories > Travel Wallets
    ("BAG BAGS HANDBAG TOTE SHOPPER LUGGAGE RUCKSACK BACKPACK", "pcmcat248300050003"),  # Luggage, Bags & Travel
    ("STORAGE BOX BOXES BASKET TIDY ORGANISER TIN TINS TRINKET HOOK HOOKS HANGER HANGERS RACK BIN CRATE",
     "pcmcat275600050004"),  # Office & School Supplies > Organizers & Storage
    ("CABINET CHEST DRAWER DRAWERS SIDEBOARD SHELF SHELVES WARDROBE TABLE CHAIR STOOL DESK",
     "pcmcat272800050014"),  # Furniture & Decor > Bedroom > Bedroom Furniture > Dressers
    ("TOY TOYS SPACEBOY DINOSAUR SOLDIER SOLDIERS KITE CHILDRENS CHILDS KIDS", "pcmcat274100050002"),  # Educ. Toys
))

# Variants: clothing comes in sizes, "assorted" items in colours (sku = StockCode + suffix).
SIZE_WORDS = frozenset(
    ("APRON", "APRONS", "SLIPPERS", "GLOVES", "HAT", "HATS", "SCARF", "T-SHIRT", "SOCKS", "JUMPER", "WELLIES", "BOOTS")
)
COLOUR_WORDS = frozenset(("ASSORTED", "ASSTD", "ASST"))
SIZES: tuple[tuple[str, Decimal], ...] = (  # size, price factor
    ("S", Decimal(1)), ("M", Decimal(1)), ("L", Decimal("1.05")), ("XL", Decimal("1.10")),
)
COLOURS = ("Red", "Blue", "Green")


class DemoDataMissing(LookupError):
    """The open data files the demo store is built from are not where we look for them."""


def demo_data_dir() -> Path:
    """Where the data sets live: $MERCATO_DEMO_DATA_DIR, else ../shared/data beside the project."""
    configured = os.environ.get("MERCATO_DEMO_DATA_DIR")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"


def demo_data_available(data_dir: Path | None = None) -> bool:
    directory = data_dir or demo_data_dir()
    return (directory / CATEGORIES_FILE).is_file() and (directory / RETAIL_FILE).is_file()


# ---- text and money -----------------------------------------------------------------------------

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_TOKEN = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")


def slugify(value: str, max_length: int = 80) -> str:
    """ASCII, lower case, words joined by single hyphens (so a slug never contains "--")."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "item"


def title_case(value: str) -> str:
    """"WHITE HANGING HEART T-LIGHT HOLDER" -> "White Hanging Heart T-Light Holder" ("Dolly's", not "Dolly'S")."""
    return _WORD.sub(lambda match: match.group(0).capitalize(), " ".join(value.lower().split()))


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units -> integer minor units, half up (prices in the data have at most 3 decimals)."""
    return int(amount.scaleb(exponent(currency)).to_integral_value(rounding=ROUND_HALF_UP))


def charm_price(amount: Decimal, currency: str) -> int:
    """The ".99" price nearest a converted major-unit amount, in minor units.

    From 1 up, the nearest whole unit less one cent (3.39 -> 2.99, 3.60 -> 3.99); below 1, the
    nearest tenth less one cent (0.42 -> 0.39, 0.05 -> 0.09). Never zero.
    """
    digits = exponent(currency)
    if digits == 0:
        return max(1, int(amount.to_integral_value(rounding=ROUND_HALF_UP)))
    cent = Decimal(1).scaleb(-digits)
    if amount >= 1:
        return max(int((amount + cent).to_integral_value(rounding=ROUND_HALF_UP).scaleb(digits)) - 1, 1)
    tenths = int((amount + cent).scaleb(1).to_integral_value(rounding=ROUND_HALF_UP))
    return int(Decimal(max(tenths, 1)).scaleb(digits - 1)) - 1


@lru_cache(maxsize=1 << 16)
def price_in(gbp_minor: int, currency: str) -> int:
    """A GBP price (minor units) in `currency`: as is for GBP, else converted and charm-rounded."""
    if currency == "GBP":
        return gbp_minor
    return charm_price(Decimal(gbp_minor).scaleb(-exponent("GBP")) * RATES_FROM_GBP[currency], currency)


def scale_price(gbp_minor: int, factor: Decimal) -> int:
    return max(1, int((Decimal(gbp_minor) * factor).to_integral_value(rounding=ROUND_HALF_UP)))


def claim_slug(base: str, taken: set[str], *alternatives: str) -> str:
    """The first of `base`, `alternatives`, `base-2`, `base-3`, ... not in `taken` (which it joins)."""
    for candidate in (base, *alternatives):
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    taken.add(f"{base}-{n}")
    return f"{base}-{n}"


# ---- the data sets ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryNode:
    ref: str  # Best Buy id
    name: str
    parent_ref: str | None
    position: int  # among its siblings, in Best Buy's order
    depth: int


@cache
def load_category_tree(path: Path) -> tuple[CategoryNode, ...]:
    """The Best Buy tree in pre-order (every parent before its children), merchandise roots only."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        entries: list[dict[str, Any]] = json.load(handle)
    names: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    seen_order: dict[str, int] = {}
    child_order: dict[str, dict[str, int]] = {}

    def clean(name: Any) -> str:
        return " ".join(str(name).split())[:200] if isinstance(name, str) else ""

    kept = [
        entry for entry in entries
        if entry.get("path") and clean(entry["path"][0].get("name")) not in EXCLUDED_ROOTS
        and all(clean(step.get("name")) for step in entry["path"])
    ]
    for entry in kept:
        ref = entry["id"]
        names[ref] = clean(entry.get("name")) or clean(entry["path"][-1]["name"])
        parents[ref] = entry["path"][-2]["id"] if len(entry["path"]) > 1 else None
        seen_order.setdefault(ref, len(seen_order))
        child_order[ref] = {sub["id"]: i for i, sub in enumerate(entry.get("subCategories") or [])}
    for entry in kept:  # ancestors missing from the export, rebuilt from their descendants' paths
        for i, step in enumerate(entry["path"][:-1]):
            if step["id"] not in names:
                names[step["id"]] = clean(step["name"])
                parents[step["id"]] = entry["path"][i - 1]["id"] if i else None
                seen_order.setdefault(step["id"], len(seen_order))

    children: dict[str | None, list[str]] = defaultdict(list)
    for ref, parent in parents.items():
        children[parent].append(ref)
    for parent, refs in children.items():
        order = child_order.get(parent or "", {})
        refs.sort(key=lambda ref: (order.get(ref, len(order)), seen_order[ref]))

    nodes: list[CategoryNode] = []
    stack: list[tuple[str, int, int]] = [(ref, i, 0) for i, ref in reversed(list(enumerate(children[None])))]
    while stack:  # iterative pre-order walk from the roots; anything unreachable (a cycle) is dropped
        ref, position, depth = stack.pop()
        nodes.append(CategoryNode(ref, names[ref], parents[ref], position, depth))
        stack.extend((child, i, depth + 1) for i, child in reversed(list(enumerate(children[ref]))))
    return tuple(nodes)


@dataclass(frozen=True, slots=True)
class DemoItem:
    stock_code: str
    description: str  # as in the data (upper case)
    name: str
    price_gbp: int  # minor units: the median of its positive unit prices
    invoice_lines: int
    first_sold: datetime
    tokens: frozenset[str] = field(repr=False)

    @property
    def variant_kind(self) -> str:
        """"size", "colour", "size+colour" or "" (one variant)."""
        kinds = [kind for kind, words in (("size", SIZE_WORDS), ("colour", COLOUR_WORDS)) if self.tokens & words]
        return "+".join(kinds)


_STOCK_CODE = re.compile(r"\d{5}[A-Za-z]{0,3}")  # others are postage, fees, vouchers, adjustments


@cache
def load_items(path: Path) -> tuple[DemoItem, ...]:
    """One item per product StockCode with a description and a positive price, by stock code."""
    descriptions: dict[str, Counter[str]] = defaultdict(Counter)
    prices: dict[str, list[Decimal]] = defaultdict(list)
    lines: Counter[str] = Counter()
    first_sold: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        invoice, code_at, desc_at, price_at, date_at = (
            col["InvoiceNo"], col["StockCode"], col["Description"], col["UnitPrice"], col["InvoiceDate"])
        for row in reader:
            raw_code = row[code_at]
            if row[invoice].startswith("C") or not _STOCK_CODE.fullmatch(raw_code):
                continue  # cancellations and non-product lines
            code = raw_code.upper()
            lines[code] += 1
            description = " ".join(row[desc_at].split())
            # Real descriptions are upper case; lower-case ones are stock notes ("damaged", "check").
            if description and description.upper() == description and any(c.isalpha() for c in description):
                descriptions[code][description] += 1
            unit_price = Decimal(row[price_at])
            if unit_price > 0:
                prices[code].append(unit_price)
            sold = row[date_at]
            if code not in first_sold or sold < first_sold[code]:
                first_sold[code] = sold
    items: list[DemoItem] = []
    for code in sorted(lines):
        if not descriptions[code] or not prices[code]:
            continue
        description = min(descriptions[code].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        price = to_minor(statistics.median(prices[code]), "GBP")
        if price <= 0:
            continue
        items.append(DemoItem(
            stock_code=code, description=description, name=title_case(description)[:300], price_gbp=price,
            invoice_lines=lines[code],
            first_sold=datetime.strptime(first_sold[code], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC),
            tokens=frozenset(_TOKEN.findall(description)),
        ))
    return tuple(items)


def category_ref_for(item: DemoItem, leaves: frozenset[str]) -> str:
    """The Best Buy leaf an item goes in: the first keyword rule that matches (and names a leaf)."""
    for words, ref in CATEGORY_RULES:
        if item.tokens & words and ref in leaves:
            return ref
    return DEFAULT_CATEGORY


@dataclass(frozen=True, slots=True)
class VariantSpec:
    suffix: str  # "" or "-S", "-RED", "-RED-S"
    name: str
    options: dict[str, str]
    factor: Decimal  # price relative to the product's base price


def variant_specs(item: DemoItem) -> list[VariantSpec]:
    kind = item.variant_kind
    sizes: Sequence[tuple[str, Decimal] | None] = SIZES if "size" in kind else [None]
    colours: Sequence[str | None] = COLOURS if "colour" in kind else [None]
    specs: list[VariantSpec] = []
    for colour in colours:
        for size in sizes:
            options: dict[str, str] = {}
            if colour:
                options["colour"] = colour
            if size:
                options["size"] = size[0]
            suffix = "".join(f"-{value.upper()}" for value in options.values())
            specs.append(VariantSpec(suffix, " / ".join(options.values()) or item.name, options,
                                     size[1] if size else Decimal(1)))
    return specs


# ---- writing ------------------------------------------------------------------------------------


async def copy_rows(session: AsyncSession, table: str, columns: Sequence[str], records: Iterable[Sequence[Any]]) -> int:
    """COPY `records` into `table` on the session's connection, inside its transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # the asyncpg connection
    if not driver.is_in_transaction():  # the SQLAlchemy adapter begins lazily, on its first statement
        await session.execute(text("SELECT 1"))
    status: str = await driver.copy_records_to_table(table, columns=list(columns), records=records)
    return int(status.rsplit(" ", 1)[-1])


PRODUCT_COLUMNS = ("id", "slug", "name", "description", "status", "category_id", "tags", "attributes",
                   "published_at", "rating_avg", "rating_count", "popularity", "version", "product_type_id")

# Demo products carry where they came from as attributes of their own product type, so they are
# well-formed catalogue data (an export of the demo store imports back as it is).
DEMO_TYPE_SLUG = "demo-item"
_DEMO_ATTRIBUTES = (("source", "Data source", "text"), ("stock_code", "Stock code", "text"), ("seq", "Copy", "number"))


async def demo_product_type(session: AsyncSession) -> uuid.UUID:
    """The demo items' product type (and its attributes), created on first use."""
    for code, name, type_ in _DEMO_ATTRIBUTES:
        await session.execute(
            pg_insert(Attribute).values(id=new_id(), code=code, name=name, type=type_, filterable=False)
            .on_conflict_do_nothing(index_elements=["code"])
        )
    await session.execute(
        pg_insert(ProductType).values(
            id=new_id(), name="Demo item", slug=DEMO_TYPE_SLUG, variant_options=[],
            attributes=[{"code": code, "required": False} for code, _, _ in _DEMO_ATTRIBUTES],
        ).on_conflict_do_nothing(index_elements=["slug"])
    )
    found: uuid.UUID | None = await session.scalar(select(ProductType.id).where(ProductType.slug == DEMO_TYPE_SLUG))
    if found is None:
        raise LookupError(f"product type {DEMO_TYPE_SLUG!r} could not be created")
    return found
VARIANT_COLUMNS = ("id", "product_id", "sku", "name", "options", "tax_class", "track_inventory", "min_quantity",
                   "position")
PRICE_COLUMNS = ("id", "variant_id", "channel_id", "amount", "currency")
LISTING_COLUMNS = ("product_id", "channel_id", "slug", "name", "category_path", "brand_id", "min_price", "currency",
                   "in_stock", "thumbnail", "rating_avg", "popularity", "published_at")


async def price_channels(session: AsyncSession) -> list[tuple[uuid.UUID, str]]:
    """(id, currency) of the channels the demo prices (those selling in a currency we have a rate for)."""
    page = await channels.list_channels(session, limit=100, cursor=None)
    found = [(channel.id, channel.currency) for channel in page.items if channel.currency in RATES_FROM_GBP]
    if not found:
        raise LookupError("No channel sells in GBP, EUR or USD: seed the base channels first.")
    return found


async def catalogue_has_products(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(Product.id.is_not(None)))))


@dataclass
class SeedRows:
    """Rows to COPY: products, their variants and prices (and, for bulk loads, listing rows)."""

    products: list[tuple[Any, ...]] = field(default_factory=list)
    variants: list[tuple[Any, ...]] = field(default_factory=list)
    prices: list[tuple[Any, ...]] = field(default_factory=list)
    listings: list[tuple[Any, ...]] = field(default_factory=list)
    make_id: Callable[[], Any] = new_id  # anything with `.bytes` encodes as a uuid (bulk loads pass a faster one)
    product_type_id: uuid.UUID | None = None

    def add_product(self, product_id: Any, slug: str, name: str, description: str,
                    category_id: uuid.UUID | None, attributes: dict[str, Any], published_at: datetime,
                    popularity: int) -> None:
        # Descriptions are HTML, sanitised as every other writer stores them ("&" becomes "&amp;").
        self.products.append((product_id, slug, name, nh3.clean(description), "published", category_id, [],
                              json.dumps(attributes), published_at, 0, 0, popularity, 1, self.product_type_id))

    def add_variant(self, product_id: Any, sku: str, name: str, options: dict[str, str], position: int,
                    gbp_minor: int, channel_list: Sequence[tuple[uuid.UUID, str]]) -> list[int]:
        """Add a variant priced in every channel of `channel_list`; returns the amounts, in that order."""
        variant_id = self.make_id()
        self.variants.append((variant_id, product_id, sku, name, json.dumps(options), "standard", False, 1,
                              position))
        amounts = [price_in(gbp_minor, currency) for _, currency in channel_list]
        for (channel_id, currency), amount in zip(channel_list, amounts, strict=True):
            self.prices.append((self.make_id(), variant_id, channel_id, amount, currency))
        return amounts

    async def write(self, session: AsyncSession) -> int:
        written = await copy_rows(session, "products", PRODUCT_COLUMNS, self.products)
        written += await copy_rows(session, "variants", VARIANT_COLUMNS, self.variants)
        written += await copy_rows(session, "variant_prices", PRICE_COLUMNS, self.prices)
        if self.listings:
            written += await copy_rows(session, "product_listings", LISTING_COLUMNS, self.listings)
        return written


async def _seed_categories(session: AsyncSession, tree: Sequence[CategoryNode]) -> tuple[int, dict[str, uuid.UUID]]:
    """Insert the tree's missing categories; returns (rows added, Best Buy id -> our id).

    Slugs come from names, shallow categories first so that "audio" is the root, not a brand's
    sub-category; a clash takes the parent's slug as a prefix, then a number.
    """
    existing = {
        ref: (category_id, path, depth, slug)
        for ref, category_id, path, depth, slug in (await session.execute(
            select(Category.external_ref, Category.id, Category.path, Category.depth, Category.slug)
            .where(Category.external_ref.is_not(None))
        ))
    }
    placed: dict[str, tuple[uuid.UUID, str, int]] = {}  # ref -> (id, path, depth)
    new: list[CategoryNode] = []
    for node in tree:  # pre-order: a parent is placed before its children
        parent = placed.get(node.parent_ref) if node.parent_ref else None
        if node.ref in existing:
            placed[node.ref] = existing[node.ref][:3]
        elif parent is not None or node.parent_ref is None:
            category_id = new_id()
            placed[node.ref] = (
                (category_id, f"{parent[1]}/{category_id}", parent[2] + 1) if parent else
                (category_id, str(category_id), 0)
            )
            new.append(node)
    slugs = {ref: values[3] for ref, values in existing.items()}
    taken = set((await session.scalars(select(Category.slug))).all())
    for node in sorted(new, key=lambda node: placed[node.ref][2]):  # stable: by depth, then tree order
        base = slugify(node.name)
        parent_slug = slugs.get(node.parent_ref or "")
        slugs[node.ref] = claim_slug(base, taken, *([slugify(f"{parent_slug} {base}", 150)] if parent_slug else []))
    rows = [
        (placed[node.ref][0], placed[node.parent_ref][0] if node.parent_ref else None, node.name, slugs[node.ref],
         placed[node.ref][1], placed[node.ref][2], node.position, "", True, node.ref)
        for node in new
    ]
    added = await copy_rows(session, "categories", (
        "id", "parent_id", "name", "slug", "path", "depth", "position", "description", "is_active", "external_ref",
    ), rows)
    return added, {ref: value[0] for ref, value in placed.items()}


async def seed_demo(session: AsyncSession, *, data_dir: Path | None = None) -> int:
    """Build the demo catalogue (categories, products, variants, channel prices, listings).

    The demo goes into an empty catalogue only: when there is any product (the demo's, written in
    one transaction, or a real shop's) it adds nothing, after one EXISTS query and before reading
    any file, so `make run` stays fast and never mixes demo goods into a real catalogue. Writes in
    the session's transaction, never commits. Returns rows added. Raises DemoDataMissing when the
    data sets are not found.
    """
    if await catalogue_has_products(session):
        return 0
    directory = data_dir or demo_data_dir()
    if not demo_data_available(directory):
        raise DemoDataMissing(f"The demo data sets are not in {directory} (set MERCATO_DEMO_DATA_DIR).")
    tree = load_category_tree(directory / CATEGORIES_FILE)
    items = load_items(directory / RETAIL_FILE)
    channel_list = await price_channels(session)

    added, category_ids = await _seed_categories(session, tree)
    parents = {node.parent_ref for node in tree}
    leaves = frozenset(node.ref for node in tree if node.ref not in parents and node.ref in category_ids)

    skus = [f"{item.stock_code}{spec.suffix}" for item in items for spec in variant_specs(item)]
    taken_skus = set((await session.scalars(select(Variant.sku).where(Variant.sku.in_(skus)))).all())
    taken_slugs = set((await session.scalars(select(Product.slug))).all())
    rows = SeedRows(product_type_id=await demo_product_type(session))
    for item in items:
        specs = variant_specs(item)
        if any(f"{item.stock_code}{spec.suffix}" in taken_skus for spec in specs):
            continue
        product_id = new_id()
        base = slugify(item.name)
        slug = claim_slug(base, taken_slugs, f"{base}-{item.stock_code.lower()}")
        rows.add_product(
            product_id, slug, item.name,
            f"{item.name}. From the UCI Online Retail data set (stock code {item.stock_code}).",
            category_ids.get(category_ref_for(item, leaves)) or category_ids.get(DEFAULT_CATEGORY),
            {"source": SOURCE, "stock_code": item.stock_code}, item.first_sold, item.invoice_lines,
        )
        for position, spec in enumerate(specs):
            rows.add_variant(product_id, f"{item.stock_code}{spec.suffix}", spec.name, spec.options, position,
                             scale_price(item.price_gbp, spec.factor), channel_list)
    added += await rows.write(session)
    await listing.refresh(session, None)
    return added
