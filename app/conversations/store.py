"""The conversation and contact rows: made or touched at intake, read by the steps, and
changed by a handoff, a release, an opt-out or an opt-in. The writes work in the
caller's transaction; the steps' reads (`view`, `is_opted_out`) run alone in autocommit
(`app.db.direct`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from app.db import direct
from app.db.models import Contact, Conversation, utcnow

CONVERSATIONS: sa.Table = Conversation.__table__  # type: ignore[attr-defined]
CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
CONTACT_PREFIX = "contact:"


def conversation_key(*, conversation_id: str | None, contact_id: str) -> str:
    """SPEC 11: `conversation_id`, or the contact when the message carries none."""
    return conversation_id or f"{CONTACT_PREFIX}{contact_id}"


def _insert(session: Session, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT for the session's database (Postgres or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def touch_on_intake(
    session: Session,
    *,
    channel: str,
    conversation_id: str | None,
    contact_id: str,
    message_id: str,
    written_at: dt.datetime,
) -> str:
    """Make the message's conversation or bring it up to date (its latest message and the
    customer's last time) in one upsert; returns the conversation's id. The row lock the
    upsert takes orders concurrent messages of one conversation."""
    now = utcnow()
    insert = _insert(session, CONVERSATIONS).values(
        id=str(uuid.uuid4()),
        channel=channel,
        conversation_key=conversation_key(conversation_id=conversation_id, contact_id=contact_id),
        contact_id=contact_id,
        last_customer_at=written_at,
        latest_message_id=message_id,
        created_at=now,
        updated_at=now,
    )
    later = sa.case(
        (insert.excluded.last_customer_at > CONVERSATIONS.c.last_customer_at,
         insert.excluded.last_customer_at),
        else_=CONVERSATIONS.c.last_customer_at,
    )  # fmt: skip
    upsert = insert.on_conflict_do_update(
        index_elements=["channel", "conversation_key"],
        set_={"latest_message_id": message_id, "last_customer_at": later, "updated_at": now},
    ).returning(CONVERSATIONS.c.id)
    return str(session.execute(upsert).scalar_one())


def find_conversation(
    session: Session, *, channel: str, conversation_id: str
) -> Conversation | None:
    """By the client's conversation id, or by contact id for a conversation keyed by it."""
    for key in (conversation_id, f"{CONTACT_PREFIX}{conversation_id}"):
        found = session.exec(
            select(Conversation).where(
                Conversation.channel == channel, Conversation.conversation_key == key
            )
        ).first()
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class ConversationView:
    """What a step needs to know about a message's conversation, read in one query."""

    id: str
    latest_message_id: str
    last_customer_at: dt.datetime
    handoff_until: dt.datetime | None
    lease_message_id: str | None
    contact_opted_out: bool

    def in_handoff(self, now: dt.datetime) -> bool:
        return self.handoff_until is not None and self.handoff_until > now


_VIEW = (
    sa.select(
        CONVERSATIONS.c.id,
        CONVERSATIONS.c.latest_message_id,
        CONVERSATIONS.c.last_customer_at,
        CONVERSATIONS.c.handoff_until,
        CONVERSATIONS.c.lease_message_id,
        sa.func.coalesce(CONTACTS.c.opted_out, sa.false()).label("contact_opted_out"),
    )
    .select_from(
        CONVERSATIONS.outerjoin(
            CONTACTS,
            sa.and_(
                CONTACTS.c.channel == CONVERSATIONS.c.channel,
                CONTACTS.c.contact_id == CONVERSATIONS.c.contact_id,
            ),
        )
    )
    .where(CONVERSATIONS.c.id == sa.bindparam("id"))
)


def view(conversation_ref: str) -> ConversationView | None:
    row = direct.execute(_VIEW, {"id": conversation_ref}).first()
    if row is None:
        return None
    values = dict(row)
    for name in ("last_customer_at", "handoff_until"):
        if values[name] is not None and values[name].tzinfo is None:
            values[name] = values[name].replace(tzinfo=dt.UTC)
    values["contact_opted_out"] = bool(values["contact_opted_out"])
    return ConversationView(**values)


def set_handoff(session: Session, conversation_ref: str, *, until: dt.datetime | None) -> bool:
    """A person takes over until `until` (None: Keel answers again). True if it exists."""
    result = session.execute(
        sa.update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == conversation_ref)
        .values(handoff_until=until, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_opted_out(session: Session, *, channel: str, contact_id: str, opted_out: bool) -> None:
    """Opt the contact out of (or back into) messages on `channel`."""
    now = utcnow()
    stamp = {"opted_out_at": now} if opted_out else {"opted_in_at": now}
    insert = _insert(session, CONTACTS).values(
        channel=channel, contact_id=contact_id, opted_out=opted_out, updated_at=now, **stamp
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["channel", "contact_id"],
            set_={"opted_out": opted_out, "updated_at": now, **stamp},
        )
    )


_OPTED_OUT = sa.select(CONTACTS.c.opted_out).where(
    CONTACTS.c.channel == sa.bindparam("channel"),
    CONTACTS.c.contact_id == sa.bindparam("contact_id"),
)


def is_opted_out(*, channel: str, contact_id: str) -> bool:
    return bool(direct.execute(_OPTED_OUT, {"channel": channel, "contact_id": contact_id}).scalar())
