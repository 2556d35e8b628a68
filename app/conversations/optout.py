"""Opt-out detection (SPEC 11): does a customer message ask Keel to stop writing to them?

Owns the deterministic, model-free decision behind a contact's `opted_out` status, for
es, pt and en. A message opts out when a carrier keyword (STOP, BAJA, SAIR, PARAR, ...)
is the whole message, give or take a "por favor" or an emoji, or when it holds one of
the named phrase patterns below, each of which needs a messaging object ("mensajes",
"msg", "texts", "the list") or a verb that means contacting ("escribirme", "me ligar",
"texting me"). Text is folded first (case, accents, punctuation, letters typed three
times), so "¡¡NO ME ESCRIBAN MÁS!!" and "no me escriban mas" are the same message.

Precision comes first: a false opt-out silences a customer who asked something. So a
phrase right after a negation ("no dejen de escribirme", "don't stop sending me the
schedule") does not count, and "unsubscribe", "darme de baja" or "descadastrar" next to
a course, a class or a child ("darme de baja del curso") is a course cancellation, not
a messaging opt-out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Language = Literal["es", "pt", "en"]


@dataclass(frozen=True, slots=True)
class OptOut:
    """A message that asks to stop receiving messages: which rule said so, on which words.

    `language` is the language of the matched words, None for keywords spelled the same
    in Spanish and Portuguese (PARAR, CANCELAR).
    """

    rule: str
    language: Language | None
    phrase: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One named phrase pattern over folded text (lower case, no accents, one space
    between words, a newline between clauses, so a pattern never spans two clauses)."""

    name: str
    language: Language
    pattern: re.Pattern[str]
    negatable: bool = True  # void right after "no", "não", "don't" ("no dejen de escribirme")
    about_service: bool = False  # void next to a course, class, child or plan


def _words(alternatives: str) -> str:
    """A regex group of the alternatives separated by ` | `, laid out over lines for reading
    (a `|` without spaces around it stays inside its alternative)."""
    return "(?:" + "|".join(re.split(r"\s+\|\s+", alternatives.strip())) + ")"


# What is being sent: the object that turns "stop", "dejen de", "não quero" into an opt-out.
# A compound noun after it ("text reminder", "mensajes de voz") is something else.
MESSAGES = (
    _words("""
    messages? | msgs? | texts | text messages | sms | e ?mails | mails | newsletters?
    | notifications | promos | promotions | ads | advertising | marketing | spam | junk
    | whats ?apps
    | mensajes? | mensajitos | mensages | msjs? | mjs | correos? | emails? | notificaciones
    | publicidad | propagandas? | promociones | ofertas | boletin(?:es)? | informacion
    | wasaps? | wsp
    | mensagens? | mensagem | notificacoes | promocoes | informativos? | informacoes
    | avisos | zaps? | wpp
""")
    + r"(?!\w)(?! (?:reminders?|confirmations?|receipts?|invoices?|address|de voz|de audio))"
)
# Lists a contact can be on; "lista de espera" and "waiting list" are not among them.
LIST_KIND = _words("""
    mailing | contact | e ?mail | sms | text | whatsapp | marketing | distribution
    | broadcast | messaging | newsletter | promo | promotional
""")
LISTA_KIND = r"(?:difusion|distribucion|correo|contactos|envio|mensajes|transmissao|contatos)"
LISTS = (
    _words(rf"""
    (?:{LIST_KIND} )?(?:list|lists|database|contacts) | listas?(?: de {LISTA_KIND})?
    | base de datos | base(?: de dados)? | mailing | cadastro
""")
    + r"(?!\w)(?! de (?:espera|clase|asistencia|alumnos|presenca|chamada))"
)
# What a course cancellation names: next to one of these, "darme de baja" is about the course.
SERVICE = re.compile(
    r"(?<!\w)"
    + _words("""
    cursos? | clases? | matricula | inscripcion | academia | escuela | colegio | examen
    | taller | grupo | espera | excursion | viaje | campamento | nivel | hij[oa]s? | plan
    | pagos? | cuota | cuenta | tarjeta
    | aulas? | turma | inscricao | escola | prova | exame | passeio | viagem | filh[oa]s?
    | plano | mensalidade | pagamento | conta | cartao
    | courses? | class(?:es)? | lessons? | program(?:me)? | school | exam | test | trip
    | camp | group | waiting | son | daughter | kids? | child | payments? | tuition
    | membership | account | card
""")
    + r"(?!\w)"
)
OBJECT = re.compile(rf"(?<!\w)(?:{MESSAGES}|{LISTS})")
# A negation right before a phrase, give or take a "quiero" or "want to": "no quiero darme
# de baja", "don't want to unsubscribe". "No puedo darme de baja" still counts.
NEGATION_BEFORE = re.compile(
    r"(?:^| )"
    + _words("""
    no | nao | n | naum | nunca | ni | nem | not | never | don ?t | do not | didn ?t | did not
    | doesn ?t | does not | won ?t | will not | no longer
""")
    + "(?: "
    + _words("""
    quiero | quero | queria | quisiera | want | wanna | to | you | u | ustedes | voces | vcs
    | que | q | me | te | se | please | pls | ever | vou | voy a | van a | vao
""")
    + ")* $"
)

DETERMINER = _words("""
    the | these | those | this | your | ur | all(?: the| these| your)? | any | such
    | los | las | el | la | estos | estas | sus | tus | todos los | todas las | tantos | tantas
    | os | as | o | a | essas | esses | suas | seus | todas as | todos os | mais | mas
""")
PLURAL = _words("""
    the | these | those | all(?: the| these| your)? | your
    | los | las | todos los | todas las | estos | estas | esos | esas | sus | tus
    | os | as | todos os | todas as | esses | essas | estes | suas | seus
""")
# One free word between the verb and the object ("these stupid texts"), not a preposition.
FREE = r"(?:(?!(?:by|via|per|por|pelo|pela|en|em|in|on|to|a|al|para|pra)\b)\w+ )?"
WHAT = rf"(?:{DETERMINER} )?{FREE}{MESSAGES}"
# Politeness around a keyword or at the end of a clause ("BAJA por favor", "STOP pls").
POLITE = _words("""
    por favor | porfa | porfavor | pfv | pf | x ?fa | pls | plz | plis | please | gracias
    | muchas gracias | obrigad[oa] | obg | valeu | thanks | thank you | thx | ty | ok | okay
    | oki | vale | ya | ja | now | right now | agora | ahora | ahorita | hola | hi | hello
    | hey | oi | ola | buen[oa]s (?:dias|tardes|noches) | buenas | bom dia
    | boa (?:tarde|noite) | good (?:morning|afternoon|evening) | no gracias | no thanks
    | nao obrigad[oa] | no me interesa | not interested | nao tenho interesse
    | nao me interessa | sin interes | sem interesse
""")
END = rf"(?: {POLITE})*(?=\n|$)"
# After a quoted keyword ("ya les puse BAJA y siguen"), not "les dije que baja el precio".
THEN = rf"(?=(?: {POLITE})*(?:\n|$| (?:y|e|pero|mas|and|but|twice|again|otra vez|de novo)\b))"
# At the start of a clause, or after a "please" or a "but": "no more emails", not "I got
# no more emails after Monday".
OPENS = _words("""
    (?<![^\n]) | (?<=please ) | (?<=pls ) | (?<=por favor ) | (?<=porfa ) | (?<=ya )
    | (?<=but ) | (?<=pero ) | (?<=and ) | (?<=y )
""")

NO_PT = r"(?:nao|n|naum)"
NOT_MORE_ES = r"(?! (?:tarde|temprano|de|que|seguido|tan|antes|despues|a menudo))"
NOT_MORE_PT = r"(?! (?:tarde|cedo|de|que|do que|vezes|antes|depois))"
WRITE_ES = _words("""
    escri[bv]an | escri[bv]as | escri[bv]a | contacten | contactes | contacte | llamen
    | llames | llame | molesten | molestes | moleste | busquen
""")
SEND_ES = r"(?:manden|mandes|mande|envien|envies|envie)"
WRITING_ES = r"(?:escri[bv]iendo|mandando|enviando|contactando|llamando|molestando)"
WRITE_PT = _words("""
    escrevam | escreva | escreve | liguem | ligue | liga | chamem | chame | contatem
    | contate | contactem | procurem | procure | perturbem | perturbe | incomodem
    | incomode | encham
""")
SEND_PT = r"(?:mandem|mande|manda|enviem|envie|envia)"
WRITING_PT = r"(?:mandando|enviando|escrevendo|ligando)"
STOP_EN = r"(?:stop|quit|cease)"
CONTACTING_EN = _words("""
    texting | messaging | msging | emailing | e mailing | contacting | calling | spamming
    | bothering | harassing | pestering | whatsapping | writing(?: to)?
""")
CONTACT_EN = _words("""
    text | message | msg | e ?mail | mail | contact | call | whatsapp | write(?: to)?
    | bother | spam | reach out to
""")
ME_EN = r"(?:me|us|this number|my number|my phone)"
NOT_EN = r"(?:don ?t|do not|never|dont ever)"
MORE_EN = r"(?:any ?more|any further|more|further|any|these|your)"
AGAIN_EN = r"(?:again|any ?more|ever again|from you|from this number)"
# Not when the customer speaks of their own sending ("I'll stop sending messages to the group").
I_EN = r"(?<!\bi )(?<!\bwe )(?<!ll )(?<!\bgonna )(?<!\bto )"


def _rule(name: str, language: Language, *parts: str, **flags: bool) -> Rule:
    """A rule whose pattern is `parts` joined, matched at word boundaries."""
    pattern = re.compile(r"(?<!\w)" + "".join(parts) + r"(?!\w)")
    return Rule(name, language, pattern, **flags)


RULES: tuple[Rule, ...] = (
    # Spanish
    _rule(
        "es.no_me_escriban_mas", "es",
        rf"(?:no|nunca) me {WRITE_ES} (?:nunca )?mas{NOT_MORE_ES}",
        negatable=False,
    ),
    _rule("es.ya_no_me_escriban", "es", rf"(?:ya no|nunca mas) me {WRITE_ES}", negatable=False),
    _rule(
        "es.no_me_manden_mas", "es",
        rf"(?:no|nunca) me {SEND_ES} (?:(?:nunca )?mas(?: (?:nada|por aqui|a este numero))?{END}",
        rf"|(?:nunca )?mas {WHAT}|{WHAT} (?:nunca )?mas)",
        negatable=False,
    ),
    _rule(
        "es.no_me_vuelvan_a", "es",
        r"no me (?:vuelvan|vuelvas|vuelva) a (?:escri[bv]ir|contactar|llamar|molestar",
        rf"|(?:mandar|enviar) (?:nada|{WHAT}))",
        negatable=False,
    ),
    _rule(
        "es.no_quiero_recibir", "es",
        rf"no (?:quiero|deseo|quisiera) (?:seguir )?recibir (?:mas |ningun |ninguna )?{WHAT}",
        negatable=False,
    ),
    _rule(
        "es.no_quiero_mas", "es",
        rf"no (?:quiero|deseo) (?:mas|ningun|ninguna) (?:{WHAT}|contacto)",
        negatable=False,
    ),
    _rule(
        "es.no_quiero_que_me_escriban", "es",
        rf"no (?:quiero|deseo|quisiera) (?:que|q) (?:me|nos) (?:sigan {WRITING_ES}",
        rf"|{WRITE_ES}(?: (?:nunca )?mas{NOT_MORE_ES}|{END})|{SEND_ES} (?:mas )?{WHAT})",
        negatable=False,
    ),
    _rule(
        "es.dejen_de_escribirme", "es",
        r"(?:dejen|deja|dejes|dejad|dejar|paren|para|pare|parad|parar) de ",
        r"(?:(?:escri[bv]ir|contactar|llamar|molestar|spamear|acosar)(?:me|nos)",
        rf"|(?:mandar|enviar)(?:me|nos)(?: {WHAT}|{END}))",
    ),
    _rule(
        "es.dejen_de_mandar_mensajes", "es",
        rf"(?:dejen|deja|dejes|dejad|paren|para|parad) de (?:mandar|enviar|escri[bv]ir) {WHAT}",
    ),
    _rule(
        "es.no_recibir_mas", "es",
        rf"no recibir (?:mas {WHAT}|{WHAT} (?:nunca )?mas)",
        negatable=False,
    ),
    _rule(
        "es.que_no_me_lleguen", "es",
        rf"no me (?:lleguen|llegue) (?:mas {WHAT}|{WHAT} (?:nunca )?mas)",
        negatable=False,
    ),
    _rule(
        "es.favor_de_no_mandar", "es",
        rf"(?:favor de|por favor|porfa|pueden|podrian) no (?:mandar|enviar)(?:me)? (?:mas )?{WHAT}",
        negatable=False,
    ),
    _rule("es.dejar_de_recibir", "es", rf"(?:dejar|parar) de recibir {WHAT}"),
    _rule("es.basta_de_mensajes", "es", rf"(?:(?:ya )?basta|suficiente) (?:de|con) {WHAT}"),
    _rule("es.paren_los_mensajes", "es", rf"(?:paren|detengan|corten) (?:ya )?(?:con )?{WHAT}"),
    _rule("es.no_mas_mensajes", "es", rf"{OPENS}no mas {WHAT}", negatable=False),
    _rule(
        "es.darme_de_baja", "es",
        r"(?:dar ?me|dar ?se|dame|denme|deme|me (?:doy|di|quiero dar|puedo dar)|dar) de baja",
        about_service=True,
    ),
    _rule(
        "es.baja_de_la_lista", "es",
        rf"baja (?:de|del) (?:{DETERMINER} )?(?:{LISTS}|{MESSAGES})",
        about_service=True,
    ),
    _rule(
        "es.sacarme_de_la_lista", "es",
        r"(?:(?:sac|saqu|borr|elimin|quit|exclu)\w* ?me|me (?:sac|saqu|borr|elimin|quit)\w*",
        r"|(?:sac|saqu|borr|elimin|quit)\w* mi (?:numero|contacto|correo|email|telefono",
        rf"|nombre|celular|cel)) de (?:la|las|su|sus|esta|esa|vuestra|tu|tus|todas las) {LISTS}",
        about_service=True,
    ),
    _rule(
        "es.salir_de_la_lista", "es",
        rf"salir de (?:la|su|esta|esa|vuestra|tu) {LISTS}",
        about_service=True,
    ),
    _rule("es.desuscribirme", "es", r"de[sz]+u[bs]*scri[bv]\w*", about_service=True),
    _rule(
        "es.cancelar_los_mensajes", "es",
        r"(?:cancelar|cancela|cancelen|desactivar|desactiven|anular|quitar) ",
        rf"(?:(?:el )?envio de |la su[bs]*cripcion a |{PLURAL} ){FREE}{MESSAGES}",
    ),
    _rule(
        "es.ya_dije_baja", "es",
        r"(?:ya )?(?:les )?(?:puse|escribi|mande|envie|respondi|conteste|dije) (?:que )?",
        r"(?:baja|stop|alto)", THEN,
    ),
    # Portuguese
    _rule(
        "pt.nao_quero_receber", "pt",
        rf"{NO_PT} (?:quero|desejo|gostaria de) (?:mais )?(?:receber|ganhar) ",
        rf"(?:mais |nenhuma |nenhum )?{WHAT}",
        negatable=False,
    ),
    _rule(
        "pt.nao_quero_mais", "pt",
        rf"{NO_PT} quero mais (?:nenhuma |nenhum )?(?:{WHAT}|contato)",
        negatable=False,
    ),
    _rule(
        "pt.nao_quero_que_me_mandem", "pt",
        rf"{NO_PT} quero (?:que|q) (?:voces |vcs |vc )?(?:me|nos) ",
        rf"(?:(?:continuem|fiquem) {WRITING_PT}|{WRITE_PT}(?: (?:nunca )?mais{NOT_MORE_PT}|{END})",
        rf"|{SEND_PT} (?:mais )?{WHAT})",
        negatable=False,
    ),
    _rule(
        "pt.parem_de_me_mandar", "pt",
        r"(?:parem|pare|para|parar|deixem|deixa|deixe|deixar|chega) de (?:me|nos) ",
        r"(?:escrever|ligar|contatar|contactar|chamar|encher|perturbar|incomodar|importunar",
        rf"|procurar|(?:mandar|enviar)(?: {WHAT}|{END}))",
    ),
    _rule(
        "pt.parem_de_mandar_mensagens", "pt",
        rf"(?:parem|pare|para|deixem|deixe|deixa|chega) de (?:mandar|enviar|encaminhar) {WHAT}",
    ),
    _rule("pt.parar_de_receber", "pt", rf"(?:parar|deixar|parem|pare) de receber {WHAT}"),
    _rule(
        "pt.nao_me_mandem_mais", "pt",
        rf"(?:{NO_PT}|nunca mais) me (?:{WRITE_PT} (?:nunca )?mais{NOT_MORE_PT}",
        rf"|{SEND_PT} (?:(?:nunca )?mais(?: nada)?{END}|(?:nunca )?mais {WHAT}",
        rf"|{WHAT} (?:nunca )?mais))",
        negatable=False,
    ),
    _rule(
        "pt.nunca_mais_me_mandem", "pt",
        rf"nunca mais me (?:{WRITE_PT}|{SEND_PT})",
        negatable=False,
    ),
    _rule(
        "pt.nao_receber_mais", "pt",
        rf"{NO_PT} receber (?:mais {WHAT}|{WHAT} (?:nunca )?mais)",
        negatable=False,
    ),
    _rule(
        "pt.favor_nao_mandar", "pt",
        rf"(?:favor|por favor|pfv|pf|pode|podem|poderiam) {NO_PT} (?:me )?(?:mandar|enviar) ",
        rf"(?:mais )?{WHAT}",
        negatable=False,
    ),
    _rule(
        "pt.nao_entrem_em_contato", "pt",
        rf"{NO_PT} (?:entrem|entre) (?:mais em contato|em contato (?:comigo )?(?:nunca )?mais)",
        negatable=False,
    ),
    _rule(
        "pt.me_tirem_da_lista", "pt",
        r"(?:me (?:tir|remov|exclu|apag|retir|delet)\w*|(?:tir|remov|exclu|apag|retir|delet)\w*",
        r" (?:me|(?:o )?meu (?:numero|contato|email|e mail|nome|telefone|celular|cel|zap)))",
        rf" (?:da|das|do|dessa|desta|desse|deste|de sua|da sua|de suas) {LISTS}",
        about_service=True,
    ),
    _rule(
        "pt.sair_da_lista", "pt",
        rf"sair (?:da|dessa|desta|de sua|da sua) {LISTS}",
        about_service=True,
    ),
    _rule("pt.descadastrar", "pt", r"descadastr\w*", about_service=True),
    _rule("pt.chega_de_mensagens", "pt", rf"(?:chega|basta) (?:de|com) {WHAT}"),
    _rule(
        "pt.cancelar_as_mensagens", "pt",
        r"(?:cancel|desativ|deslig)\w* ",
        rf"(?:(?:o )?(?:envio|recebimento) (?:de|das|dos) |{PLURAL} ){FREE}{MESSAGES}",
    ),
    _rule(
        "pt.ja_mandei_sair", "pt",
        r"(?:ja )?(?:mandei|escrevi|respondi|enviei|digitei|falei|disse) (?:que )?",
        r"(?:sair|stop|parar|pare)", THEN,
    ),
    # English
    _rule(
        "en.unsubscribe", "en",
        r"(?:unsubscribe|unsuscribe|unsubcribe|unsubscibe|unsubscrib|unsub)(?:e|ing|s)?",
        r"(?! (?:link|button|option|page))",  # the link itself, asked about
        about_service=True,
    ),
    _rule(
        "en.opt_out", "en",
        rf"opt(?:ing)? ?(?:me )?out(?!\w)(?: of {FREE}(?:{DETERMINER} )?{FREE}",
        rf"(?:{MESSAGES}|{LISTS}|communications?)|(?! of))",
        about_service=True,
    ),
    _rule("en.stop_texting_me", "en", rf"{STOP_EN} {CONTACTING_EN} {ME_EN}"),
    _rule(
        "en.please_stop_texting", "en",
        rf"(?:(?<![^\n])|(?<=please )|(?<=pls )|(?<=plz )){STOP_EN} {CONTACTING_EN}{END}",
    ),
    _rule("en.stop_sending_me_messages", "en", rf"{STOP_EN} sending (?:me|us) {WHAT}"),
    _rule("en.stop_sending_messages", "en", rf"{I_EN}{STOP_EN} sending {WHAT}"),
    _rule("en.stop_receiving_messages", "en", rf"{STOP_EN} (?:receiving|getting) {WHAT}"),
    _rule("en.stop_the_messages", "en", rf"{I_EN}{STOP_EN} (?:{DETERMINER} )?{MESSAGES}"),
    _rule(
        "en.dont_contact_me_again", "en",
        rf"{NOT_EN} (?:ever )?{CONTACT_EN} {ME_EN}(?: ever)? {AGAIN_EN}",
        negatable=False,
    ),
    _rule(
        "en.dont_send_more", "en",
        rf"{NOT_EN} (?:ever )?send (?:me |us )?(?:{MORE_EN} {WHAT}|{WHAT} {AGAIN_EN})",
        negatable=False,
    ),
    _rule(
        "en.dont_want_messages", "en",
        r"(?:don ?t|do not|no longer) (?:want|wish|need) (?:to (?:receive|get|be sent) )?",
        rf"(?:{MORE_EN} {WHAT}|{WHAT} {AGAIN_EN})",
        negatable=False,
    ),
    _rule("en.no_more_messages", "en", rf"{OPENS}no (?:more|further) {WHAT}", negatable=False),
    _rule(
        "en.remove_me_from_the_list", "en",
        r"(?:remove|delete|take|drop|erase) (?:me|my (?:number|phone(?: number)?",
        r"|e ?mail(?: address)?|contact(?: details| info)?|details|info|name))",
        rf" (?:off|from|out of) (?:(?:your|the|this|ur|all|any|all your|all of your) )?{LISTS}",
        about_service=True,
    ),
    _rule(
        "en.i_said_stop", "en",
        r"(?:i )?(?:already )?(?:said|replied|texted|typed|wrote|sent|answered|responded) ",
        r"(?:with )?(?:stop|unsubscribe)", THEN,
    ),
)  # fmt: skip

# Carrier keywords and set phrases that opt out when they are (nearly) the whole message.
KEYWORDS: tuple[tuple[str, Language | None, str], ...] = (
    ("stop", "en", r"s+t+o+p+(?: ?all)?"),
    ("unsubscribe", "en", r"u+n+s+u+b+s+c+r+i+b+e+"),
    ("cancel", "en", r"c+a+n+c+e+l+"),
    ("end", "en", r"e+n+d+"),
    ("quit", "en", r"q+u+i+t+"),
    ("remove me", "en", r"remove(?: me)?"),
    ("cancel subscription", "en", r"cancel (?:my |the )?subscription"),
    ("do not disturb", "en", r"do not disturb"),
    ("dont contact me", "en", rf"{NOT_EN} {CONTACT_EN} {ME_EN}"),
    ("baja", "es", r"b+a+j+a+"),
    ("alto", "es", r"a+l+t+o+"),
    ("cancelar suscripcion", "es", r"(?:cancelar|anular) (?:mi |la )?su[bs]*cripcion"),
    ("no molestar", "es", r"no molestar"),
    ("no me escriban", "es", rf"no me (?:{WRITE_ES}|{SEND_ES} {WHAT})"),
    ("sair", "pt", r"s+a+i+r+"),
    ("parem", "pt", r"p+a+r+e+m+"),
    ("cancelar assinatura", "pt", r"cancelar (?:minha |a )?assinatura"),
    ("nao perturbe", "pt", rf"{NO_PT} perturbe"),
    ("nao me mande mensagem", "pt", rf"{NO_PT} me (?:{WRITE_PT}|{SEND_PT} {WHAT})"),
    ("parar", None, r"p+a+r+a+r+"),
    ("pare", None, r"p+a+r+e+"),
    ("paren", None, r"p+a+r+e+n+"),
    ("cancelar", None, r"c+a+n+c+e+l+a+r+"),
)
# Those that also opt out as the last sentence of a longer message ("5 messages today. STOP").
CLOSING_KEYWORDS = ("stop", "unsubscribe")
_KEYWORDS = tuple((name, lang, re.compile(pattern)) for name, lang, pattern in KEYWORDS)
_POLITE = re.compile(rf"(?<!\w){POLITE}(?!\w)")

# Zero-width characters, soft hyphens and the BOM: invisible, but they split a word.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2060-\u206f\ufeff]"
)
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc\u00b4`]")
_CLAUSE_BREAK = re.compile(r"[.!?¡¿;:,\n\r()\[\]\"«»\u2026\u201c\u201d|]+")
_NON_WORD = re.compile(r"[\W_]+")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower case, no accents or apostrophes, a letter typed three times or more kept once,
    words one space apart and clauses one line apart: `¡¡NO me escriban MÁSSS!!, gracias`
    -> `no me escriban mas\\ngracias`."""
    text = _strip_marks(_INVISIBLE.sub("", text)).upper().casefold()
    text = _APOSTROPHES.sub("", _strip_marks(text))
    text = _REPEATED_LETTER.sub(r"\1", text)
    clauses = (_NON_WORD.sub(" ", clause).split() for clause in _CLAUSE_BREAK.split(text))
    return "\n".join(" ".join(words) for words in clauses if words)


def detect_opt_out(text: str) -> OptOut | None:
    """The opt-out a customer message asks for, or None when it asks for none."""
    folded = fold(text)
    if not folded:
        return None
    keyword = _bare_keyword(folded) or _bare_keyword(folded.rsplit("\n", 1)[-1], CLOSING_KEYWORDS)
    if keyword is not None:
        return keyword
    for rule in RULES:
        for match in rule.pattern.finditer(folded):
            if not _void(rule, folded, match):
                return OptOut(rule.name, rule.language, match.group(0))
    return None


def _bare_keyword(folded: str, names: tuple[str, ...] | None = None) -> OptOut | None:
    """A carrier keyword or set phrase (one of `names`, if given) that is all the text says,
    politeness aside."""
    core = " ".join(_POLITE.sub(" ", folded.replace("\n", " ")).split())
    for name, language, pattern in _KEYWORDS:
        if names is not None and name not in names:
            continue
        if core and all(pattern.fullmatch(part) for part in _repeats(core, pattern)):
            return OptOut(f"keyword.{name}", language, core)
    return None


def _repeats(core: str, pattern: re.Pattern[str]) -> list[str]:
    """`stop stop stop` as three `stop`s; anything else as itself."""
    words = core.split()
    if len(words) > 1 and all(pattern.fullmatch(word) for word in words):
        return words
    return [core]


def _void(rule: Rule, folded: str, match: re.Match[str]) -> bool:
    """Whether the context undoes a match: a negation right before it, or a course nearby."""
    clause_start = folded.rfind("\n", 0, match.start()) + 1
    if rule.negatable and NEGATION_BEFORE.search(folded[clause_start : match.start()]):
        return True
    if not rule.about_service:
        return False
    before = folded[: match.start()].split()[-4:]
    after = folded[match.end() :].split()[:6]
    nearby = " ".join(before + after)
    return bool(SERVICE.search(nearby)) and not OBJECT.search(" ".join(after))
