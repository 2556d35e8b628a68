"""Deterministic language and intent detection with keyword heuristics (es, pt, en), the
simulator's stand-in for a classification model."""

from __future__ import annotations

import re
import unicodedata
import zlib


def _vocab(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words (accent-stripped, lowercase) that mark a language; shared es/pt words are left out.
_LANGUAGE_WORDS: dict[str, frozenset[str]] = {
    "es": _vocab(
        "hola gracias cuanto cuesta cuestan precio precios quiero quisiera el los las una y "
        "muy tengo puedo necesito clase clases cuando informacion pero del al en usted ustedes "
        "es mi hijo hija buenos buenas noches manana tambien ahora todavia bien vale espanol "
        "inscribirme inscripcion apuntarme queja devolucion dinero dias sabado reembolso "
        "hay mucho muchas cual horarios semanal llevo estoy nadie nunca sigo soy ya"
    ),
    "pt": _vocab(
        "ola oi obrigado obrigada quanto custa custam preco precos quero gostaria queria o os "
        "uma e muito tenho posso preciso aula aulas quando informacao informacoes mas do da "
        "dos das ao em voce voces vcs vc meu minha filho filha bom boa noite amanha tambem "
        "agora ainda bem espanhol inscrever inscricao reclamacao devolucao dinheiro sim nao "
        "tudo valeu fica comeca ninguem nunca estou sou ja pela pelo"
    ),
    "en": _vocab(
        "the is are i you to and of for how much what when price prices cost costs course "
        "courses thanks thank hello hi hey please my want would like can does have with "
        "this that your it be in on about lesson lessons class classes enroll enrol sign "
        "refund cancel money time start schedule cheers thx need is there which where"
    ),
}
_LANGUAGE_CHARS = {"es": "ñ¿¡", "pt": "ãõç"}

_WORDS = re.compile(r"[a-z0-9$]+")

# Keyword patterns per intent: (strong, weak). Matched on accent-stripped lowercase text
# at a word start; strong hits weigh 2, weak hits 1.
_INTENT_KEYWORDS: dict[str, tuple[str, str]] = {
    "spam": (
        r"https?://|www\.|bitcoin|btc\b|crypto|cripto|forex|casino|cassino|lotter|loteri|viagra"
        r"|win money|make money|earn money|ganar dinero|gana dinero|ganhe dinheiro"
        r"|ganhar dinheiro|click here|haz clic|clique aqui|investment opportunit"
        r"|oportunidad de inversion|oportunidade de investimento|free money|dinero facil"
        r"|dinheiro facil|\w+\.(?:com|net|ru|xyz|io|ly)\b|winner|ganador|ganhador|seo services",
        r"gratis|free\b|oferta|offer|promo|\$\$|urgent|bit\.ly|prize|premio",
    ),
    "refund_request": (
        r"reembols|devolucion|devolucao|devuelvan|devolvam|devolver (?:el|mi|o|meu) dinero"
        r"|devolver (?:o|meu) dinheiro|refund|money back|estorno|chargeback|quiero mi dinero"
        r"|quero meu dinheiro",
        r"dinero|dinheiro|money|cobro|cobrado|charged|cobranca|doble cargo",
    ),
    "cancellation": (
        r"cancel|darme de baja|dar de baja|unsubscribe|desistir|desisto|quit the course"
        r"|anular|trancar a matricula",
        r"\bbaja\b|dejar el curso|deixar o curso|parar|stop\b|leave the",
    ),
    "complaint": (
        r"queja|reclamacion|reclamacao|reclamar|complain|terrible|horrible|pesim|pessim|awful"
        r"|unacceptable|inaceptable|inaceitavel|molest|chatead|angry|furious|decepcionad"
        r"|disappointed|mal servicio|bad service|nadie (?:me )?respond|ninguem (?:me )?respond"
        r"|nobody answer|no one answer|worst|el peor|o pior|vergonha|verguenza|fraude|golpe",
        r"problem|issue|\bmal\b|ruim|\bbad\b|atrasad|atraso|delay|nunca|never|error|erro\b"
        r"|wrong|todavia no|ainda nao|still no",
    ),
    "enrollment": (
        r"inscrib|inscripci|inscrev|inscricao|matricul|enrol|sign ?up|register|registration"
        r"|registrar|cadastr|apuntar|reservar (?:una |uma )?(?:plaza|vaga)|book a (?:place|spot)"
        r"|join the course|quiero empezar|quero comecar",
        r"plaza|vaga|empezar|comecar|start|join|spot",
    ),
    "pricing": (
        r"precio|preco|cuanto cuesta|cuanto vale|cuanto sale|cuanto es|quanto custa|quanto e\b"
        r"|quanto fica|valor|how much|price|pricing|cost|tarifa|mensualidad|mensalidade"
        r"|descuento|desconto|discount|presupuesto|orcamento|cotizacion",
        r"cuanto|quanto|pagar|\bpay|barat|\bcaro\b|cheap|expensive|euro|reais|dolar|dollar",
    ),
    "schedule": (
        r"horario|schedule|timetable|que dias|what time|what days|cuando empieza"
        r"|cuando comienza|quando comeca|when does|when is|start date|fecha de inicio"
        r"|data de inicio|turno",
        r"cuando|quando|when\b|\bdias\b|\bdays\b|\bhora|\bhours?\b|\btime\b|semana|week"
        r"|sabado|saturday|noche|noite|evening|manana|morning|tarde\b|afternoon",
    ),
    "course_info": (
        r"informacion|informacao|information|\binfo\b|details|detalles|detalhes|nivel|level"
        r"|temario|programa|syllabus|curriculum|metodolog|methodolog|certifica|duracion"
        r"|duracao|how long|cuanto dura|quanto tempo|online|presencial|in person|profesores"
        r"|professores|teachers|material",
        r"curso|course|clase|aula|class|lesson|ingles|english|espanol|spanish|espanhol"
        r"|portugu|ielts|cambridge|exam",
    ),
    "thanks": (
        r"gracias|obrigad|thanks|thank you|\bthx\b|\bty\b|valeu|agradec|agradeco|cheers|grato",
        r"perfect|genial|great|otimo|excelente|excellent",
    ),
}
# Currencies a customer may name (accent-stripped, lowercase), each with its ISO code; a
# name is a pricing signal. A bare "real" is too common a word: only "en/em real" counts.
CURRENCIES: tuple[tuple[str, str], ...] = (
    ("BRL", r"reales|reais|(?:en|em) real|brl"),
    ("USD", r"dolares|dolar|dollars?|usd"),
    ("EUR", r"euros?|eur"),
)
_CURRENCY_PATTERNS = tuple(
    (code, re.compile(r"\b(?:" + names + r")\b")) for code, names in CURRENCIES
)
_INTENT_PATTERNS = {
    intent: (re.compile(r"(?:^|\b)(?:" + strong + ")"), re.compile(r"(?:^|\b)(?:" + weak + ")"))
    for intent, (strong, weak) in _INTENT_KEYWORDS.items()
}
_INJECTION = re.compile(
    r"ignore (?:all |the |your |any )?(?:previous |prior |above )?instructions|disregard"
    r"|system prompt|you are now|ahora eres|eres ahora|voce agora e|act as|actua como"
    r"|jailbreak|developer mode|reveal your|forget your instructions|olvida (?:tus|las)"
    r" instrucciones|esqueca (?:suas|as) instrucoes|ignora (?:todas )?(?:las|as) instruc"
    r"|ignore as instrucoes"
)
_PRIORITY = (
    "spam",
    "refund_request",
    "cancellation",
    "complaint",
    "enrollment",
    "pricing",
    "schedule",
    "course_info",
)


def fold(text: str) -> str:
    """Lowercase without accents: `Cuánto` -> `cuanto`."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (unlike `hash`)."""
    return zlib.crc32(text.encode("utf-8"))


def language_scores(text: str, folded: str | None = None) -> dict[str, int]:
    """How many distinctive words (and, doubled, characters) of each language `text` has."""
    lowered = text.lower()
    words = _WORDS.findall(folded if folded is not None else fold(text))
    scores = {lang: sum(1 for w in words if w in vocab) for lang, vocab in _LANGUAGE_WORDS.items()}
    for lang, chars in _LANGUAGE_CHARS.items():
        scores[lang] += 2 * sum(1 for ch in chars if ch in lowered)
    return scores


def detect_language(text: str, folded: str | None = None) -> str:
    """`es`, `pt` or `en` by distinctive words and characters; `en` when nothing matches."""
    scores = language_scores(text, folded)
    best = max(scores.values())
    if best == 0:
        return "en"
    for lang in ("es", "pt", "en"):
        if scores[lang] == best:
            return lang
    return "en"  # pragma: no cover


def currency_named(folded: str) -> str | None:
    """The ISO code of the first currency the (folded) text names, if any."""
    found = [
        (match.start(), code)
        for code, pattern in _CURRENCY_PATTERNS
        if (match := pattern.search(folded)) is not None
    ]
    return min(found)[1] if found else None


def is_injection(folded: str) -> bool:
    """Whether the (folded) text tries to change the model's instructions."""
    return _INJECTION.search(folded) is not None


def intent_scores(folded: str) -> dict[str, int]:
    """Keyword score of every intent for folded text: 2 per strong hit, 1 for any weak one."""
    scores = {}
    for intent, (strong, weak) in _INTENT_PATTERNS.items():
        weak_hit = weak.search(folded) is not None
        if intent == "pricing" and not weak_hit:
            weak_hit = currency_named(folded) is not None
        scores[intent] = 2 * len(strong.findall(folded)) + (1 if weak_hit else 0)
    return scores


def classify(text: str) -> tuple[str, str, float]:
    """(intent, language, confidence) of a customer's message, deterministically."""
    folded = fold(text)
    language = detect_language(text, folded)
    jitter = stable_hash(text)
    if is_injection(folded):
        return "other", language, (30 + jitter % 16) / 100
    scores = intent_scores(folded)
    thanks = scores.pop("thanks")
    ranked = sorted(_PRIORITY, key=lambda intent: (-scores[intent], _PRIORITY.index(intent)))
    top, second = ranked[0], ranked[1]
    best, runner_up = scores[top], scores[second]
    if thanks and best < 2 and "?" not in text:
        return "thanks", language, (86 + jitter % 12) / 100
    if best == 0:
        return "other", language, (50 + jitter % 15) / 100
    if best >= 2 and runner_up * 2 <= best:
        return top, language, (82 + jitter % 16) / 100
    if best >= 2:
        return top, language, (66 + jitter % 13) / 100
    if runner_up == 0:  # one clear signal and nothing pulling elsewhere
        return top, language, (72 + jitter % 16) / 100
    return top, language, (60 + jitter % 13) / 100
