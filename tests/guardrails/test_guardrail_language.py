"""The reply's language must be the customer's; short replies and brand names don't mislead."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.guardrails import check_language
from app.policy import load_policy

POLICY = load_policy()  # reply_language_min_letters = 40

SENTENCES = {
    "es": [
        "Gracias por escribirnos, con gusto te ayudamos con la inscripción.",
        "Tenemos grupos por la mañana y por la tarde durante toda la semana.",
        "El curso intensivo de inglés dura ocho semanas y empieza cada mes.",
        "Si tienes cualquier otra duda, aquí estamos para ayudarte.",
        "¿Prefieres clases presenciales o en línea?",
    ],
    "pt": [
        "Obrigado pela mensagem, podemos ajudar com a sua inscrição.",
        "Temos turmas de manhã e à noite durante toda a semana.",
        "O curso intensivo de inglês dura oito semanas e começa todo mês.",
        "Qualquer dúvida, é só chamar que a gente responde.",
        "Você prefere aulas presenciais ou online?",
    ],
    "en": [
        "Thanks for getting in touch, we are happy to help you sign up.",
        "We run groups in the mornings and evenings throughout the week.",
        "The intensive English course lasts eight weeks and starts every month.",
        "If you have any other questions, just let us know.",
        "Would you prefer classes in person or online?",
    ],
}
CASES = [
    ("es", "¡Hola, Lucía!\n\nEl curso intensivo de inglés cuesta 450 €. ¿Quieres reservar "
     "tu plaza?\n\nUn saludo,\nLingua Viva Language School"),
    ("pt", "Olá!\n\nCurso intensivo de inglês: R$ 2.300,00. Quer que a gente ajude com a "
     "inscrição?\n\nAbraços,\nLingua Viva Language School"),
    ("en", "Hi there,\n\nOur Spanish A1 course costs $350. Shall we hold a place for you?"),
]  # fmt: skip


@pytest.mark.parametrize(("language", "draft"), CASES)
def test_a_reply_in_the_customer_language_passes_despite_an_english_brand_name(
    language: str, draft: str
) -> None:
    verdict = check_language(draft, policy=POLICY, language=language)

    assert verdict.passed and verdict.detail["judged"], verdict.detail


@pytest.mark.parametrize(
    ("expected", "written"), [("es", "en"), ("es", "pt"), ("pt", "es"), ("en", "pt")]
)
def test_a_reply_in_another_language_is_blocked(expected: str, written: str) -> None:
    draft = " ".join(SENTENCES[written][:3])

    verdict = check_language(draft, policy=POLICY, language=expected)

    assert not verdict.passed and verdict.reason == "wrong_language"
    assert verdict.detail["detected"] == written


def test_a_reply_that_switches_language_after_the_greeting_is_blocked() -> None:
    draft = " ".join(SENTENCES["es"][:4]) + "\n\n" + SENTENCES["en"][2]

    verdict = check_language(draft, policy=POLICY, language="es")

    assert not verdict.passed and verdict.detail["paragraph"] == 1


def test_a_reply_too_short_to_tell_or_without_a_known_language_is_not_judged() -> None:
    assert check_language("Ok, gracias!", policy=POLICY, language="en").detail["judged"] is False
    assert check_language(SENTENCES["en"][0] * 2, policy=POLICY, language=None).passed


# ---------------------------------------------------------------- property


@given(
    st.sampled_from(["es", "pt", "en"]),
    st.sampled_from(["es", "pt", "en"]),
    st.lists(st.integers(0, 4), min_size=2, max_size=4, unique=True),
)
def test_a_reply_passes_exactly_when_it_is_in_the_customer_language(
    customer: str, written: str, picks: list[int]
) -> None:
    draft = " ".join(SENTENCES[written][i] for i in picks)

    verdict = check_language(draft, policy=POLICY, language=customer)

    assert verdict.passed is (customer == written), (customer, written, verdict.detail)
