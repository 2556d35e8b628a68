"""Links: only to the allowed domains and their subdomains, however the link is written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.guardrails import check_links
from app.guardrails.links import find_links
from app.policy import load_policy

POLICY = load_policy()  # allowed_link_domains = ["linguaviva.example"]

ALLOWED = [
    "Inscríbete en https://linguaviva.example/inscripcion.",
    "Mira el horario en www.linguaviva.example/horario",
    "Faça a inscrição em https://cursos.linguaviva.example/pt?curso=a1",
    "Sign up at linguaviva.example/enrol, thanks!",
    "(https://LinguaViva.example)",
    "Escríbenos a info@linguaviva.example.",
    "El curso es bueno.Te esperamos el lunes.",
    "Por ej. el A1, e.g. B2, i.e. C1, a las 9 a.m., programa.pdf",
]
FOREIGN = [
    ("Paga aquí: https://pagamento-seguro.click/estorno", "pagamento-seguro.click"),
    ("Más info en bit.ly/curso-ingles", "bit.ly"),
    ("Fala comigo no wa.me/5511912345678", "wa.me"),
    ("Login: https://linguaviva.example@evil.co/x", "evil.co"),
    ("See linguaviva.example.evil.com/offer", "linguaviva.example.evil.com"),
    ("Visit https://evil-linguaviva.example/pay", "evil-linguaviva.example"),
    ("HTTP://WWW.GOOGLE.COM", "www.google.com"),
    ("Pay at http://linguaviva-payments.co/checkout", "linguaviva-payments.co"),
]


@pytest.mark.parametrize("draft", ALLOWED)
def test_links_to_the_business_and_text_that_only_looks_dotted_pass(draft: str) -> None:
    verdict = check_links(draft, policy=POLICY)

    assert verdict.passed, verdict.detail


@pytest.mark.parametrize(("draft", "host"), FOREIGN)
def test_a_link_to_any_other_host_is_blocked_and_named(draft: str, host: str) -> None:
    verdict = check_links(draft, policy=POLICY)

    assert not verdict.passed and verdict.reason == "foreign_link"
    assert verdict.detail["foreign"] == [host]


# ---------------------------------------------------------------- property

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
path = st.from_regex(r"(/[a-z0-9_-]{1,8}){0,2}", fullmatch=True)
scheme = st.sampled_from(["https://", "http://", ""])
sentences = st.sampled_from(["Más info: {}", "Veja {} por favor.", "See {} for details!", "{}"])


@given(st.lists(label, max_size=2), scheme, path, sentences)
def test_any_subdomain_of_an_allowed_domain_passes(
    subs: list[str], prefix: str, rest: str, sentence: str
) -> None:
    host = ".".join([*subs, "linguaviva.example"])
    draft = sentence.format(f"{prefix}{host}{rest}")

    assert check_links(draft, policy=POLICY).passed, draft


@given(label, st.sampled_from(["com", "net", "io", "click", "co", "br", "es"]), scheme, path)
def test_any_other_domain_is_blocked(name: str, tld: str, prefix: str, rest: str) -> None:
    draft = f"Paga en {prefix}{name}.{tld}{rest} hoy."

    verdict = check_links(draft, policy=POLICY)

    assert not verdict.passed
    assert find_links(draft)
