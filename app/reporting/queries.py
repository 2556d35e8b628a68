"""The report's aggregates, computed in SQL (GROUP BY) on Postgres and SQLite alike.

JSON detail keys are read with SQLAlchemy's portable JSON operators (`->>` on Postgres,
`json_extract` on SQLite).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app.db.models import AuditEvent, Contact, Message

_detail = col(AuditEvent.detail)


def detail_text(key: str) -> Any:
    """A detail key as text, for GROUP BY and filters."""
    return _detail[key].as_string()


def _since_events(query: Any, since: dt.datetime | None) -> Any:
    return query if since is None else query.where(col(AuditEvent.at) >= since)


def message_counts(session: Session, column: Any, since: dt.datetime | None) -> dict[str, int]:
    """Messages per value of one column (created since `since`)."""
    query = sa.select(column, sa.func.count()).group_by(column)
    if since is not None:
        query = query.where(col(Message.created_at) >= since)
    return {str(k): int(n) for k, n in session.execute(query).all() if k is not None}


def action_counts(session: Session, since: dt.datetime | None) -> dict[str, int]:
    """Audit events per action."""
    action = col(AuditEvent.action)
    query = _since_events(sa.select(action, sa.func.count()).group_by(action), since)
    return {str(a): int(n) for a, n in session.execute(query).all()}


def detail_counts(
    session: Session, action: str, keys: tuple[str, ...], since: dt.datetime | None
) -> dict[tuple[str | None, ...], int]:
    """Events of one action per combination of detail keys."""
    columns = [detail_text(k).label(f"k{i}") for i, k in enumerate(keys)]
    query = (
        sa.select(*columns, sa.func.count())
        .where(col(AuditEvent.action) == action)
        .group_by(*columns)
    )
    rows = session.execute(_since_events(query, since)).all()
    return {tuple(row[:-1]): int(row[-1]) for row in rows}


def opted_out_contacts(session: Session, since: dt.datetime | None) -> int:
    """Contacts opted out now (per channel), those who opted out since `since`."""
    query = sa.select(sa.func.count()).select_from(Contact).where(col(Contact.opted_out))
    if since is not None:
        query = query.where(col(Contact.opted_out_at) >= since)
    return int(session.execute(query).scalar_one())


@dataclass(frozen=True)
class CallGroup:
    """Model calls of one task, tier, provider, model and status, with their sums."""

    task: str
    tier: str
    provider: str
    model: str
    status: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0


def model_call_groups(session: Session, since: dt.datetime | None) -> list[CallGroup]:
    """Every `model_call` event summed per task, tier, provider, model and status."""
    keys = [
        detail_text("keel.task"),
        detail_text("keel.tier"),
        detail_text("gen_ai.provider.name"),
        detail_text("gen_ai.request.model"),
        detail_text("keel.status"),
    ]
    labelled = [k.label(f"k{i}") for i, k in enumerate(keys)]
    query = (
        sa.select(
            *labelled,
            sa.func.count(),
            sa.func.sum(sa.cast(detail_text("gen_ai.usage.input_tokens"), sa.BigInteger)),
            sa.func.sum(sa.cast(detail_text("gen_ai.usage.output_tokens"), sa.BigInteger)),
            sa.func.sum(sa.cast(detail_text("keel.cost_usd"), sa.Numeric(20, 10))),
            sa.func.sum(
                sa.cast(detail_text("gen_ai.usage.cache_creation.input_tokens"), sa.BigInteger)
            ),
            sa.func.sum(
                sa.cast(detail_text("gen_ai.usage.cache_read.input_tokens"), sa.BigInteger)
            ),
        )
        .where(col(AuditEvent.action) == "model_call")
        .group_by(*labelled)
    )
    out = []
    for row in session.execute(_since_events(query, since)).all():
        task, tier, provider, model, status, n, tokens_in, tokens_out, cost, written, read = row
        out.append(
            CallGroup(
                task=str(task),
                tier=str(tier),
                provider=str(provider),
                model=str(model),
                status=str(status),
                calls=int(n),
                input_tokens=int(tokens_in or 0),
                output_tokens=int(tokens_out or 0),
                cost_usd=Decimal(str(cost or 0)),
                cache_write_tokens=int(written or 0),
                cache_read_tokens=int(read or 0),
            )
        )
    return out
