"""What can be wrong with one message's audit chain, as plain functions over its rows.

A chain is intact when its seqs run 1, 2, 3... without a hole, each row names its
predecessor's hash and its own hash matches its content, the first row is the
`received` event, and the message's head (`messages.audit_seq`, `audit_hash`, written
in the same commit as every event) is its last row. With KEEL_AUDIT_KEY, rows after
the key's registration must be keyed: a row rewritten and rehashed with plain SHA-256
is `unkeyed`. Each kind of break is reported once per message, at its first seq.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from app.audit.chain import PLAIN, audit_key, digest, keyed_scheme, stored_body


class Break(StrEnum):
    """A kind of damage to a chain."""

    gap = "gap"  # a seq is missing (deleted rows)
    broken_link = "broken_link"  # prev_hash is not the previous row's hash
    bad_hash = "bad_hash"  # the hash does not match the row's content
    unknown_key = "unknown_key"  # keyed with another key, or no key here to check it
    unkeyed = "unkeyed"  # plain SHA-256 where the key was required
    no_received = "no_received"  # the chain does not start at seq 1 with `received`
    missing_tail = "missing_tail"  # the message's head is past the last row
    head_mismatch = "head_mismatch"  # the head is behind the last row or names another hash
    no_message = "no_message"  # rows of a message that is not in `messages`


@dataclass(frozen=True)
class Finding:
    """One kind of break in a chain, at the first seq it shows (None: the chain as a
    whole)."""

    kind: Break
    seq: int | None = None


def _verdict(event: Any, key: str | None) -> Literal["keyed", "plain"] | Break:
    """How the row's hash checks out: made with the key, plain, or a break."""
    body = stored_body(event)
    stored = str(event.hash)
    scheme = getattr(event, "hash_scheme", None) or PLAIN
    if scheme != PLAIN:
        if key is None or scheme != keyed_scheme(key):
            return Break.unknown_key
        return "keyed" if hmac.compare_digest(digest(body, key), stored) else Break.bad_hash
    if hmac.compare_digest(digest(body, None), stored):
        return "plain"
    # keyed, but its scheme was lost (the 0007 downgrade drops the column)
    if key is not None and hmac.compare_digest(digest(body, key), stored):
        return "keyed"
    return Break.bad_hash


def _after(event: Any, plain_until: int | None) -> bool:
    return plain_until is not None and event.id is not None and event.id > plain_until


def check_events(
    events: Sequence[Any], *, key: str | None, plain_until: int | None = None
) -> list[Finding]:
    """Seqs, links and hashes of one chain's rows in seq order (a row without a message
    is a chain of one). With `key`, a plain row after a keyed one, or with an id above
    `plain_until` (None: no such limit), is `unkeyed`."""
    found: dict[Break, Finding] = {}

    def add(kind: Break, seq: int | None) -> None:
        found.setdefault(kind, Finding(kind, seq))

    expected, prev, keyed_seen = 1, None, False
    for event in events:
        if event.seq != expected:
            add(Break.gap, expected)  # no link to check across a hole
        elif event.prev_hash != prev:
            add(Break.broken_link, event.seq)
        verdict = _verdict(event, key)
        if isinstance(verdict, Break):
            add(verdict, event.seq)
        elif verdict == "keyed":
            keyed_seen = True
        elif key is not None and (keyed_seen or _after(event, plain_until)):
            add(Break.unkeyed, event.seq)
        prev, expected = event.hash, event.seq + 1
    return list(found.values())


def check_message(
    events: Sequence[Any],
    *,
    head: tuple[int | None, str | None] | None,
    key: str | None,
    plain_until: int | None = None,
) -> list[Finding]:
    """Every break of one message's chain: `events` its rows in seq order (maybe none),
    `head` its row's `(audit_seq, audit_hash)`, None when the message row is missing."""
    findings = check_events(events, key=key, plain_until=plain_until)
    first = events[0] if events else None
    if first is None or first.seq != 1 or first.action != "received":
        findings.append(Finding(Break.no_received, 1))
    last = events[-1] if events else None
    if head is None:
        findings.append(Finding(Break.no_message))
    elif head[0] is not None and (last is None or head[0] > last.seq):
        findings.append(Finding(Break.missing_tail, 1 if last is None else last.seq + 1))
    elif last is not None and (head[0] != last.seq or head[1] != last.hash):
        findings.append(Finding(Break.head_mismatch, last.seq))
    return sorted(findings, key=lambda f: (f.seq or 0, list(Break).index(f.kind)))


def verify_chain(events: Sequence[Any], *, key: str | None = None) -> int | None:
    """The seq of the first broken row in one message's ordered rows, or None: seqs,
    links and hashes, keyed rows checked with `key` (default KEEL_AUDIT_KEY)."""
    findings = check_events(events, key=key if key is not None else audit_key())
    seqs = [f.seq for f in findings if f.seq is not None]
    return min(seqs) if seqs else None
