"""Offers: a discount may only be one the policy lists (10 % and 15 % in the example)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.guardrails import check_offers
from app.policy import load_policy

POLICY = load_policy()  # discounts_percent = [10, 15]

ALLOWED = [
    "Tenemos un 10% de descuento por pronto pago.",
    "Hay un descuento del 15 % para estudiantes. El descuento se aplica al pagar.",
    "Temos 10% de desconto na matrícula.",
    "Desconto de quinze por cento para grupos.",
    "There is a 15% discount for early enrolment.",
    "Our classes are 100% online and 90% of students pass.",
    "No tenemos descuentos en este momento.",
    "Não temos promoções agora.",
    "We don't currently offer discounts.",
    "Al menos 60 minutos por clase.",
]
BLOCKED = [
    ("Te hacemos un 20% de descuento.", "discount_not_in_policy"),
    ("Solo hoy: -30% en el curso intensivo.", "discount_not_in_policy"),
    ("Desconto de vinte por cento para você!", "discount_not_in_policy"),
    ("Use the promo code SAVE20 for 20% off.", "discount_not_in_policy"),
    ("Get 25 percent off the Business English course.", "discount_not_in_policy"),
    ("Promoção 2x1 em janeiro!", "unlisted_offer"),
    ("Leve 2, pague 1 nas aulas particulares.", "unlisted_offer"),
    ("Half price for the second course!", "unlisted_offer"),
    ("Hay un descuento especial para ti.", "unlisted_offer"),
    ("We can give you a special price.", "unlisted_offer"),
    ("Te descontamos 50 € de la matrícula: descuento de 50 €.", "amount_off"),
    ("Take $50 off your first course.", "amount_off"),
]


@pytest.mark.parametrize("draft", ALLOWED)
def test_listed_discounts_and_percentages_that_are_not_offers_pass(draft: str) -> None:
    verdict = check_offers(draft, policy=POLICY)

    assert verdict.passed, verdict.detail


@pytest.mark.parametrize(("draft", "reason"), BLOCKED)
def test_unlisted_discounts_deals_and_amounts_off_are_blocked(draft: str, reason: str) -> None:
    verdict = check_offers(draft, policy=POLICY)

    assert not verdict.passed
    assert verdict.reason == reason, verdict.detail


# ---------------------------------------------------------------- property

OFFER_TEMPLATES = [
    "Tenemos un {n} de descuento en el curso.",
    "Te hacemos un descuento del {n}.",
    "Temos {n} de desconto na matrícula.",
    "Ganhe um desconto de {n} no curso.",
    "We offer a {n} discount on the course.",
    "Enrol this week and get {n} off.",
]
FORMS = ["{v}%", "{v} %", "{v}\u00a0%", "{v} por ciento", "{v} por cento", "{v} percent"]


@given(
    st.sampled_from(OFFER_TEMPLATES),
    st.sampled_from(FORMS),
    st.integers(min_value=1, max_value=100),
)
def test_a_percentage_offered_as_a_discount_passes_only_if_the_policy_lists_it(
    template: str, form: str, value: int
) -> None:
    draft = template.format(n=form.format(v=value))

    verdict = check_offers(draft, policy=POLICY)

    assert verdict.passed is (value in (10, 15)), (draft, verdict.detail)


@given(st.integers(min_value=1, max_value=100), st.sampled_from(["online", "presencial"]))
def test_a_percentage_that_is_not_an_offer_passes(value: int, word: str) -> None:
    assert check_offers(f"El curso es {value}% {word}.", policy=POLICY).passed
