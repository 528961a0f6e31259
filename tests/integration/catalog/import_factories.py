"""Data for import/export tests: a small taxonomy, generated import files with known bad rows, and a
checksum of everything an import may write."""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.ids import new_id
from mercato.modules import channels
from mercato.modules.catalog.import_rows import header
from mercato.modules.catalog.models import Attribute, Brand, Category, ProductType

RETAIL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "online-retail" / \
    "online-retail-2010-12_2011-10.csv.gz"
CATEGORIES = ("home-decor", "kitchen", "gifts", "lighting", "stationery")
BRANDS = ("acme", "globex", "initech")
MATERIALS = ("cotton", "wood", "metal", "glass", "paper")
COLUMNS = header(["material", "width"], ["colour"], ["web-eu", "web-us"])


async def make_taxonomy(session: AsyncSession) -> None:
    """Channels, categories, brands and a `homeware` product type (material: select, required;
    width: number in cm) that the generated files refer to."""
    await channels.seed_base(session)
    for slug in CATEGORIES:
        category_id = new_id()
        session.add(Category(id=category_id, name=slug.title(), slug=slug, path=str(category_id), depth=0,
                             position=0, is_active=True, description=""))
    for slug in BRANDS:
        session.add(Brand(name=slug.title(), slug=slug))
    session.add(Attribute(code="material", name="Material", type="select", filterable=True,
                          options=[{"value": m, "label": m.title()} for m in MATERIALS]))
    session.add(Attribute(code="width", name="Width", type="number", unit="cm", options=[], filterable=False))
    session.add(ProductType(name="Homeware", slug="homeware", variant_options=["colour"],
                            attributes=[{"code": "material", "required": True}, {"code": "width", "required": False}]))
    await session.flush()


def retail_items(limit: int = 5000) -> list[tuple[str, str, int]]:
    """(stock code, description, price in cents) of distinct items of the UCI online retail data set
    (CC BY 4.0), or synthetic ones when the file is not there."""
    items: dict[str, tuple[str, str, int]] = {}
    if RETAIL.exists():
        with gzip.open(RETAIL, "rt", encoding="utf-8", errors="replace") as source:
            for row in csv.DictReader(source):
                code, description = row["StockCode"].strip(), row["Description"].strip()
                try:
                    cents = round(float(row["UnitPrice"]) * 100)
                except ValueError:
                    continue
                if description and 0 < cents < 100_000 and code not in items and re.fullmatch(r"[0-9A-Za-z]+", code):
                    items[code] = (code, description, cents)
                    if len(items) >= limit:
                        break
    if not items:
        items = {f"X{i}": (f"X{i}", f"Synthetic item {i}", 100 + i) for i in range(limit)}
    return list(items.values())


def _slug(text_: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text_.lower()).strip("-") or "item"


@dataclass
class Generated:
    rows: int
    bad: dict[int, str]  # row -> the field its error names
    products: int  # products with at least one good row
    good_rows: int


def generate_rows(n_rows: int, *, bad_every: int = 100) -> tuple[list[dict[str, str]], Generated]:
    """`n_rows` rows (1-3 variants per product); every `bad_every`-th row (offset half way) is bad in
    one of five ways, cycling: price, category, SKU of another product, name, attribute value."""
    items = retail_items()
    rows: list[dict[str, str]] = []
    bad: dict[int, str] = {}
    good_slugs: set[str] = set()
    last_good: tuple[str, str] | None = None  # (sku, slug) of a good row
    product = 0
    while len(rows) < n_rows:
        code, description, cents = items[product % len(items)]
        round_ = product // len(items)
        slug = f"{_slug(description)}-{product}"
        name = description.title() + (f" ({round_ + 1})" if round_ else "")
        other_product = last_good  # a good row of an earlier product, for the duplicate-SKU case
        for k in range(1 + product % 3):
            if len(rows) >= n_rows:
                break
            row_no = len(rows) + 1
            row = {c: "" for c in COLUMNS}
            row.update({
                "product_slug": slug, "product_name": name,
                "description": f"<p>{description.capitalize()}, from the online retail catalogue.</p>",
                "status": "published" if product % 2 else "draft", "brand": BRANDS[product % len(BRANDS)],
                "category": CATEGORIES[product % len(CATEGORIES)], "product_type": "homeware",
                "tags": "retail;" + ("gift" if product % 4 == 0 else "home"),
                "attr.material": MATERIALS[product % len(MATERIALS)],
                "attr.width": str(10 + product % 40) if product % 3 else "",
                "sku": f"{code}-{product}-{k}", "variant_name": f"{name} / {('red', 'green', 'blue')[k]}",
                "option.colour": ("red", "green", "blue")[k], "gtin": "", "weight_grams": str(50 + k * 25),
                "tax_class": "standard", "track_inventory": "false" if k == 2 else "true",
                "min_quantity": "1", "max_quantity": "" if k else "24",
                "price.web-eu": str(cents + k * 10), "price.web-us": str(round((cents + k * 10) * 1.1)),
                "compare_at.web-eu": str(cents * 2) if product % 5 == 0 else "",
            })
            if row_no % bad_every == bad_every // 2:
                kind = (row_no // bad_every) % 5
                if kind == 0:
                    row["price.web-eu"], bad[row_no] = f"{cents / 100:.2f}", "price.web-eu"
                elif kind == 1:
                    row["category"], bad[row_no] = "no-such-category", "category"
                elif kind == 2 and other_product is not None:
                    row["sku"], bad[row_no] = other_product[0], "sku"
                elif kind == 3:
                    row["product_name"], bad[row_no] = "", "product_name"
                else:
                    row["attr.material"], bad[row_no] = "plastic", "attr.material"
            if row_no not in bad:
                good_slugs.add(slug)
                last_good = (row["sku"], slug)
            rows.append(row)
        product += 1
    return rows, Generated(len(rows), bad, len(good_slugs), len(rows) - len(bad))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def csv_bytes(rows: list[dict[str, Any]], columns: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


_CHECKSUM = """
SELECT
  (SELECT md5(coalesce(string_agg(concat_ws('|', id, slug, name, description, status, brand_id, category_id,
       product_type_id, tags::text, attributes::text, version, published_at, updated_at), ',' ORDER BY id), ''))
   FROM products),
  (SELECT md5(coalesce(string_agg(concat_ws('|', id, product_id, sku, name, options::text, gtin, weight_grams,
       tax_class, track_inventory, min_quantity, max_quantity, position, updated_at), ',' ORDER BY id), ''))
   FROM variants),
  (SELECT md5(coalesce(string_agg(concat_ws('|', id, variant_id, channel_id, amount, currency, compare_at_amount),
       ',' ORDER BY id), '')) FROM variant_prices),
  (SELECT count(*) FROM product_revisions),
  (SELECT count(*) FROM product_listings)
"""


async def checksum(session: AsyncSession) -> tuple[Any, ...]:
    """Everything an import writes, fingerprinted (ids, versions and updated_at included)."""
    return tuple((await session.execute(text(_CHECKSUM))).one())


_CONTENT = """
SELECT p.slug, p.name, p.description, p.status, b.slug, c.slug, t.slug, p.tags, p.attributes,
       v.sku, v.name, v.options, v.gtin, v.weight_grams, v.tax_class, v.track_inventory, v.min_quantity,
       v.max_quantity, v.position,
       (SELECT jsonb_agg(jsonb_build_array(ch.code, vp.amount, vp.currency, vp.compare_at_amount) ORDER BY ch.code)
        FROM variant_prices vp JOIN channels ch ON ch.id = vp.channel_id WHERE vp.variant_id = v.id)
FROM variants v JOIN products p ON p.id = v.product_id
LEFT JOIN brands b ON b.id = p.brand_id LEFT JOIN categories c ON c.id = p.category_id
LEFT JOIN product_types t ON t.id = p.product_type_id
ORDER BY v.sku
"""


async def content(session: AsyncSession) -> list[tuple[Any, ...]]:
    """The catalogue by value (no ids or times): what an export/import round trip must keep."""
    return [tuple(row) for row in (await session.execute(text(_CONTENT))).all()]
