"""Stripping message text, drafts and contact identifiers from what leaves the process.

Used by Sentry's `before_send`, `before_send_transaction` and `before_breadcrumb`, and
by the JSON log formatter. Three layers: values under sensitive key names (text,
reply, draft, body, contact*, name, email, phone, query strings, ...) are replaced
wholesale; every other string is scanned for e-mail addresses, phone numbers,
pydantic's echoed `input_value=...`, the query, fragment and credentials of URLs (a
webhook URL may carry a token), and the statement, parameters and `DETAIL:` lines a
database error carries (a failing INSERT's parameters hold the message text); and
structures that carry arbitrary data (request bodies, stack frame locals, task
arguments other than message ids) are dropped. Plain functions over plain data, so
they are tested without a Sentry server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FILTERED = "[Filtered]"

_SENSITIVE_EXACT = frozenset(
    {
        "text",
        "reply",
        "draft",
        "body",
        "content",
        "messages",
        "name",
        "full_name",
        "first_name",
        "last_name",
        "username",
        "user_name",
        "external_id",
        "conversation_id",
        "edited_text",
        # HTTP breadcrumbs and spans keep a URL's query apart from it.
        "query",
        "query_string",
        "http.query",
        "http.fragment",
        "url.query",
        "url.fragment",
    }
)
_SENSITIVE_PREFIXES = ("reply_", "draft_")
_SENSITIVE_PARTS = ("contact", "email", "phone", "prompt", "_text")

# Local parts may hold any of RFC 5322's atom characters.
EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# "+34 612 345 678", "+1 (415) 555-0100", or 9-15 bare digits; not dates, times,
# uuids or decimal numbers (no word character, dot, colon or hyphen right beside it).
PHONE = re.compile(
    r"(?<![\w.:-])(?:\+\d[\d\s().-]{6,22}\d|\d{9,15})(?![\w:]|\.\d|-\w)",
)
# pydantic's errors echo the offending input: `input_value='Hola, ...', input_type=str`.
PYDANTIC_INPUT = re.compile(r"input_value=(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,\]]+)")
# What SQLAlchemy appends to a database error's message, from the statement to the link
# it ends with: "[SQL: INSERT ...]\n[parameters: ('Hola ...', ...)]". The statement may
# span lines; the parameters are one repr. Both go, whether or not the engine hid them.
SQL_BLOCK = re.compile(r"\[SQL: .*?(?=\n\(Background on this error at: |\Z)", re.S)
SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
# Postgres echoes values in its own lines: "DETAIL:  Failing row contains (..., 'Hola',
# ...)", "DETAIL:  Key (channel, external_id)=(whatsapp, wa-1) already exists.", and
# "LINE 1: ...VALUES ('Hola..." under a syntax error.
PG_DETAIL = re.compile(r"^(DETAIL|LINE \d+):[^\n]*", re.M)
# ...and in the first line of a type error: 'invalid input syntax for type uuid: "Hola"'.
PG_INPUT = re.compile(r'(invalid input (?:syntax|value) for [^:\n]{1,80}: )"[^"\n]*"')
# From "://" to the next space or quote: one URL, consumed whole (linear in the text).
URL_TAIL = re.compile(r"://[^\s\"'<>]*")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Sentry's own contexts describe the machine, not a customer: left as they are.
_SYSTEM_CONTEXTS = frozenset(
    {"runtime", "os", "device", "app", "trace", "otel", "cloud_resource", "culture", "flags"}
)


def is_sensitive_key(key: object) -> bool:
    """Whether a value stored under `key` may hold message text or a contact identifier."""
    if not isinstance(key, str):
        return False
    name = key.lower().replace("-", "_")
    return (
        name in _SENSITIVE_EXACT
        or name.startswith(_SENSITIVE_PREFIXES)
        or any(part in name for part in _SENSITIVE_PARTS)
    )


def is_message_id(value: object) -> bool:
    return isinstance(value, str) and bool(UUID.match(value))


def _url_tail(match: re.Match[str]) -> str:
    """One URL after its scheme, without credentials, query or fragment."""
    tail = match.group(0)[3:]
    cut = min((i for i in (tail.find("?"), tail.find("#")) if i >= 0), default=-1)
    suffix = ""
    if cut >= 0:
        tail, suffix = tail[:cut], f"?{FILTERED}"
    authority, slash, path = tail.partition("/")
    if "@" in authority:
        authority = f"{FILTERED}@{authority.rsplit('@', 1)[1]}"
    return f"://{authority}{slash}{path}{suffix}"


def scrub_sql(value: str) -> str:
    """`value` without the statement, parameters and detail lines of a database error."""
    if "[SQL: " in value:
        value = SQL_BLOCK.sub(f"[SQL: {FILTERED}]", value)
    if "[parameters: " in value:
        value = SQL_PARAMETERS.sub(f"[parameters: {FILTERED}]", value)
    if "DETAIL:" in value or "LINE " in value:
        value = PG_DETAIL.sub(lambda m: f"{m.group(1)}: {FILTERED}", value)
    if "invalid input " in value:
        value = PG_INPUT.sub(rf'\1"{FILTERED}"', value)
    return value


def scrub_text(value: str) -> str:
    """`value` with e-mail addresses, phone numbers, echoed pydantic inputs, URL queries
    and credentials, and database errors' statements, parameters and details filtered."""
    value = scrub_sql(value)
    if "://" in value:
        value = URL_TAIL.sub(_url_tail, value)
    value = PYDANTIC_INPUT.sub(f"input_value={FILTERED}", value)
    value = EMAIL.sub(FILTERED, value)
    return PHONE.sub(FILTERED, value)


def scrub_data(value: Any) -> Any:
    """A copy of `value` with sensitive keys filtered and every string scanned."""
    if isinstance(value, Mapping):
        return {k: FILTERED if is_sensitive_key(k) else scrub_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _scrub_exception(exception: dict[str, Any]) -> None:
    for item in exception.get("values") or []:
        if isinstance(item.get("value"), str):
            item["value"] = scrub_text(item["value"])
        for frame in (item.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
        item.pop("raw_stacktrace", None)


def _scrub_request(request: dict[str, Any]) -> None:
    for key in ("data", "cookies", "query_string", "env"):
        request.pop(key, None)
    if isinstance(request.get("headers"), Mapping):
        request["headers"] = scrub_data(request["headers"])
    if isinstance(request.get("url"), str):
        request["url"] = scrub_text(request["url"])


def _scrub_celery_job(extra: dict[str, Any]) -> None:
    job = extra.get("celery-job")
    if isinstance(job, dict):
        # With send_default_pii off Sentry has put "[Filtered]" there already.
        args = job.get("args")
        if isinstance(args, list | tuple):
            job["args"] = [a for a in args if is_message_id(a)]
        if isinstance(job.get("kwargs"), dict):
            job["kwargs"] = {}


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    """Clean one Sentry event or transaction in place and return it."""
    event.pop("user", None)
    if isinstance(event.get("request"), dict):
        _scrub_request(event["request"])
    if isinstance(event.get("exception"), dict):
        _scrub_exception(event["exception"])
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in (thread.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        for key in ("message", "formatted"):
            if isinstance(logentry.get(key), str):
                logentry[key] = scrub_text(logentry[key])
        if "params" in logentry:
            logentry["params"] = scrub_data(logentry["params"])
    if isinstance(event.get("extra"), dict):
        _scrub_celery_job(event["extra"])
        event["extra"] = scrub_data(event["extra"])
    if isinstance(event.get("tags"), dict):
        event["tags"] = scrub_data(event["tags"])
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        for name, context in list(contexts.items()):
            if name not in _SYSTEM_CONTEXTS:
                contexts[name] = scrub_data(context)
    crumbs = event.get("breadcrumbs")
    if isinstance(crumbs, dict) and isinstance(crumbs.get("values"), list):
        crumbs["values"] = [scrub_breadcrumb(c) for c in crumbs["values"]]
    for span in event.get("spans") or []:
        if isinstance(span.get("data"), dict):
            span["data"] = scrub_data(span["data"])
        if isinstance(span.get("description"), str):
            span["description"] = scrub_text(span["description"])
    return event


def scrub_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    """Clean one breadcrumb in place and return it."""
    if isinstance(crumb.get("message"), str):
        crumb["message"] = scrub_text(crumb["message"])
    if isinstance(crumb.get("data"), dict):
        crumb["data"] = scrub_data(crumb["data"])
    return crumb
