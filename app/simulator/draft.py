"""Deterministic reply drafts in es, pt or en: a template chosen by a hash of the customer's
text, quoting exactly one catalog price for pricing, enrollment and course questions."""

from __future__ import annotations

from app.simulator.classify import classify, customer_text, fold, stable_hash
from app.simulator.pricing import format_price, parse_catalog, pick_product

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


def draft_reply(system: str, user: str) -> str:
    """A friendly reply for Keel's draft prompt (`system`) and fenced customer text (`user`)."""
    text = customer_text(user)
    folded = fold(text)
    seed = stable_hash(text)
    language = _field(system, "REPLY LANGUAGE: ").split(" ", 1)[0].lower()
    intent = _field(system, "INTENT: ").lower()
    if language not in _PRICED or not intent:
        guessed_intent, guessed_language, _ = classify(text)
        language = language if language in _PRICED else guessed_language
        intent = intent or guessed_intent
    currency = _field(system, "QUOTE PRICES IN: ").upper()
    name = _field(system, "CUSTOMER NAME: ")
    greetings = _GREETINGS[language]
    named = bool(name) and name != "-"
    hi = greetings[seed % 2].format(name=name) if named else greetings[2 + seed % 2]
    body = ""
    product = pick_product(parse_catalog(system), folded) if intent in PRICED_INTENTS else None
    if product is not None:
        price = product.price_in(currency)
        if price is not None:
            templates = _PRICED[language]
            quoted = format_price(price[1], price[0], language, short=bool(seed >> 8 & 1))
            body = templates[(seed >> 4) % len(templates)].format(
                product=product.name,
                Product=product.name[:1].upper() + product.name[1:],
                price=quoted,
            )
    if not body:
        by_language = _PLAIN.get(intent, _PLAIN["other"])
        templates = by_language[language]
        body = templates[(seed >> 4) % len(templates)]
    business = _business(system)
    closing = f"\n\n{_SIGN_OFF[language]}\n{business}" if business and seed >> 12 & 1 else ""
    return f"{hi}\n\n{body}{closing}"
