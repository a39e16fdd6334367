"""A seeded data set of a gift shop selling scented candles, at any size, for `bench.scale`.

Customers have names, emails, external references, tags, a source and a currency (mostly
EUR). Purchases cover the last two years, with peaks before 8 March, 20 October and
Christmas. Buying is heterogeneous in the way BG/NBD assumes: each customer's purchase rate
is gamma-distributed, and the chance to drop out after each purchase beta-distributed, so
some buy once and leave, some keep buying for years. SKUs are Zipf-popular: a few best
sellers and a long tail. Most orders are one item line (what the CSV import takes); a few
are baskets of several lines, sent over HTTP.
"""

import csv
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

DAYS = 730
"""The purchases span the two years before the data set's end."""
SKUS = 120
FIRST_NAMES = (
    *("Anna", "Lena", "Marie", "Sophie", "Emma", "Julia", "Laura", "Clara", "Mia", "Hannah"),
    *("Lucas", "Jonas", "Paul", "Felix", "Noah", "Elias", "Ben", "Leon", "Max", "Tom"),
    *("Chloé", "Inès", "Giulia", "Sofia", "Lucía", "Olga", "Eva", "Nora", "Ida", "Zoé"),
)
LAST_NAMES = (
    *("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"),
    *("Dubois", "Martin", "Bernard", "Rossi", "Russo", "García", "López", "Jansen"),
    *("de Vries", "Nowak", "Kowalski", "Novák", "Horvat", "Andersson", "Nielsen", "Murphy"),
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "post.example", "mail.example")
TAGS = {"newsletter": 0.45, "gift-buyer": 0.2, "eco": 0.1, "wholesale": 0.02, "vip": 0.05}
SOURCES = {"webshop": 0.7, "market-stall": 0.15, "instagram": 0.1, "referral": 0.05}
CURRENCIES = {"EUR": 0.86, "GBP": 0.06, "USD": 0.04, "CHF": 0.03, "SEK": 0.01}
"""Each currency's share of customers."""
EUR_RATES = {"EUR": 1.0, "GBP": 0.86, "USD": 1.08, "CHF": 0.95, "SEK": 11.4}
"""Prices are set in EUR; a customer pays in their own currency at these rates."""
PAYMENT_METHODS = ("card", "card", "card", "paypal", "klarna", "invoice")
SCENTS = (
    *("Vanilla", "Lavender", "Sandalwood", "Fig", "Amber", "Cedar", "Jasmine", "Rose"),
    *("Cinnamon", "Bergamot", "Vetiver", "Orange Blossom", "Sea Salt", "Pine", "Tonka"),
)
KINDS = ("Candle", "Tealights", "Reed Diffuser", "Wax Melt", "Travel Tin")
ACCESSORIES = ("WICK-TRIMMER", "CANDLE-SNUFFER", "MATCHES-LONG", "GIFT-WRAP")
COLUMNS = ("customer_ref", "occurred_at", "order_id", "total", "currency")
COLUMNS_OPTIONAL = ("sku", "quantity", "payment_method")


@dataclass(frozen=True)
class Customer:
    """A customer as registered over HTTP."""

    ref: str
    name: str
    email: str
    tags: list[str]
    source: str
    currency: str
    first_seen: datetime

    def registration(self) -> dict[str, object]:
        """The body of `POST /v1/customers`."""
        return {
            "external_ref": self.ref,
            "name": self.name,
            "email": self.email,
            "tags": self.tags,
            "source": self.source,
            "preferred_channel": "email",
            "consent": {"email_marketing": "newsletter" in self.tags},
            "occurred_at": self.first_seen.isoformat(),
        }


@dataclass(frozen=True)
class Order:
    """One order: a customer, when, and its lines as (sku, quantity, unit price in EUR)."""

    customer: int
    at: datetime
    lines: list[tuple[str, int, float]]
    payment_method: str


@dataclass(frozen=True)
class Shop:
    """The data set: customers, then orders sorted by time."""

    customers: list[Customer]
    orders: list[Order]
    end: datetime

    def rate(self, customer: int) -> float:
        """EUR to the customer's currency."""
        return EUR_RATES[self.customers[customer].currency]


def sku_name(n: int) -> str:
    """The SKU of the n-th most popular product."""
    return f"{SCENTS[n % len(SCENTS)][:3].upper()}-{KINDS[n // len(SCENTS) % len(KINDS)][:4].upper()}-{n:03d}"


def generate(customers: int, purchases: int, seed: int, baskets: int) -> Shop:
    """`customers` customers and `purchases` orders (`baskets` of them of several lines)."""
    rng = np.random.default_rng(seed)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    seasonal = np.cumsum(day_weights(start))
    first = _seasonal_days(rng, seasonal, np.zeros(customers), np.full(customers, DAYS - 1.0))
    repeats = repeat_counts(rng, first, purchases - customers)
    last = _last_days(rng, first, repeats)
    who = np.concatenate([np.arange(customers), np.repeat(np.arange(customers), repeats)])
    days = np.concatenate(
        [first, _seasonal_days(rng, seasonal, first[who[customers:]], last[who[customers:]])]
    )
    seconds = rng.integers(8 * 3600, 22 * 3600, len(days))
    order = np.lexsort((seconds, days))
    people = [_customer(rng, n, start + timedelta(days=float(first[n]))) for n in range(customers)]
    prices = _prices(rng)
    popularity = 1 / np.arange(1, SKUS + 1) ** 1.1
    skus = rng.choice(SKUS, len(days), p=popularity / popularity.sum())
    basket = set(rng.choice(len(days), baskets, replace=False).tolist()) if baskets else set()
    orders = []
    for i in order.tolist():
        at = start + timedelta(days=int(days[i]), seconds=int(seconds[i]))
        lines = (
            _basket(rng, int(skus[i]), prices)
            if i in basket
            else [_line(rng, int(skus[i]), prices)]
        )
        orders.append(Order(int(who[i]), at, lines, PAYMENT_METHODS[i % len(PAYMENT_METHODS)]))
    return Shop(people, orders, end)


def day_weights(start: datetime) -> np.ndarray:
    """How busy each day of the span is: weekends more, and the gift seasons most."""
    weights = np.ones(DAYS)
    for d in range(DAYS):
        day = (start + timedelta(days=d)).date()
        weights[d] += 0.3 * (day.weekday() >= 5)
        for month, date, height, ramp in ((3, 8, 4.0, 10), (10, 20, 3.0, 10), (12, 24, 3.0, 28)):
            before = (datetime(day.year, month, date).date() - day).days
            if 0 <= before < ramp:
                weights[d] += height * (1 - before / ramp)
    return weights / weights.sum()


def repeat_counts(rng: np.random.Generator, first: np.ndarray, total: int) -> np.ndarray:
    """Each customer's repeat purchases, `total` in all: a gamma-mixed Poisson rate over the
    days left after the first purchase, cut by a beta-mixed geometric number of purchases
    before dropping out (BG/NBD's story, with r = 0.75 and a = 1.5, b = 4)."""
    rate = rng.gamma(0.75, 1.0, len(first))
    alive_for = rng.geometric(rng.beta(1.5, 4.0, len(first))) - 1
    left = DAYS - first
    scale = total / max(1.0, float(np.minimum(rate * left, alive_for).sum()))
    for _ in range(8):  # the cut bends the sum: a few rounds bring it near `total`
        counts = np.minimum(rng.poisson(rate * scale * left), alive_for)
        scale *= total / max(1, int(counts.sum()))
    return _exactly(rng, counts, total)


def _exactly(rng: np.random.Generator, counts: np.ndarray, total: int) -> np.ndarray:
    """`counts` moved by one at random customers (weighted by their counts) to sum to `total`."""
    counts = counts.copy()
    while (gap := total - int(counts.sum())) != 0:
        weights = counts + 1.0 if gap > 0 else counts.astype(float)
        picked = rng.choice(
            len(counts),
            min(abs(gap), int((weights > 0).sum())),
            replace=False,
            p=weights / weights.sum(),
        )
        counts[picked] += 1 if gap > 0 else -1
    return counts


def _last_days(rng: np.random.Generator, first: np.ndarray, repeats: np.ndarray) -> np.ndarray:
    """The day of each customer's last purchase: the end for the half still buying, earlier
    for those who stopped."""
    stopped = rng.random(len(first)) < 0.5
    span = (DAYS - 1 - first) * np.where(stopped, rng.beta(2, 2, len(first)), 1.0)
    return np.where(repeats > 0, first + span, first)


def _seasonal_days(
    rng: np.random.Generator, cumulative: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """A day between `low` and `high` (each element's own), drawn from the seasonal weights."""
    below = np.where(low > 0, cumulative[np.maximum(low.astype(int) - 1, 0)], 0.0)
    above = cumulative[high.astype(int)]
    picked = np.searchsorted(cumulative, below + rng.random(len(low)) * (above - below))
    return np.clip(picked, low.astype(int), high.astype(int)).astype(float)


def _customer(rng: np.random.Generator, n: int, first_seen: datetime) -> Customer:
    first, last = (
        FIRST_NAMES[rng.integers(len(FIRST_NAMES))],
        LAST_NAMES[rng.integers(len(LAST_NAMES))],
    )
    local = unicodedata.normalize("NFKD", f"{first}.{last}".lower().replace(" ", ""))
    local = local.encode("ascii", "ignore").decode()
    tags = [tag for tag, share in TAGS.items() if rng.random() < share]
    return Customer(
        ref=f"shop-{n:07d}",
        name=f"{first} {last}",
        email=f"{local}{n}@{EMAIL_DOMAINS[n % len(EMAIL_DOMAINS)]}",
        tags=tags,
        source=str(rng.choice(list(SOURCES), p=list(SOURCES.values()))),
        currency=str(rng.choice(list(CURRENCIES), p=list(CURRENCIES.values()))),
        first_seen=first_seen,
    )


def _prices(rng: np.random.Generator) -> list[float]:
    """Each SKU's price in EUR, from tealights at a few euros to large candles."""
    return [
        round(float(rng.choice([6.9, 9.9, 14.9, 19.9, 24.9, 34.9, 49.0])), 2) for _ in range(SKUS)
    ]


def _line(rng: np.random.Generator, sku: int, prices: list[float]) -> tuple[str, int, float]:
    return (sku_name(sku), int(rng.choice([1, 1, 1, 2, 2, 3, 4])), prices[sku])


def _basket(
    rng: np.random.Generator, sku: int, prices: list[float]
) -> list[tuple[str, int, float]]:
    """A candle with an accessory or two, or with another popular scent."""
    lines = [_line(rng, sku, prices)]
    for extra in rng.choice(len(ACCESSORIES), rng.integers(1, 3), replace=False).tolist():
        lines.append((ACCESSORIES[extra], 1, 4.5))
    if rng.random() < 0.4:
        other = int(rng.integers(SKUS // 10))
        if sku_name(other) != lines[0][0]:
            lines.append(_line(rng, other, prices))
    return lines


def total(shop: Shop, order: Order) -> str:
    """The order's total in the customer's currency."""
    eur = sum(quantity * price for _, quantity, price in order.lines)
    return f"{eur * shop.rate(order.customer):.2f}"


def write_csv(shop: Shop, path: Path) -> int:
    """The single-line orders as the CSV `crm import purchases` takes; how many rows."""
    rows = 0
    with path.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow((*COLUMNS, *COLUMNS_OPTIONAL))
        for n, order in enumerate(shop.orders):
            if len(order.lines) == 1:
                person = shop.customers[order.customer]
                sku, quantity, _ = order.lines[0]
                out.writerow(
                    (
                        person.ref,
                        order.at.isoformat(),
                        f"W{n:08d}",
                        total(shop, order),
                        person.currency,
                        sku,
                        quantity,
                        order.payment_method,
                    )
                )
                rows += 1
    return rows


def basket_body(shop: Shop, n: int) -> dict[str, object]:
    """The body of `POST /v1/customers/{id}/purchases` for the n-th order (a basket)."""
    order = shop.orders[n]
    rate = shop.rate(order.customer)
    items = [
        {"sku": sku, "quantity": quantity, "unit_price": f"{price * rate:.2f}"}
        for sku, quantity, price in order.lines
    ]
    return {
        "order_id": f"W{n:08d}",
        "items": items,
        "total": total(shop, order),
        "currency": shop.customers[order.customer].currency,
        "payment_method": order.payment_method,
        "occurred_at": order.at.isoformat(),
    }
