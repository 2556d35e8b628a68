"""The price check: every amount in a draft is a catalog price, in es, pt and en."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from app.guardrails import check_prices
from app.guardrails.money import find_amounts, parse_number
from app.policy import load_policy

POLICY = load_policy()

GOOD_DRAFTS = [
    # es
    "¡Hola! El curso intensivo de inglés cuesta 450 € y la matrícula 50 €.",
    "El curso intensivo cuesta €450.",
    "Precio: 450,00 EUR (IVA incluido).",
    "Son EUR 450 por el curso completo.",
    "El curso cuesta 450 euros al trimestre.",
    "La clase particular de 60 min cuesta 35€.",
    "En dólares son 490 dólares, o 490 dolares si lo prefieres.",
    "Si pagas desde Brasil: R$ 2.300,00, es decir 2.300 reais.",
    "Tenemos cursos entre 320 y 590 € (nivel A1 a C1).",
    "La preparación de exámenes cuesta 520,00 € y empieza el 15/09 a las 18:30.",
    # pt
    "Olá! O curso intensivo custa R$ 2.300,00 por mês.",
    "O valor é R$2300, com 10% de desconto à vista.",
    "São 2.300 reais, e a taxa de matrícula é R$ 250.",
    "Em dólares: US$ 490; em euros: 450 €.",
    "Aula particular (60 min): R$ 180,00. Ligue para +34 910 000 000.",
    "O curso custa BRL 1.650,00 e começa às 19h30.",
    "Preços de R$ 1.650 a R$ 3.100, conforme o nível.",
    "O curso de negócios sai por R$ 3,1 mil.",
    "Em números redondos, uns 2,3 mil reais.",
    # en
    "Hi! The intensive English course is $490 and the enrolment fee is $55.",
    "The Business English course costs US$ 640.00.",
    "That's USD 490, or 490 dollars if you pay in cash.",
    "Pricing: BRL 2,300.00 / EUR 450 / USD 490.",
    "Our courses range from $350-640 depending on level.",
    "A private lesson (60 min) is 39 USD; exam prep is USD 560.00.",
    "In reais that is BRL 3,100.00.",
    "Price (BRL): 2.300,00 — or USD: 490.",
    "You'll practise with 2 real teachers, 3 evenings a week: $490.",
    "Classes run 6:30-8:30 pm, 2 evenings a week, for 490 dollars.",
    "No prices here: the A1 course starts on 2026-03-29 at 09:00, room 12.",
    "",
]


@pytest.mark.parametrize("draft", GOOD_DRAFTS)
def test_a_draft_that_quotes_catalog_prices_in_any_format_passes(draft: str) -> None:
    # Given a draft quoting only catalog prices, When checked, Then it passes
    verdict = check_prices(draft, policy=POLICY)

    assert verdict.passed, verdict.detail
    assert verdict.reason is None
    assert verdict.check == "prices"


BAD_PRICES = [
    ("El curso cuesta 449 €.", ["449 EUR"]),
    ("O curso custa R$ 2.299,00.", ["2299 BRL"]),
    ("The course is $489.", ["489 USD"]),
    ("El curso cuesta 2300 €.", ["2300 EUR"]),  # a BRL price, in euros
    ("The course is USD 450.", ["450 USD"]),  # a EUR price, in dollars
    ("El curso cuesta 450 € y la matrícula 60 €.", ["60 EUR"]),
    ("El curso cuesta 450,50 €.", ["450.50 EUR"]),
    ("The course is $1,200.50.", ["1200.50 USD"]),
    ("Entre 300 y 450 € según el nivel.", ["300 EUR"]),
    ("Courses range from $350-500.", ["500 USD"]),
    ("São 1 450 €.", ["1450 EUR"]),  # a space groups thousands; not a hidden 450 €
    ("O curso custa R$ 2,3 milhões.", ["2300000 BRL"]),
    ("That's $35k for the year.", ["35000 USD"]),
    ("Son 2 millones de euros.", ["2000000 EUR"]),
    ("Cuesta 4.50.00 €.", ["4.50.00 EUR"]),  # an unreadable number next to a currency
]


@pytest.mark.parametrize(("draft", "bad"), BAD_PRICES)
def test_a_draft_that_quotes_an_amount_not_in_the_catalog_is_blocked(
    draft: str, bad: list[str]
) -> None:
    verdict = check_prices(draft, policy=POLICY)

    assert not verdict.passed
    assert verdict.reason == "price_not_in_catalog"
    assert verdict.detail["bad"] == bad


FOREIGN_CURRENCIES = [
    ("The course is £400.", "GBP"),
    ("The course is GBP 450.", "GBP"),
    ("El curso cuesta 450 libras.", "GBP"),
    ("Son 490 dólares canadienses.", "CAD"),
    ("That's 490 Canadian dollars.", "CAD"),
    ("Son 450 pesos.", "peso"),
    ("Cuesta $490 MXN.", "MXN"),
    ("The course is ¥50,000.", "JPY"),
]


@pytest.mark.parametrize(("draft", "currency"), FOREIGN_CURRENCIES)
def test_an_amount_in_a_currency_the_catalog_does_not_sell_in_is_blocked(
    draft: str, currency: str
) -> None:
    verdict = check_prices(draft, policy=POLICY)

    assert not verdict.passed
    assert verdict.reason == "currency_not_in_catalog"
    assert verdict.detail["currencies"] == [currency]


NOT_PRICES = [
    "Las clases son a las 18:30 y duran 60 min.",
    "Tienes un 10% de descuento, o un 15 % si pagas el año.",
    "El curso empieza el 29/03/2026 y termina el 2026-06-30.",
    "Niveles A1, A2, B1 y B2; grupos de 8 alumnos.",
    "Llámanos al +34 910 000 000 o escribe a info@linguaviva.example.",
    "Aulas de 90 minutos, 2 vezes por semana, das 19h às 20h30.",
    "We have 1,200 students and 35 teachers in 3 cities.",
    "Version 2.0 of the app is out; see room 101.",
    "Practise with 2 real native speakers, at 9.30 or 18.45.",
]


@pytest.mark.parametrize("draft", NOT_PRICES)
def test_times_percentages_dates_levels_and_phone_numbers_are_not_prices(draft: str) -> None:
    verdict = check_prices(draft, policy=POLICY)

    assert verdict.passed
    assert verdict.detail["amounts"] == []


@pytest.mark.parametrize(
    ("text", "currency", "value"),
    [
        ("450 €", "EUR", "450"),
        ("€450", "EUR", "450"),
        ("450,00 EUR", "EUR", "450.00"),
        ("EUR 450", "EUR", "450"),
        ("450 euros", "EUR", "450"),
        ("450€", "EUR", "450"),
        ("R$ 2.300,00", "BRL", "2300.00"),
        ("R$2300", "BRL", "2300"),
        ("2.300 reais", "BRL", "2300"),
        ("BRL 2,300.00", "BRL", "2300.00"),
        ("2\u00a0300,00 R$", "BRL", "2300.00"),
        ("US$ 1,200.50", "USD", "1200.50"),
        ("U$S 490", "USD", "490"),
        ("$490", "USD", "490"),
        ("USD 490", "USD", "490"),
        ("490 dólares", "USD", "490"),
        ("490 dolares", "USD", "490"),
        ("490 dollars", "USD", "490"),
        ("1.200 dólares", "USD", "1200"),
        ("R$ 2,3 mil", "BRL", "2300"),
        ("$1.2k", "USD", "1200"),
    ],
)
def test_each_written_form_is_read_as_its_currency_and_amount(
    text: str, currency: str, value: str
) -> None:
    [amount] = find_amounts(f"Total: {text}.")

    assert amount.currency == currency
    assert amount.value == Decimal(value)


@pytest.mark.parametrize(
    ("number", "value"),
    [
        ("2.300,00", "2300"),
        ("2,300.00", "2300"),
        ("1.200", "1200"),
        ("1,200", "1200"),
        ("450,5", "450.5"),
        ("1\u202f200,50", "1200.50"),
        ("12.345.678,90", "12345678.90"),
        ("1.200.50", None),
        ("1,20,000", None),
    ],
)
def test_a_number_is_read_by_its_layout_of_separators(number: str, value: str | None) -> None:
    expected = None if value is None else Decimal(value)

    assert parse_number(number) == expected


def test_the_verdict_lists_every_amount_found_and_only_the_offending_ones_as_bad() -> None:
    verdict = check_prices("Son 450 €, o R$ 2.299,00, o US$ 490.", policy=POLICY)

    assert verdict.detail == {
        "amounts": ["450 EUR", "2299 BRL", "490 USD"],
        "bad": ["2299 BRL"],
    }


def test_a_foreign_currency_wins_the_reason_when_both_kinds_of_amount_are_wrong() -> None:
    verdict = check_prices("Son 449 € o £400.", policy=POLICY)

    assert verdict.reason == "currency_not_in_catalog"
    assert verdict.detail["bad"] == ["449 EUR", "400 GBP"]


@pytest.mark.parametrize(
    ("draft", "amounts"),
    [
        ("Cursos entre 320 y 450 € al trimestre.", ["320 EUR", "450 EUR"]),
        ("Preços: 1.650, 2.300 e 3.100 reais.", ["1650 BRL", "2300 BRL", "3100 BRL"]),
        ("De R$ 1.650 a 2.300 reais.", ["1650 BRL", "2300 BRL"]),
        ("Courses from $350-640, or $350 to 490.", ["350 USD", "640 USD", "350 USD", "490 USD"]),
        ("De €320 a 450 €.", ["320 EUR", "450 EUR"]),
        ("The course is $350 and 2 private lessons are $78.", ["350 USD", "78 USD"]),
        ("Clases de 10:00 a 12:00, 35 €.", ["35 EUR"]),
        ("WhatsApp +34 910 000 000 - 450 €.", ["450 EUR"]),
    ],
)
def test_the_bare_numbers_of_a_range_or_list_share_the_currency_written_next_to_them(
    draft: str, amounts: list[str]
) -> None:
    assert [a.label() for a in find_amounts(draft)] == amounts


def test_a_long_draft_full_of_numbers_is_checked_in_linear_time() -> None:
    # Given 8,000 characters of numbers joined like a list, with no currency to end it
    draft = ("1, 2 y 3 - 4 000 000 " * 500)[:8000]

    started = time.perf_counter()
    verdict = check_prices(draft, policy=POLICY)
    elapsed_s = time.perf_counter() - started

    assert verdict.passed
    assert elapsed_s < 0.25  # a few milliseconds; quadratic rescanning would take seconds
