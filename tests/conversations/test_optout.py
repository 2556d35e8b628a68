"""The opt-out detector: every way customers ask to stop in es/pt/en fires, near misses
(course cancellations, other senses of STOP, BAJA, SAIR, PARAR) never do."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app.conversations
from app.conversations import detect_opt_out
from app.conversations.optout import KEYWORDS, RULES, fold

DATA = Path(app.conversations.__file__).parent / "data" / "optout_labeled.jsonl"


def labeled() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]


ROWS = labeled()

OPT_OUTS = [
    "STOP",
    "BAJA",
    "PARAR",
    "SAIR",
    "CANCELAR",
    "CANCELAR SUSCRIPCIÓN",
    "quiero darme de baja",
    "unsubscribe",
    "opt out",
    "no me escriban más",
    "no quiero recibir más mensajes",
    "dejen de escribirme",
    "não quero mais receber mensagens",
    "parem de me mandar mensagem",
    "descadastrar",
    "please stop texting me",
    "stop messaging me",
    "remove me from your list",
    "don't contact me again",
    "ok gracias pero ya no me escriban más por favor",
]
NEAR_MISSES = [
    "quiero cancelar mi curso",
    "cancelar la inscripción del curso de mi hijo",
    "stop by the office",
    "can I stop my subscription to the course?",
    "no puedo parar de estudiar",
    "vou sair mais cedo hoje",
    "where is the bus stop",
    "baja California",
    "el precio baja?",
    "don't stop sending me the schedule",
    "no dejen de escribirme",
    "quiero darme de baja del curso",
    "me tira da lista de espera",
    "I'll stop sending messages to the group",
    "no me escriban más tarde de las 9",
    "Don't contact me before 9am",
    "les dije que baja el precio si pago el trimestre",
    "I said stop by the office at 5, right?",
    "I got no more emails after Monday, is the course still on?",
    "mándenme no más mensajes del horario",
]
KEYWORD_ALONE = ["STOP", "BAJA", "PARAR", "SAIR", "CANCELAR", "UNSUBSCRIBE", "ALTO"]
DECORATIONS = ["{}", "{}!", "{}.", "  {} ", "¡{}!", "{} 😡", "🙏 {} 🙏", "{}!!!", "{} por favor"]

# One message for every rule and keyword of the table, so no rule goes untested.
RULE_EXAMPLES = {
    "es.no_me_escriban_mas": "no me escriban más",
    "es.ya_no_me_escriban": "ya no me escriban",
    "es.no_me_manden_mas": "no me manden más mensajes",
    "es.no_me_vuelvan_a": "no me vuelvan a escribir",
    "es.no_quiero_recibir": "no quiero recibir más mensajes",
    "es.no_quiero_mas": "no quiero más mensajes",
    "es.no_quiero_que_me_escriban": "no quiero que me escriban más",
    "es.dejen_de_escribirme": "dejen de escribirme",
    "es.dejen_de_mandar_mensajes": "dejen de mandar mensajes a este número",
    "es.no_recibir_mas": "prefiero no recibir más mensajes",
    "es.que_no_me_lleguen": "¿cómo hago para que no me lleguen más mensajes?",
    "es.favor_de_no_mandar": "favor de no enviar más correos",
    "es.dejar_de_recibir": "quiero dejar de recibir sus correos",
    "es.basta_de_mensajes": "basta de mensajes",
    "es.paren_los_mensajes": "paren los mensajes",
    "es.no_mas_mensajes": "no más mensajes",
    "es.darme_de_baja": "quiero darme de baja",
    "es.baja_de_la_lista": "quiero la baja de la lista de difusión",
    "es.sacarme_de_la_lista": "sáquenme de la lista",
    "es.salir_de_la_lista": "quiero salir de la lista de difusión",
    "es.desuscribirme": "quiero desuscribirme",
    "es.cancelar_los_mensajes": "cancelar las notificaciones",
    "es.ya_dije_baja": "ya les puse baja",
    "pt.nao_quero_receber": "não quero mais receber mensagens",
    "pt.nao_quero_mais": "não quero mais mensagens",
    "pt.nao_quero_que_me_mandem": "não quero que vocês me mandem mais mensagens",
    "pt.parem_de_me_mandar": "parem de me mandar mensagem",
    "pt.parem_de_mandar_mensagens": "parem de mandar mensagens",
    "pt.parar_de_receber": "quero parar de receber essas mensagens",
    "pt.nao_me_mandem_mais": "não me mandem mais nada",
    "pt.nunca_mais_me_mandem": "nunca mais me mandem mensagem",
    "pt.nao_receber_mais": "prefiro não receber mais mensagens",
    "pt.favor_nao_mandar": "favor não mandar mais mensagens",
    "pt.nao_entrem_em_contato": "não entrem mais em contato comigo",
    "pt.me_tirem_da_lista": "me tirem da lista",
    "pt.sair_da_lista": "quero sair da lista",
    "pt.descadastrar": "quero me descadastrar",
    "pt.chega_de_mensagens": "chega de mensagem",
    "pt.cancelar_as_mensagens": "quero cancelar o recebimento das mensagens",
    "pt.ja_mandei_sair": "já respondi sair",
    "en.unsubscribe": "please unsubscribe me",
    "en.opt_out": "I want to opt out",
    "en.stop_texting_me": "stop texting me",
    "en.please_stop_texting": "please stop messaging",
    "en.stop_sending_me_messages": "stop sending me messages",
    "en.stop_sending_messages": "stop sending messages to this number",
    "en.stop_receiving_messages": "how do I stop getting these texts?",
    "en.stop_the_messages": "stop the spam",
    "en.dont_contact_me_again": "don't contact me again",
    "en.dont_send_more": "don't send me any more emails",
    "en.dont_want_messages": "I don't want any more texts",
    "en.no_more_messages": "no more messages please",
    "en.remove_me_from_the_list": "remove me from your list",
    "en.i_said_stop": "I already said stop",
}
KEYWORD_EXAMPLES = {
    "stop": "STOP",
    "unsubscribe": "UNSUBSCRIBE",
    "cancel": "CANCEL",
    "end": "END",
    "quit": "QUIT",
    "remove me": "Remove me",
    "cancel subscription": "cancel my subscription",
    "do not disturb": "DO NOT DISTURB",
    "dont contact me": "Do not contact me",
    "baja": "BAJA",
    "alto": "ALTO",
    "cancelar suscripcion": "CANCELAR SUSCRIPCIÓN",
    "no molestar": "No molestar",
    "no me escriban": "no me escriban",
    "sair": "SAIR",
    "parem": "PAREM",
    "cancelar assinatura": "cancelar assinatura",
    "nao perturbe": "não perturbe",
    "nao me mande mensagem": "não me mande mensagem",
    "parar": "PARAR",
    "pare": "PARE",
    "paren": "PAREN",
    "cancelar": "CANCELAR",
}

# Words of ordinary messages: none is an opt-out word, a negation or a messaging object;
# the school's words (course, class, group) are kept apart, as they void "darme de baja".
NEUTRAL_TEXT = (
    "hola oi hi gracias obrigado thanks mañana amanhã tomorrow precio preço price horario "
    "horário schedule lunes segunda Monday libro livro book 18:30 ok sí sim yes pregunta "
    "dúvida question online 😊"
)
NEUTRAL_WORDS = NEUTRAL_TEXT.split()
ORDINARY_WORDS = [*NEUTRAL_WORDS, "curso", "aula", "class", "grupo", "profesor", "teacher", "B1"]
CLAUSE_SEPARATORS = [". ", "! ", "? ", "\n"]


def strip_accents(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


def test_the_labeled_set_has_180_messages_balanced_across_languages_and_labels() -> None:
    counts = {
        (lang, opt): sum(1 for r in ROWS if r["language"] == lang and r["opt_out"] is opt)
        for lang in ("es", "pt", "en")
        for opt in (True, False)
    }

    assert len(ROWS) >= 180
    assert all(set(r) == {"text", "language", "opt_out", "note"} for r in ROWS)
    assert min(counts.values()) >= 25, counts
    assert len({r["text"] for r in ROWS}) == len(ROWS)


def test_no_ordinary_message_of_the_labeled_set_is_taken_for_an_opt_out() -> None:
    false_positives = [r["text"] for r in ROWS if not r["opt_out"] and detect_opt_out(r["text"])]
    detected = [r for r in ROWS if detect_opt_out(r["text"])]

    assert false_positives == []
    assert len(detected) > 0  # precision 1.0 over a non-empty set


def test_at_least_95_percent_of_the_labeled_opt_outs_are_detected() -> None:
    opt_outs = [r for r in ROWS if r["opt_out"]]
    missed = [r["text"] for r in opt_outs if detect_opt_out(r["text"]) is None]

    assert 1 - len(missed) / len(opt_outs) >= 0.95, missed


@pytest.mark.parametrize("text", OPT_OUTS)
def test_a_request_to_stop_messages_is_an_opt_out(text: str) -> None:
    assert detect_opt_out(text) is not None


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_a_near_miss_is_not_an_opt_out(text: str) -> None:
    assert detect_opt_out(text) is None


@pytest.mark.parametrize("keyword", KEYWORD_ALONE)
@pytest.mark.parametrize("decoration", DECORATIONS)
def test_a_keyword_that_is_the_whole_message_is_an_opt_out(keyword: str, decoration: str) -> None:
    found = detect_opt_out(decoration.format(keyword))

    assert found is not None
    assert found.rule.startswith("keyword.")


@pytest.mark.parametrize("text", ["STOPPP", "Baaaja", "SAIRRR!!!", "stop stop stop"])
def test_a_keyword_typed_with_repeated_letters_or_several_times_is_an_opt_out(text: str) -> None:
    assert detect_opt_out(text) is not None


@pytest.mark.parametrize(("name", "text"), RULE_EXAMPLES.items())
def test_every_rule_of_the_table_matches_its_example(name: str, text: str) -> None:
    rule = next(r for r in RULES if r.name == name)

    assert rule.pattern.search(fold(text)) is not None
    assert detect_opt_out(text) is not None


@pytest.mark.parametrize(("name", "text"), KEYWORD_EXAMPLES.items())
def test_every_keyword_of_the_table_matches_its_example(name: str, text: str) -> None:
    found = detect_opt_out(text)

    assert found is not None
    assert found.rule == f"keyword.{name}"


def test_every_rule_and_keyword_has_an_example() -> None:
    assert set(RULE_EXAMPLES) == {r.name for r in RULES}
    assert set(KEYWORD_EXAMPLES) == {name for name, _, _ in KEYWORDS}


def test_the_result_names_the_rule_the_language_and_the_words() -> None:
    found = detect_opt_out("Hola! Por favor, NO ME ESCRIBAN MÁS.")

    assert found is not None
    assert (found.rule, found.language, found.phrase) == (
        "es.no_me_escriban_mas",
        "es",
        "no me escriban mas",
    )


def test_folding_drops_case_accents_apostrophes_punctuation_and_tripled_letters() -> None:
    assert fold("¡¡NO me escriban MÁSSS!!, gracias") == "no me escriban mas\ngracias"
    assert fold("Don’t  contact\u200b me") == "dont contact me"
    assert fold("😡🙏") == ""


@settings(deadline=None)
@given(st.text())
def test_the_detector_never_raises_on_arbitrary_text(text: str) -> None:
    result = detect_opt_out(text)

    assert result is None or result.rule


@settings(deadline=None)
@given(st.text())
def test_the_verdict_on_arbitrary_text_does_not_change_with_case(text: str) -> None:
    verdict = detect_opt_out(text) is None

    assert (detect_opt_out(text.upper()) is None) == verdict
    assert (detect_opt_out(text.lower()) is None) == verdict


@settings(deadline=None)
@given(st.sampled_from(ROWS), st.randoms(use_true_random=False))
def test_the_verdict_on_a_labeled_message_does_not_change_with_case(
    row: dict[str, Any], rng: Any
) -> None:
    text = row["text"]
    recased = "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in text)

    assert (detect_opt_out(recased) is None) == (detect_opt_out(text) is None)


@settings(deadline=None)
@given(st.one_of(st.text(), st.sampled_from([r["text"] for r in ROWS])))
def test_the_verdict_does_not_change_when_accents_are_stripped(text: str) -> None:
    assert (detect_opt_out(strip_accents(text)) is None) == (detect_opt_out(text) is None)


@settings(deadline=None)
@given(
    st.sampled_from(NEAR_MISSES + [r["text"] for r in ROWS if not r["opt_out"]]),
    st.lists(st.sampled_from(ORDINARY_WORDS), max_size=6),
    st.lists(st.sampled_from(ORDINARY_WORDS), max_size=6),
    st.sampled_from([" ", ", ", ". "]),
)
def test_a_near_miss_with_ordinary_words_around_it_is_never_an_opt_out(
    near_miss: str, before: list[str], after: list[str], glue: str
) -> None:
    text = glue.join([" ".join(before), near_miss, " ".join(after)])

    assert detect_opt_out(text) is None


@settings(deadline=None)
@given(
    st.sampled_from(
        [
            text
            for name, text in RULE_EXAMPLES.items()
            if not name.startswith("en.please_stop")  # needs to open its sentence
        ]
    ),
    st.lists(st.sampled_from(NEUTRAL_WORDS), min_size=1, max_size=6),
    st.sampled_from(CLAUSE_SEPARATORS),
)
def test_an_opt_out_phrase_in_a_longer_message_is_still_an_opt_out(
    phrase: str, sentence: list[str], separator: str
) -> None:
    text = separator.join([" ".join(sentence), phrase, " ".join(sentence)])

    assert detect_opt_out(text) is not None
