"""Properties of the price check over every way a person writes an amount in es/pt/en."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.guardrails import check_prices
from app.policy import load_policy

POLICY = load_policy()
CATALOG = POLICY.guardrails.catalog_amounts()
CATALOG_PRICES = sorted((c, a) for c, amounts in CATALOG.items() for a in amounts)

# (decimal separator, thousands separators a writer of that language uses)
CONVENTIONS = {
    "es": (",", [".", "", "\u00a0"]),
    "pt": (",", [".", "", "\u00a0"]),
    "en": (".", [",", ""]),
}
# How each currency is written before and after the number.
BEFORE = {
    "EUR": ["€", "EUR"],
    "BRL": ["R$", "BRL"],
    "USD": ["$", "US$", "USD", "U$S"],
}
AFTER = {
    "EUR": ["€", "EUR", "euros", "Euros"],
    "BRL": ["R$", "BRL", "reais"],
    "USD": ["$", "USD", "dólares", "dolares", "dollars", "US$"],
}
SENTENCES = [
    "{}",
    "El curso cuesta {}.",
    "Precio: {} (IVA incluido), clases de 60 min a las 18:30.",
    "O valor é {} por mês, com 10% de desconto.",
    "Total: {}!",
    "It costs {}, paid monthly; the A1 group starts on 15/09/2026.",
    "Son {} al trimestre. Llámanos al +34 910 000 000.",
    "Pay {} a month by card.",
]


def format_number(value: Decimal, *, decimal_sep: str, group_sep: str, cents: bool) -> str:
    """`value` as a writer of that convention would: `2.300,00`, `2300`, `1,200.50`."""
    whole = value == value.to_integral_value()
    places = 2 if (cents or not whole) else 0
    if not cents and not whole and value == value.quantize(Decimal("0.1")):
        places = 1
    integral, _, fraction = f"{value:.{places}f}".partition(".")
    groups: list[str] = []
    while len(integral) > 3:
        groups.insert(0, integral[-3:])
        integral = integral[:-3]
    groups.insert(0, integral)
    number = group_sep.join(groups)
    return f"{number}{decimal_sep}{fraction}" if fraction else number


@st.composite
def written(draw: st.DrawFn, currency: str, value: Decimal) -> str:
    """A sentence quoting `value` in `currency`, written any way a person would."""
    language = draw(st.sampled_from(sorted(CONVENTIONS)))
    decimal_sep, group_seps = CONVENTIONS[language]
    number = format_number(
        value,
        decimal_sep=decimal_sep,
        group_sep=draw(st.sampled_from(group_seps)),
        cents=draw(st.booleans()),
    )
    if draw(st.booleans()):
        marker = draw(st.sampled_from(BEFORE[currency]))
        space = draw(st.sampled_from(["", " "]))
        amount = f"{marker}{space}{number}"
    else:
        marker = draw(st.sampled_from(AFTER[currency]))
        space = " " if marker[0].isalpha() else draw(st.sampled_from(["", " ", "\u00a0"]))
        amount = f"{number}{space}{marker}"
    return draw(st.sampled_from(SENTENCES)).format(amount)


@st.composite
def catalog_price_sentences(draw: st.DrawFn) -> tuple[str, str, Decimal]:
    currency, value = draw(st.sampled_from(CATALOG_PRICES))
    return draw(written(currency, value)), currency, value


@st.composite
def off_catalog_sentences(draw: st.DrawFn) -> tuple[str, str]:
    currency = draw(st.sampled_from(sorted(CATALOG)))
    prices = CATALOG[currency]
    near_misses = sorted(
        {
            p + d
            for p in prices
            for d in (Decimal(1), Decimal(-1), Decimal("0.01"), Decimal("-0.01"))
        }
        | {p * 10 for p in prices}
    )
    value = draw(
        st.one_of(
            st.integers(min_value=1, max_value=100_000).map(Decimal),
            st.decimals(min_value=1, max_value=100_000, places=1),
            st.decimals(min_value=1, max_value=100_000, places=2),
            st.sampled_from(near_misses),
        ).filter(lambda v: v not in prices)
    )
    return draw(written(currency, value)), currency


@given(catalog_price_sentences())
def test_every_catalog_price_written_any_way_passes(case: tuple[str, str, Decimal]) -> None:
    sentence, currency, value = case

    verdict = check_prices(sentence, policy=POLICY)

    assert verdict.passed, (sentence, verdict.detail)
    assert verdict.detail["amounts"] == [f"{value:f} {currency}".replace(".00 ", " ")]


@given(off_catalog_sentences())
def test_any_amount_not_in_the_catalog_written_any_way_is_blocked(
    case: tuple[str, str],
) -> None:
    sentence, currency = case

    verdict = check_prices(sentence, policy=POLICY)

    assert not verdict.passed, sentence
    assert verdict.reason == "price_not_in_catalog"
    bad = verdict.detail["bad"]
    assert isinstance(bad, list) and len(bad) == 1
    assert bad[0].endswith(f" {currency}")


@given(
    st.sampled_from(SENTENCES),
    st.sampled_from(["£", "GBP ", "CHF ", "¥"]),
    st.integers(min_value=1, max_value=100_000),
)
def test_any_amount_in_a_currency_outside_the_catalog_is_blocked(
    sentence: str, marker: str, value: int
) -> None:
    verdict = check_prices(sentence.format(f"{marker}{value}"), policy=POLICY)

    assert not verdict.passed
    assert verdict.reason == "currency_not_in_catalog"
