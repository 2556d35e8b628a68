"""The catalog as Keel lists it in a draft prompt: parsing its lines, finding the product a
customer asks about, and formatting a price the way a native speaker writes it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from app.simulator.classify import fold

CATALOG_HEADER = "CATALOG (the only prices you may quote):"

# Concepts a customer may ask about: (words in the customer's text, words in a sku/name).
# Accent-stripped, lowercase. Earlier concepts win; the enrolment fee comes last.
_CONCEPTS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("ielts", "cambridge", "toefl", "exam", "examen", "exame"), ("exam", "ielts")),
    (("business", "negocio", "negocios", "empresa", "corporat"), ("business", "negocio")),
    (("private", "particular", "individual", "one-to-one", "1:1"), ("private", "particular")),
    (("intensiv",), ("intensiv",)),
    (("espanol", "spanish", "espanhol", "castellano"), ("spanish", "espanol", "espanhol")),
    (("portugues", "portuguese"), ("portug",)),
    (("matricula", "enrolment fee", "enrollment fee", "registration fee", "taxa de"), ("fee",)),
)
_SYMBOLS = {"EUR": "€", "BRL": "R$", "USD": "$", "GBP": "£"}


@dataclass(frozen=True, slots=True)
class Product:
    """One catalog line: `- sku | name | BRL 2300.00 | EUR 450.00 | USD 490.00`."""

    sku: str
    name: str
    prices: tuple[tuple[str, Decimal], ...]

    def priced_in(self, currency: str) -> bool:
        """Whether the catalog lists this product in `currency` itself."""
        return any(code == currency for code, _ in self.prices)

    def price_in(self, currency: str) -> tuple[str, Decimal] | None:
        """The price in `currency`, or in the first currency listed when it has none there."""
        for code, amount in self.prices:
            if code == currency:
                return code, amount
        return self.prices[0] if self.prices else None


def _parse_line(line: str) -> Product | None:
    fields = [field.strip() for field in line[2:].split("|")]
    if len(fields) < 3:
        return None
    prices = []
    for field in fields[2:]:
        code, _, amount = field.partition(" ")
        try:
            prices.append((code.upper(), Decimal(amount.strip())))
        except InvalidOperation:
            continue
    return Product(sku=fields[0], name=fields[1], prices=tuple(prices)) if prices else None


@lru_cache(maxsize=256)
def parse_catalog(system: str) -> tuple[Product, ...]:
    """The products listed after the catalog header of a draft system prompt."""
    start = system.find(CATALOG_HEADER)
    if start < 0:
        return ()
    products: list[Product] = []
    for line in system[start + len(CATALOG_HEADER) :].splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("- "):
            if products:
                break
            continue
        product = _parse_line(line)
        if product is not None:
            products.append(product)
    return tuple(products)


def names_product(folded_text: str) -> bool:
    """Whether the (folded) text names something a catalog may sell: a course, an exam,
    private lessons, the enrolment fee."""
    return any(word in folded_text for words, _ in _CONCEPTS for word in words)


def mentioned_product(products: tuple[Product, ...], folded_text: str) -> Product | None:
    """The product the (folded) text mentions by keyword or sku; None when it names none."""
    for customer_words, product_words in _CONCEPTS:
        if not any(word in folded_text for word in customer_words):
            continue
        for product in products:
            label = _fold_label(product)
            if any(word in label for word in product_words):
                return product
    for product in products:
        if product.sku.lower() in folded_text:
            return product
    return None


def pick_product(products: tuple[Product, ...], folded_text: str) -> Product | None:
    """The product the customer mentions (keyword match); the first one by default."""
    if not products:
        return None
    return mentioned_product(products, folded_text) or products[0]


@lru_cache(maxsize=1024)
def _fold_label(product: Product) -> str:
    return fold(f"{product.sku} {product.name}")


def _group(digits: str, separator: str, *, min_digits: int) -> str:
    if len(digits) < min_digits:
        return digits
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return separator.join([digits, *groups])


def format_price(amount: Decimal, currency: str, language: str, *, short: bool) -> str:
    """`450,00 €` / `450 €` (es), `R$ 2.300,00` (pt), `US$490.00` / `$490` (en).

    `short` drops zero cents where a native writer often would (es and en only).
    """
    cents = f"{amount:.2f}"
    whole, _, frac = cents.partition(".")
    drop_cents = short and frac == "00" and language in ("es", "en")
    symbol = _SYMBOLS.get(currency, currency)
    if language == "pt":
        number = _group(whole, ".", min_digits=4) + ("" if drop_cents else f",{frac}")
        if currency == "USD":
            symbol = "US$"
        return f"{symbol} {number}"
    if language == "es":
        number = _group(whole, ".", min_digits=5) + ("" if drop_cents else f",{frac}")
        if currency == "USD":
            symbol = "US$"
        return f"{number} {symbol}"
    number = _group(whole, ",", min_digits=4) + ("" if drop_cents else f".{frac}")
    if currency == "USD" and not short:
        symbol = "US$"
    return f"{symbol}{number}" if len(symbol) <= 3 else f"{symbol} {number}"
