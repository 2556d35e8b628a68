"""A deterministic prompt-injection screen for customer messages in es, pt and en.

Each pattern is matched on the folded text (no case, accents, invisible characters or
look-alike letters), so `IGNÓRA las instrucciónes`, `ign\u200bore` and a Cyrillic `о`
change nothing. Patterns name the attack, never quote the text: `ignore_instructions`,
`system_prompt`, `reveal_instructions`, `role_play`, `fake_tag`, `developer_mode`.
A customer who writes "ignore my last message" is not an attack: the object must be
instructions, rules or a prompt.
"""

from __future__ import annotations

import re

from app.guardrails.text import fold
from app.guardrails.verdict import Verdict

CHECK = "injection"


def _alt(*words: str) -> str:
    return "(?:" + "|".join(words) + ")"


_W = r"(?:[\w'’]+[\s,]+)"  # one word and what follows it
_IGNORE_VERBS = _alt(
    # en
    "ignore", "disregard", "forget", "override", "bypass",
    # es
    "ignora", "ignores", "ignorar", "ignorad", "ignoren", "olvida", "olvidate de", "olvide",
    "olviden", "olvidar", "omite", "omitir", "descarta", "haz caso omiso (?:a|de)",
    "saltate", "salta",
    # pt
    "ignorem", "esqueca", "esquece", "esquecer", "esquecam", "desconsidere", "desconsidera",
    "desconsiderar", "descarte", "despreze", "pule",
)  # fmt: skip
_RULE_NOUNS = _alt(
    "instructions?", "rules", "prompts?", "directions", "guidelines", "directives",
    "constraints", "guardrails", "programming", "system message",
    "instrucciones", "instruccion", "reglas", "indicaciones", "ordenes", "directrices",
    "normas", "restricciones", "programacion",
    "instrucoes", "instrucao", "regras", "ordens", "diretrizes", "orientacoes", "restricoes",
    "programacao",
)  # fmt: skip
_REVEAL_VERBS = _alt(
    "reveal", "show", "print", "repeat", "display", "output", "tell", "give", "share", "leak",
    "dump", "recite", "list", "copy", "send", "what are", "what is", "what's",
    "muestra", "muestrame", "mostrar", "ensename", "revela", "revelar", "repite", "repetir",
    "dime", "dame", "imprime", "escribe", "comparte", "copia", "copies", "copiar", "envia",
    "enviame", "cuales son", "cual es",
    "mostra", "mostre", "me mostre", "revele", "repita", "diga", "me diga", "imprima",
    "escreva", "compartilhe", "copie", "envie", "me envie", "quais sao", "qual e",
)  # fmt: skip
_POSSESSIVE = _alt(
    "your", "tus", "tu", "sus", "su", "vuestras", "vuestro", "suas", "sua", "tuas", "teus",
    "seus", "teu", "seu",
)  # fmt: skip
_SECRET_NOUNS = _alt(
    "instructions?", "prompts?", "system prompt", "guidelines", "directives", "programming",
    "configuration", "initial prompt", "hidden prompt",
    "instrucciones", "prompt", "directrices", "programacion", "configuracion",
    "instrucoes", "diretrizes", "programacao", "configuracao",
)  # fmt: skip

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        (
            "ignore_instructions",
            rf"\b{_IGNORE_VERBS}\b[\s,]+{_W}{{0,5}}?{_RULE_NOUNS}\b",
        ),
        (
            "system_prompt",
            r"\b(?:system|sistema)[\s_-]?prompt\b|\bprompt (?:del?|do|of the) sistema\b"
            r"|\bprompt (?:inicial|original|oculto|secreto|escondido)\b"
            r"|\b(?:initial|original|hidden|secret|system) (?:prompt|instructions)\b"
            r"|\bsystem message\b|\b(?:mensaje|mensagem|instrucciones|instrucoes|instruccion"
            r"|instrucao) (?:del|de|do) sistema\b|\bpre-?prompt\b",
        ),
        (
            "reveal_instructions",
            rf"\b{_REVEAL_VERBS}\b[\s,]+{_W}{{0,3}}?{_POSSESSIVE}\s+{_W}{{0,2}}?{_SECRET_NOUNS}\b"
            r"|\b(?:repeat|print|output) (?:everything|all|the text|the words) (?:above|before)"
            r"|\brepite (?:todo )?(?:lo|el texto) (?:anterior|de arriba)"
            r"|\brepita (?:tudo )?(?:o que|o texto) (?:esta )?(?:acima|anterior)",
        ),
        (
            "role_play",
            r"\byou are (?:now|no longer)\b|\bfrom now on,? you(?:'re| are| will be| must act"
            r"| act)\b|\bact as (?:an? (?:ai|assistant|bot|different|unrestricted|evil)\b)"
            r"|\bpretend (?:to be|you are|you're|that you)\b|\brole-?play(?:ing)? as\b"
            r"|\bahora (?:eres|sos|seras)\b|\ba partir de ahora (?:eres|sos|seras|actua|vas a"
            r" actuar|responde)\b|\bactua como (?:si|un|una)\b|\bfinge (?:que eres|ser)\b"
            r"|\bhaz de cuenta que\b|\bagora (?:voce|vc) (?:e|sera)\b|\bvoce agora e\b"
            r"|\ba partir de agora,? (?:voce|vc|seja|aja|responda)\b"
            r"|\b(?:aja|atue) como (?:se|um|uma)\b"
            r"|\bfinja (?:que|ser)\b|\bfaca de conta que\b",
        ),
        (
            "fake_tag",
            r"<\s*/?\s*(?:customer[_-]message|system|assistant|user|instructions?|prompt|sys"
            r"|developer|admin)[\w-]*(?:\s[^<>]{0,40})?>|<\|im_(?:start|end)\|>"
            r"|\[/?(?:inst|system|sys|admin)\]|<<\s*/?sys\s*>>"
            r"|(?:^|\n)\s*(?:#{1,3}\s*)?(?:system|assistant|developer|sistema|admin)\s*:",
        ),
        (
            "developer_mode",
            r"\b(?:developer|dev|debug|admin|god) mode\b"
            r"|\bmodo (?:de )?(?:desarrollador|desenvolvedor|dios|deus|admin|administrador|debug)\b"
            r"|\bjailbr(?:eak|oken)\b|\bdan mode\b|\bdo anything now\b|\buncensored\b"
            r"|\bunfiltered\b|\bsin (?:censura|filtros)\b|\bsem (?:censura|filtros)\b"
            r"|\b(?:assistant|asistente|assistente|ai|ia|bot|model|modelo)"
            r" (?:sin|sem|without|with no) (?:restricciones|restricoes|restrictions|limites"
            r"|limits|filtros|filters|rules)\b",
        ),
    )
)


def screen(text: str) -> list[str]:
    """The names of the injection patterns `text` matches, in a fixed order."""
    folded = fold(text)
    return [name for name, pattern in PATTERNS if pattern.search(folded)]


def check_injection(text: str) -> Verdict:
    """Fail with `injection_suspected` when any pattern matches; detail names them."""
    found = screen(text)
    detail: dict[str, object] = {"patterns": found}
    if found:
        return Verdict(check=CHECK, passed=False, reason="injection_suspected", detail=detail)
    return Verdict(check=CHECK, passed=True, detail=detail)
