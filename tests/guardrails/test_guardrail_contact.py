"""Contact data: no e-mail address or phone number but the business's own, whatever the
format; dates, times, ranges and prices are not phone numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.guardrails import check_contact_data
from app.guardrails.contact import find_phones
from app.policy import load_policy

POLICY = load_policy()  # own_emails = info@linguaviva.example, own_phones = +34 910 000 000

FOREIGN = [
    ("Llámame al +55 11 91234-5678.", "foreign_phone"),
    ("Liga no (11) 91234-5678, por favor.", "foreign_phone"),
    ("Mi móvil es 612 345 678.", "foreign_phone"),
    ("Escríbeme al 612345678", "foreign_phone"),
    ("Call me on +1 (555) 010-0199.", "foreign_phone"),
    ("My number: 555-0199", "foreign_phone"),
    ("Telefone: +351 912 345 678", "foreign_phone"),
    ("Tel. 91 234 56 78", "foreign_phone"),
    ("Escribe a ana.garcia@gmail.com", "foreign_email"),
    ("Mande para joao (at) hotmail.com", "foreign_email"),
    ("Write to teacher.tom@linguaviva-mail.com", "foreign_email"),
]
OWN_OR_NONE = [
    "Escríbenos a info@linguaviva.example o llama al +34 910 000 000.",
    "Ligue para 910 000 000 ou 0034 910 000 000.",
    "Write to INFO@LinguaViva.example.",
    "El curso empieza el 27/11/2026 (o el 2026-11-27, 27.11.2026).",
    "Curso 2025-2026, de 9:00 a 13:00 y de 18.30 a 20.30.",
    "Son R$ 2.300,00 o 1.200.000 dólares; US$ 1,200.50.",
    "Grupos de 8-10 alumnos, 60 min por clase, nivel A1-B2.",
]


@pytest.mark.parametrize(("draft", "reason"), FOREIGN)
def test_a_phone_or_email_that_is_not_the_business_is_blocked(draft: str, reason: str) -> None:
    verdict = check_contact_data(draft, policy=POLICY)

    assert not verdict.passed and verdict.reason == reason, verdict.detail


@pytest.mark.parametrize("draft", OWN_OR_NONE)
def test_the_business_contact_data_and_numbers_that_are_not_phones_pass(draft: str) -> None:
    verdict = check_contact_data(draft, policy=POLICY)

    assert verdict.passed, verdict.detail


def test_the_verdict_counts_contact_data_and_never_quotes_it() -> None:
    verdict = check_contact_data("Llama al 612 345 678 o a ana@gmail.com", policy=POLICY)

    assert verdict.detail == {"emails": 1, "phones": 1, "foreign_emails": 1, "foreign_phones": 1}


# ---------------------------------------------------------------- property

FORMATS = [
    # (digits it takes, how it is written)
    (9, "{0}{1}{2} {3}{4}{5} {6}{7}{8}"),  # 612 345 678
    (9, "{0}{1}{2}{3}{4}{5}{6}{7}{8}"),  # 612345678
    (9, "{0}{1}{2}.{3}{4}{5}.{6}{7}{8}"),  # 612.345.678
    (9, "+34 {0}{1}{2} {3}{4} {5}{6} {7}{8}"),  # +34 612 34 56 78
    (11, "({0}{1}) {2}{3}{4}{5}{6}-{7}{8}{9}{10}"),  # (11) 91234-5678
    (11, "+55 {0}{1} {2}{3}{4}{5}{6}-{7}{8}{9}{10}"),  # +55 11 91234-5678
    (10, "+1 ({0}{1}{2}) {3}{4}{5}-{6}{7}{8}{9}"),  # +1 (555) 010-0199
    (10, "{0}{1}{2}-{3}{4}{5}-{6}{7}{8}{9}"),  # 555-010-0199
    (9, "+351 {0}{1}{2} {3}{4}{5} {6}{7}{8}"),  # +351 912 345 678
]
SENTENCES = [
    "Llámame al {}.",
    "Mi WhatsApp: {}",
    "Liga para {} quando puder!",
    "Você pode falar com a Ana no {}, ela resolve.",
    "Call me on {} tomorrow.",
    "My personal number is {}",
]


@given(
    st.sampled_from(FORMATS),
    st.lists(st.integers(1, 9), min_size=11, max_size=11),
    st.sampled_from(SENTENCES),
)
def test_a_personal_phone_number_in_any_format_is_blocked(
    fmt: tuple[int, str], digits: list[int], sentence: str
) -> None:
    _, layout = fmt
    phone = layout.format(*digits)
    draft = sentence.format(phone)

    verdict = check_contact_data(draft, policy=POLICY)

    assert not verdict.passed and verdict.reason == "foreign_phone", draft


@given(st.sampled_from(["+34 910 000 000", "910 000 000", "910000000", "+34 910 00 00 00"]))
def test_the_business_own_phone_in_any_layout_passes(phone: str) -> None:
    assert check_contact_data(f"Llámanos al {phone}.", policy=POLICY).passed


@given(
    st.dates(),
    st.sampled_from(["{d:%d/%m/%Y}", "{d:%Y-%m-%d}", "{d:%d.%m.%Y}", "{d:%d-%m-%Y}"]),
    st.integers(0, 23),
    st.integers(0, 59),
)
def test_dates_and_times_are_never_phone_numbers(
    day: object, layout: str, hour: int, minute: int
) -> None:
    draft = f"Empieza el {layout.format(d=day)} a las {hour:02d}:{minute:02d}."

    assert find_phones(draft) == [], draft


@given(
    st.sampled_from(["R$ {}", "{} €", "US$ {}", "{} EUR", "{} reais"]),
    st.integers(1_000_000, 99_999_999),
)
def test_large_amounts_of_money_are_never_phone_numbers(layout: str, value: int) -> None:
    grouped = f"{value:,}".replace(",", ".")
    assert find_phones(f"Total: {layout.format(grouped)}.") == []
