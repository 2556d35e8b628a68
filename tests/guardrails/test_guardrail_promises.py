"""Promises: the policy's phrases, per language, without case or accents, at word
boundaries, plurals included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.guardrails import check_promises
from app.policy import load_policy

POLICY = load_policy()

PROMISES = [
    ("es", "Si no te gusta, te hacemos un reembolso completo."),
    ("es", "Te garantizamos que aprobarás el examen."),
    ("es", "La primera clase es GRATIS."),
    ("es", "Los reembolsos se tramitan en 24 horas."),
    ("es", "Tu plaza está garantizada para marzo."),
    ("es", "El material es gratuito."),
    ("pt", "Devolvemos o seu dinheiro se não gostar."),
    ("pt", "A aula experimental é grátis!"),
    ("pt", "A aula experimental é gratis!"),
    ("pt", "Garantimos a sua aprovação no IELTS."),
    ("pt", "Você recebe o certificado sem falta na sexta."),
    ("en", "We guarantee you will pass the exam."),
    ("en", "You can have a full REFUND at any time."),
    ("en", "The first lesson is free of charge."),
    ("en", "Refunds are processed within a week."),
    ("en", "Your certificate will arrive by Friday at the latest."),
    # free, said the ways real replies say it (issue 13)
    ("en", "It's completely free for you!"),
    ("en", "The materials are free."),
    ("en", "You get a complimentary trial lesson."),
    ("en", "There is no charge for the placement test."),
    ("es", "Las clases de conversación no tienen costo."),
    ("es", "El libro va de regalo con la matrícula."),
    ("pt", "A primeira aula é de cortesia."),
    ("pt", "O material não custa nada."),
]
NOT_PROMISES = [
    ("es", "Una persona del equipo revisará tu solicitud y te escribirá."),
    ("es", "¿Quieres que te enviemos el horario?"),
    ("pt", "Uma pessoa da equipe vai analisar o seu pedido."),
    ("en", "Feel free to ask anything else."),
    ("en", "Our freelance teachers are natives."),
    ("en", "Someone from the team will review your request."),
    ("en", "You are free to choose the schedule that suits you."),
    ("en", "Feel free to write to us in Spanish or English."),
    ("en", "Our free-flowing conversation classes run on Fridays."),
]


@pytest.mark.parametrize(("language", "draft"), PROMISES)
def test_a_draft_with_a_policy_promise_is_blocked(language: str, draft: str) -> None:
    verdict = check_promises(draft, policy=POLICY, language=language)

    assert not verdict.passed and verdict.reason == "promise"
    assert verdict.detail["phrases"]


@pytest.mark.parametrize(("language", "draft"), NOT_PROMISES)
def test_a_draft_without_a_policy_phrase_passes(language: str, draft: str) -> None:
    assert check_promises(draft, policy=POLICY, language=language).passed


def test_a_promise_in_another_language_than_the_reply_is_still_found() -> None:
    verdict = check_promises("¡Hola! Money back si no te gusta.", policy=POLICY, language="es")

    assert verdict.detail["phrases"] == ["en:money back"]


def test_a_phrase_inside_a_longer_word_is_not_that_phrase() -> None:
    phrases = check_promises("Es reembolsable.", policy=POLICY, language="es").detail["phrases"]

    assert phrases == ["es:reembolsable"]  # its own phrase, not "reembolso"
    assert check_promises("freedom and freelance", policy=POLICY, language="en").passed


# ---------------------------------------------------------------- property

PHRASES = [(lang, p) for lang, group in POLICY.guardrails.promises.items() for p in group]
TEMPLATES = {
    "es": ["Hola, {p} en el curso intensivo.", "{p}. Un saludo", "Claro: {p}, sin problema."],
    "pt": ["Olá! {p} no curso de inglês.", "{p}. Abraços", "Claro, {p} para você."],
    "en": ["Hi! {p} on the Spanish course.", "{p}. Best regards", "Sure, {p} for you."],
}
ACCENTS = str.maketrans("aeiouc", "áéíóúç")


def scrambled(phrase: str, data: st.DataObject) -> str:
    out = []
    for ch in phrase:
        roll = data.draw(st.integers(0, 5))
        out.append(ch.upper() if roll == 0 else ch.translate(ACCENTS) if roll == 1 else ch)
    return "".join(out)


@given(st.sampled_from(PHRASES), st.data())
def test_every_policy_phrase_blocks_in_any_case_or_accents(
    entry: tuple[str, str], data: st.DataObject
) -> None:
    language, phrase = entry
    template = data.draw(st.sampled_from(TEMPLATES[language]))
    draft = template.format(p=scrambled(phrase, data))

    verdict = check_promises(draft, policy=POLICY, language=language)

    assert not verdict.passed, draft
    assert f"{language}:{phrase}" in list(verdict.detail["phrases"])  # type: ignore[call-overload]


@given(st.sampled_from(PHRASES), st.sampled_from(["x", "ero", "ing", "mente"]))
def test_a_phrase_glued_to_a_longer_word_does_not_count_as_that_phrase(
    entry: tuple[str, str], suffix: str
) -> None:
    language, phrase = entry
    verdict = check_promises(f"Hola {phrase}{suffix} y adiós", policy=POLICY, language=language)

    assert f"{language}:{phrase}" not in list(verdict.detail["phrases"])  # type: ignore[call-overload]
