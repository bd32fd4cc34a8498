"""What the demo customers do: web-shop orders and point-of-sale receipts with their lines, over a small catalog.

Money is handled in integer cents throughout so that a receipt's total is exactly the sum of its lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custdim.demo.people import AS_OF_S, DAY_S, IntArray, fmt_datetime

BoolArray = npt.NDArray[np.bool_]

_HISTORY_S = 3 * 365 * DAY_S  # activities cover the last three years
_MAX_BASKET_CENTS = 40_000  # keeps receipts within the 5-400 range of a typical store visit
_CATALOG_SEED = 20_240_601  # the catalog is the same for every dataset seed, like a real product master
_N_STORES = 30

# Category -> (items, lowest and highest list price in dollars).
_CATEGORIES: dict[str, tuple[tuple[str, ...], int, int]] = {
    "apparel": (("Crew Neck T-Shirt", "Oxford Shirt", "Slim Fit Jeans", "Chino Pants", "Wool Sweater",
                 "Hooded Sweatshirt", "Denim Jacket", "Summer Dress", "Pleated Skirt", "Polo Shirt"), 12, 120),
    "shoes": (("Running Shoes", "Leather Boots", "Canvas Sneakers", "Sandals", "Loafers", "Hiking Boots",
               "Slip-On Shoes", "Trail Runners"), 35, 170),
    "outdoor": (("Daypack 20L", "Two-Person Tent", "Sleeping Bag", "Trekking Poles", "Headlamp", "Water Bottle",
                 "Fleece Jacket", "Rain Shell"), 10, 240),
    "beauty": (("Face Cream", "Lip Balm", "Shampoo", "Conditioner", "Eau de Toilette", "Body Lotion", "Mascara",
                "Sunscreen SPF 50"), 6, 65),
    "home": (("Scented Candle", "Throw Blanket", "Towel Set", "Ceramic Mug", "Cushion Cover", "Table Lamp",
              "Picture Frame", "Storage Basket"), 6, 95),
    "accessories": (("Leather Belt", "Wool Scarf", "Baseball Cap", "Sunglasses", "Tote Bag", "Wallet", "Beanie",
                     "Umbrella"), 8, 85),
    "sports": (("Yoga Mat", "Training Shorts", "Sports Bra", "Running Tights", "Gym Bag", "Resistance Bands",
                "Swim Goggles", "Cycling Gloves"), 8, 90),
    "kids": (("Kids T-Shirt", "Kids Rain Boots", "Kids Backpack", "Baby Bodysuit", "Kids Pajamas", "Kids Sneakers",
              "Plush Bear", "Kids Hoodie"), 6, 55),
}  # fmt: skip
_BRANDS: dict[str, tuple[str, ...]] = {
    "Northfield": ("apparel", "accessories"),
    "Summit Trail": ("outdoor", "shoes"),
    "Harbor Lane": ("home",),
    "Lumière": ("beauty",),
    "Stride": ("shoes", "sports"),
    "Little Fox": ("kids",),
    "Blue Mesa": ("apparel", "shoes"),
    "Kestrel": ("outdoor", "sports"),
    "Maison Claire": ("home", "beauty"),
    "Urban Thread": ("apparel", "accessories"),
    "Ridgeway": ("outdoor", "apparel"),
    "Bloom & Co": ("beauty", "home"),
    "Juniper Kids": ("kids", "apparel"),
    "Velo Sport": ("sports", "accessories"),
    "Cedar & Pine": ("home", "outdoor"),
}
_COLORS = ("Navy", "Black", "White", "Olive", "Sand", "Red", "Grey", "Sky Blue", "Forest", "Charcoal")


@dataclass(frozen=True)
class Catalog:
    """Products as parallel arrays (index = product number)."""

    product_id: list[str]
    name: list[str]
    brand: list[str]
    category: list[str]
    price_cents: IntArray
    popularity: npt.NDArray[np.float64]
    """Sampling probabilities; a few products sell far more than the rest, as in any store."""


def build_catalog(size: int = 150) -> Catalog:
    """About ``size`` products over 15 brands and 8 categories, identical for every dataset."""
    rng = np.random.default_rng(_CATALOG_SEED)
    combos = [(b, c, item) for b, cats in _BRANDS.items() for c in cats for item in _CATEGORIES[c][0]]
    chosen = sorted(rng.choice(len(combos), size=min(size, len(combos)), replace=False).tolist())
    ids, names, brands, cats, prices = [], [], [], [], []
    for k, j in enumerate(chosen):
        brand, cat, item = combos[j]
        lo, hi = _CATEGORIES[cat][1], _CATEGORIES[cat][2]
        dollars = int(rng.integers(lo, hi + 1))
        ids.append(f"SKU{10_001 + k}")
        names.append(f"{brand} {item} {_COLORS[int(rng.integers(0, len(_COLORS)))]}")
        brands.append(brand)
        cats.append(cat)
        prices.append(dollars * 100 - (1 if rng.random() < 0.7 else 0))  # mostly "charm" prices like 24.99
    weights = 1.0 / np.arange(1, len(ids) + 1) ** 0.9
    popularity = rng.permutation(weights / weights.sum())
    return Catalog(ids, names, brands, cats, np.array(prices, dtype=np.int64), popularity)


def fmt_cents(cents: IntArray) -> list[str]:
    """Integer cents -> ``"12.30"``."""
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def make_ids(prefix: str, count: int, width: int) -> list[str]:
    """``prefix`` + zero-padded 1..count; the width grows if ``count`` needs more digits."""
    w = max(width, len(str(count)))
    return [f"{prefix}{i:0{w}d}" for i in range(1, count + 1)]


def make_orders(
    account_ids: list[str], created_s: IntArray, orphan_rate: float, rng: np.random.Generator
) -> dict[str, list[str]]:
    """0-12 orders per account over the last three years, numbered in time order; a few point at deleted accounts.

    Customers buy at their own rate and stop buying at some point (see :func:`_purchase_times`), and each spends
    at their own level: the patterns lifetime-value models look for."""
    n = len(account_ids)
    owner, ordered = _purchase_times(np.maximum(created_s, AS_OF_S - _HISTORY_S), rng, 2.0, 12, 0, DAY_S)
    m = len(owner)
    # Some customers spend more per order than others (what Gamma-Gamma models); orders vary around their level.
    level = rng.gamma(4.0, 0.25, n)
    total = np.round(np.clip(rng.lognormal(np.log(55.0 * level[owner]), 0.6), 5.0, 400.0) * 100).astype(np.int64)
    status = np.array(["completed", "returned", "cancelled"], dtype=object)[rng.choice(3, m, p=[0.88, 0.08, 0.04])]
    channel = np.array(["web", "app"], dtype=object)[(rng.random(m) < 0.4).astype(np.int64)]

    accounts = np.array(account_ids, dtype=object)[owner]
    orphan = np.flatnonzero(rng.random(m) < orphan_rate)
    # Accounts deleted after ordering: ids past the end of the accounts table, so they can never match.
    width = len(account_ids[0]) - 1 if account_ids else 6
    gone = n + 1 + rng.integers(0, 50, len(orphan))
    accounts[orphan] = [f"A{g:0{width}d}" for g in gone.tolist()]
    return {
        "order_id": make_ids("O", m, 7),
        "account_id": accounts.tolist(),
        "ordered_at": fmt_datetime(ordered, "T"),
        "total": fmt_cents(total),
        "status": status.tolist(),
        "channel": channel.tolist(),
    }


def make_receipts(
    member_ids: list[str], joined_s: IntArray, catalog: Catalog, rng: np.random.Generator
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """0-15 store visits per member with 1-5 lines each; returns (receipts, receipt_lines) columns."""
    n = len(member_ids)
    home = rng.integers(0, _N_STORES, n)
    # Shops open 9:00-21:00: visits never fall at night.
    owner, purchased = _purchase_times(np.maximum(joined_s, AS_OF_S - _HISTORY_S), rng, 2.5, 15, 9 * 3600, 12 * 3600)
    r = len(owner)
    store = np.where(rng.random(r) < 0.75, home[owner], rng.integers(0, _N_STORES, r))

    # Some members fill bigger baskets than others.
    basket = rng.beta(2.0, 6.0, n)
    n_lines = 1 + rng.binomial(4, basket[owner])
    receipt = np.repeat(np.arange(r), n_lines)
    product = _choose_products(catalog, owner[receipt], n, rng)
    price = catalog.price_cents[product]
    discounted = (rng.random(len(receipt)) < 0.1) & (price >= 1000)
    price = np.where(discounted, np.round(price * 0.8).astype(np.int64), price)
    qty = rng.choice(3, size=len(receipt), p=[0.82, 0.13, 0.05]) + 1
    qty = np.where(price > 10_000, 1, qty)
    amount = price * qty
    # Drop the lines that would push a basket over the cap (never the first line) to keep totals realistic.
    running = np.cumsum(amount)
    starts = np.concatenate(([0], np.cumsum(n_lines)[:-1]))
    before = np.repeat(np.where(starts > 0, running[starts - 1], 0), n_lines)
    first = np.zeros(len(receipt), dtype=np.bool_)
    first[starts] = True
    keep = first | (running - before <= _MAX_BASKET_CENTS)
    receipt, product, price, qty, amount = receipt[keep], product[keep], price[keep], qty[keep], amount[keep]
    totals = np.bincount(receipt, weights=amount, minlength=r).round().astype(np.int64)

    receipt_ids = make_ids("R", r, 8)
    stores = [f"S{s + 1:02d}" for s in range(_N_STORES)]
    names, brands, cats = (np.array(a, dtype=object) for a in (catalog.name, catalog.brand, catalog.category))
    receipts = {
        "receipt_id": receipt_ids,
        "member_id": np.array(member_ids, dtype=object)[owner].tolist(),
        "store_id": [stores[s] for s in store.tolist()],
        "purchased_at": fmt_datetime(purchased, " "),
        "total": fmt_cents(totals),
    }
    lines = {
        "line_id": make_ids("L", len(receipt), 9),
        "receipt_id": np.array(receipt_ids, dtype=object)[receipt].tolist(),
        "product_id": np.array(catalog.product_id, dtype=object)[product].tolist(),
        "product": names[product].tolist(),
        "brand": brands[product].tolist(),
        "category": cats[product].tolist(),
        "quantity": qty.astype(str).tolist(),
        "price": fmt_cents(price),
    }
    return receipts, lines


def _choose_products(catalog: Catalog, member: IntArray, n_members: int, rng: np.random.Generator) -> IntArray:
    """A product for each line bought by ``member``: each member has a favourite brand and a loyalty to it (most
    lines of a loyal member come from that brand); the other lines follow the store-wide popularity. Real baskets
    have this taste structure, and brand affinity and recommendations need it to find anything."""
    brands = sorted(set(catalog.brand))
    brand_of = np.array([brands.index(b) for b in catalog.brand])
    favourite = rng.integers(0, len(brands), n_members)
    loyalty = rng.beta(2.0, 3.0, n_members)
    product = rng.choice(len(catalog.product_id), size=len(member), p=catalog.popularity)
    loyal = rng.random(len(member)) < loyalty[member]
    for b in range(len(brands)):
        lines = np.flatnonzero(loyal & (favourite[member] == b))
        own = np.flatnonzero(brand_of == b)
        weights = catalog.popularity[own] / catalog.popularity[own].sum()
        product[lines] = own[rng.choice(len(own), size=len(lines), p=weights)]
    return product


def _purchase_times(
    start_s: IntArray, rng: np.random.Generator, per_year: float, cap: int, day_offset: int, day_span: int
) -> tuple[IntArray, IntArray]:
    """(customer index, moment) of every purchase, in time order, up to AS_OF.

    Each customer buys at their own rate (Gamma-distributed around ``per_year`` purchases a year) from ``start_s``
    and, after each purchase, stops buying for good with their own probability (Beta-distributed, 1 in 5 on
    average): the buy-till-you-die behaviour of real shoppers, at most ``cap`` purchases each. Times of day fall in
    [offset, offset + span).
    """
    n = len(start_s)
    rate = rng.gamma(0.8, per_year / 0.8, n) / (365 * DAY_S)
    stop = rng.beta(1.0, 4.0, n)
    now = start_s.astype(np.float64)
    count = np.zeros(n, dtype=np.int64)
    active = rate > 0
    owners: list[IntArray] = []
    moments: list[IntArray] = []
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0, len(idx)) / rate[idx]
        bought = idx[now[idx] <= AS_OF_S]
        active[idx[now[idx] > AS_OF_S]] = False
        owners.append(bought)
        moments.append(now[bought].astype(np.int64))
        count[bought] += 1
        active[bought[(rng.random(len(bought)) < stop[bought]) | (count[bought] >= cap)]] = False
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    moment = np.concatenate(moments) if moments else np.zeros(0, dtype=np.int64)
    day = (moment // DAY_S) * DAY_S
    moment = np.minimum(day + day_offset + rng.integers(0, day_span, len(day)), AS_OF_S).astype(np.int64)
    order = np.lexsort((owner, moment))
    return owner[order], moment[order]
