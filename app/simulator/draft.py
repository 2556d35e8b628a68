"""Deterministic reply drafts in es, pt or en: a template chosen by a hash of the customer's
text, quoting exactly one catalog price for pricing, enrollment and course questions.

With earlier turns, a follow-up is answered in their light: the product comes from the
current message, else the latest customer turn, else the latest reply that names one; a
currency the message names ("¿y en reales?") is quoted instead of the prompt's when the
catalog has it; a yes to an offer gets the next step of the enrolment, not the offer
again. Without earlier turns, replies are as they always were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.simulator.classify import currency_named, fold, stable_hash
from app.simulator.conversation import Role, customer_name, customer_text, history_turns
from app.simulator.followup import classify_in_context
from app.simulator.pricing import (
    Product,
    format_price,
    mentioned_product,
    parse_catalog,
    pick_product,
)

PRICED_INTENTS = frozenset({"pricing", "enrollment", "course_info"})

_GREETINGS = {
    "es": ("¡Hola, {name}!", "Hola, {name}:", "¡Hola!", "Hola:"),
    "pt": ("Olá, {name}!", "Oi, {name}!", "Olá!", "Oi!"),
    "en": ("Hi {name},", "Hello {name},", "Hi there,", "Hello,"),
}
_PRICED: dict[str, tuple[str, ...]] = {
    "es": (
        "Te confirmo el precio: {product}, {price}. ¿Quieres que te ayudemos con la inscripción?",
        "Gracias por escribirnos. {Product}: {price}. Si tienes cualquier otra duda, aquí estamos.",
        "Claro que sí. Precio de {product}: {price}. ¿Te gustaría reservar tu plaza?",
    ),
    "pt": (
        "{Product}: {price}. Quer que a gente ajude com a inscrição?",
        "Obrigado pela mensagem! {Product} custa {price}. Qualquer dúvida, é só chamar.",
        "Claro! Segue o valor. {Product}: {price}. Quer reservar a sua vaga?",
    ),
    "en": (
        "The {product} is {price}. Would you like help signing up?",
        "Thanks for getting in touch! Our {product} costs {price}. "
        "Let us know if you have any other questions.",
        "Sure: the {product} is priced at {price}. Shall we hold a place for you?",
    ),
}
# A follow-up that names a currency: the same product, in that currency.
_IN_CURRENCY: dict[str, tuple[str, ...]] = {
    "es": (
        "En {currency}, el precio es este: {product}, {price}. ¿Quieres que te ayudemos con "
        "la inscripción?",
        "Claro. {Product}, en {currency}: {price}. Si tienes otra duda, aquí estamos.",
    ),
    "pt": (
        "Em {currency}, o valor fica assim: {product}, {price}. Quer que a gente ajude com a "
        "inscrição?",
        "Claro! {Product}, em {currency}: {price}. Qualquer dúvida, é só chamar.",
    ),
    "en": (
        "In {currency}, the {product} is {price}. Would you like help signing up?",
        "Sure: in {currency}, our {product} costs {price}. Let us know if you have any other "
        "questions.",
    ),
}
_CURRENCY_NAMES = {
    "es": {"BRL": "reales", "USD": "dólares", "EUR": "euros"},
    "pt": {"BRL": "reais", "USD": "dólares", "EUR": "euros"},
    "en": {"BRL": "Brazilian reais", "USD": "US dollars", "EUR": "euros"},
}
# A yes to an offer, after earlier turns: the next step of the enrolment, not the offer.
_ENROL: dict[str, tuple[str, ...]] = {
    "es": (
        "¡Genial! Te ayudamos con la inscripción: {product}, {price}. Para reservar tu plaza, "
        "¿nos confirmas tu nombre completo y el horario que prefieres?",
    ),
    "pt": (
        "Que ótimo! Vamos ajudar com a inscrição: {product}, {price}. Para reservar a sua "
        "vaga, pode confirmar o seu nome completo e o horário que prefere?",
    ),
    "en": (
        "Great! Let's get you enrolled: {product}, {price}. To hold your place, could you "
        "confirm your full name and the times that suit you best?",
    ),
}
# Enrolment verbs ("matricularme", "matricular") name no product, unlike the fee
# ("matrícula"), once a conversation gives one.
_ENROL_VERB = re.compile(r"matricul(?!as?\b)\w*")
_PLAIN: dict[str, dict[str, tuple[str, ...]]] = {
    "schedule": {
        "es": (
            "Tenemos grupos en distintas franjas horarias. Dinos qué días y horas te vienen "
            "mejor y te enviamos las opciones disponibles.",
            "Con gusto te ayudamos con el horario. ¿Prefieres mañana, tarde o noche?",
        ),
        "pt": (
            "Temos turmas em vários horários. Diga quais dias e horários são melhores para "
            "você e enviamos as opções disponíveis.",
            "Podemos ajudar com o horário! Você prefere manhã, tarde ou noite?",
        ),
        "en": (
            "We run groups at different times of day. Tell us which days and times suit you "
            "and we'll send you the options available.",
            "Happy to help with the timetable. Do you prefer mornings, afternoons or evenings?",
        ),
    },
    "complaint": {
        "es": (
            "Sentimos mucho lo ocurrido y gracias por contárnoslo. Una persona del equipo "
            "revisará tu caso y te responderá lo antes posible.",
        ),
        "pt": (
            "Sentimos muito pelo ocorrido e obrigado por nos avisar. Uma pessoa da equipe vai "
            "analisar o seu caso e responder o quanto antes.",
        ),
        "en": (
            "We're very sorry about this, and thank you for telling us. Someone from the team "
            "will look into your case and get back to you as soon as possible.",
        ),
    },
    "refund_request": {
        "es": ("Hemos recibido tu solicitud. Una persona del equipo la revisará y te escribirá.",),
        "pt": ("Recebemos a sua solicitação. Uma pessoa da equipe vai analisá-la e responder.",),
        "en": ("We've received your request. Someone from the team will review it and reply.",),
    },
    "cancellation": {
        "es": (
            "Lamentamos que quieras dejarnos. Hemos anotado tu solicitud de cancelación y "
            "alguien del equipo te escribirá para confirmar los detalles.",
        ),
        "pt": (
            "Que pena que você quer sair. Registramos o seu pedido de cancelamento e alguém da "
            "equipe vai escrever para confirmar os detalhes.",
        ),
        "en": (
            "We're sorry to see you go. We've noted your cancellation request and someone from "
            "the team will write to confirm the details.",
        ),
    },
    "thanks": {
        "es": ("¡A ti! Quedamos a tu disposición para lo que necesites.",),
        "pt": ("Nós é que agradecemos! Estamos à disposição.",),
        "en": ("You're welcome! We're here if you need anything else.",),
    },
    "other": {
        "es": (
            "Gracias por tu mensaje. ¿Podrías contarnos un poco más sobre lo que necesitas? "
            "Así podremos ayudarte mejor.",
        ),
        "pt": (
            "Obrigado pela mensagem. Pode contar um pouco mais sobre o que você precisa? "
            "Assim conseguimos ajudar melhor.",
        ),
        "en": (
            "Thanks for your message. Could you tell us a little more about what you need? "
            "That way we can help you better.",
        ),
    },
}
_SIGN_OFF = {"es": "Un saludo,", "pt": "Abraços,", "en": "Best regards,"}


def _field(system: str, prefix: str) -> str:
    start = system.find(prefix)
    if start < 0:
        return ""
    start += len(prefix)
    end = system.find("\n", start)
    return system[start : end if end >= 0 else len(system)].strip()


def _business(system: str) -> str:
    name = _field(system, "You answer customers of ")
    return name.removesuffix(" on its behalf.").strip()


def _product(
    catalog: tuple[Product, ...], folded: str, history: Sequence[tuple[Role, str]]
) -> Product | None:
    """The product the message asks about; with earlier turns, the one the latest customer
    turn (then reply) names when the message names none."""
    if not history:
        return pick_product(catalog, folded)
    found = mentioned_product(catalog, _ENROL_VERB.sub(" ", folded))
    for roles in (("customer",), ("keel", "human")):
        for role, text in reversed(history):
            if found is None and role in roles:
                found = mentioned_product(catalog, _ENROL_VERB.sub(" ", fold(text)))
    return found or pick_product(catalog, folded)


def _priced_body(
    *,
    product: Product,
    currency: str,
    named: bool,
    enrol: bool,
    language: str,
    seed: int,
) -> str:
    """One product's price in a sentence: an enrolment's next step, a quote in the currency
    the customer named, or a plain quote; empty when the product has no price."""
    price = product.price_in(currency)
    if price is None:
        return ""
    quoted = format_price(price[1], price[0], language, short=bool(seed >> 8 & 1))
    if enrol:
        templates = _ENROL[language]
    elif named:
        templates = _IN_CURRENCY[language]
    else:
        templates = _PRICED[language]
    return templates[(seed >> 4) % len(templates)].format(
        product=product.name,
        Product=product.name[:1].upper() + product.name[1:],
        price=quoted,
        currency=_CURRENCY_NAMES[language].get(price[0], price[0]),
    )


def draft_reply(system: str, user: str) -> str:
    """A friendly reply for Keel's draft prompt (`system`) and its user turn (`user`): the
    current customer text, after the conversation's earlier turns when there are any."""
    text = customer_text(user)
    history = history_turns(user)
    folded = fold(text)
    seed = stable_hash(text)
    language = _field(system, "REPLY LANGUAGE: ").split(" ", 1)[0].lower()
    intent = _field(system, "INTENT: ").lower()
    if language not in _PRICED or not intent:
        guessed_intent, guessed_language, _ = classify_in_context(text, history)
        language = language if language in _PRICED else guessed_language
        intent = intent or guessed_intent
    currency = _field(system, "QUOTE PRICES IN: ").upper()
    name = customer_name(user)
    greetings = _GREETINGS[language]
    named = bool(name) and name != "-"
    hi = greetings[seed % 2].format(name=name) if named else greetings[2 + seed % 2]
    body = ""
    catalog = parse_catalog(system)
    product = _product(catalog, folded, history) if intent in PRICED_INTENTS else None
    if product is not None:
        asked = currency_named(folded) if history else None
        named_currency = asked is not None and product.priced_in(asked)
        body = _priced_body(
            product=product,
            currency=asked if asked is not None and named_currency else currency,
            named=named_currency,
            enrol=bool(history) and intent == "enrollment" and "?" not in text,
            language=language,
            seed=seed,
        )
    if not body:
        by_language = _PLAIN.get(intent, _PLAIN["other"])
        templates = by_language[language]
        body = templates[(seed >> 4) % len(templates)]
    business = _business(system)
    closing = f"\n\n{_SIGN_OFF[language]}\n{business}" if business and seed >> 12 & 1 else ""
    return f"{hi}\n\n{body}{closing}"
